"""The policy-evaluation table (``policy_table.py``): every case, with AWS's answer."""

from __future__ import annotations

import json

import pytest

from iam.policy import PolicyKind, RequestContext, evaluate, managed_policy, parse_policy
from iam.policy.evaluate import Reason
from iam.tests.policy_table import (
    ALICE,
    CASES,
    CONDITIONS,
    FN,
    MISSING,
    Case,
    allow,
    doc,
)

_OUTCOME = {
    Reason.IDENTITY_ALLOW: "allow",
    Reason.RESOURCE_ALLOW: "allow",
    Reason.ROOT: "allow",
    Reason.EXPLICIT_DENY_IDENTITY: "deny",
    Reason.EXPLICIT_DENY_RESOURCE: "deny",
    Reason.NO_IDENTITY_ALLOW: "implicit",
    Reason.NO_RESOURCE_ALLOW: "implicit",
}


def _condition_case(row: tuple) -> Case:
    name, operator, key, values, request, holds = row
    keys = {} if request is MISSING else {key: request}
    statement = allow("lambda:InvokeFunction", FN, Condition={operator: {key: values}})
    return Case(
        f"condition-{name}", "allow" if holds else "implicit", identity=[doc(statement)], keys=keys
    )


ALL_CASES = CASES + [_condition_case(row) for row in CONDITIONS]


def _decide(case: Case) -> str:
    identity = [parse_policy(json.dumps(d), PolicyKind.ROLE_INLINE) for d in case.identity]
    for name in case.managed:
        path = "service-role/" if name in ("AWSLambdaBasicExecutionRole", "AWSLambdaRole") else ""
        policy = managed_policy(f"arn:aws:iam::aws:policy/{path}{name}")
        assert policy is not None, name
        identity.append(policy)
    resource_policy = None
    if case.resource_policy is not None:
        kind = PolicyKind.TRUST if case.action.startswith("sts:") else PolicyKind.RESOURCE
        resource_policy = parse_policy(json.dumps(case.resource_policy), kind)
    context = RequestContext(case.principal, case.action, case.resource, case.keys)
    decision = evaluate(context, identity, resource_policy, case.resource_account)
    assert decision.allowed == (_OUTCOME[decision.reason] == "allow")
    return _OUTCOME[decision.reason]


def test_the_table_has_at_least_two_hundred_named_cases():
    names = [case.name for case in ALL_CASES]
    assert len(names) >= 200
    assert len(names) == len(set(names)), "case names are unique"


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_policy_evaluation(case: Case):
    assert _decide(case) == case.expect


def test_it_names_the_statement_that_decided():
    policy = parse_policy(
        json.dumps(
            doc({**allow(), "Sid": "Everything"}, {**allow(), "Effect": "Deny", "Sid": "NoInvoke"})
        )
    )
    decision = evaluate(RequestContext(ALICE, "lambda:InvokeFunction", FN), [policy])
    assert decision.reason is Reason.EXPLICIT_DENY_IDENTITY
    assert decision.statement is not None and decision.statement.sid == "NoInvoke"
    assert decision.policy is policy
