"""What a decision says: AccessDeniedException's message in AWS's words, and which policy
and statement decided."""

from __future__ import annotations

import json

from iam.policy import PolicyKind, Reason, RequestContext, evaluate, parse_policy
from iam.tests.policy_table import ALICE, BOB, EVENTS, FN, SESSION_A, allow, deny, doc, grant

USER = "User: arn:aws:iam::111111111111:user/alice is not authorized to perform:"


def _policy(document: dict, kind: PolicyKind = PolicyKind.ROLE_INLINE, source: str = ""):
    return parse_policy(json.dumps(document), kind, source=source)


def test_no_identity_allow_message():
    context = RequestContext(ALICE, "lambda:CreateFunction", FN)
    decision = evaluate(context, [])
    assert decision.reason is Reason.NO_IDENTITY_ALLOW
    assert decision.eval_decision == "implicitDeny"
    assert decision.message(context) == (
        f"{USER} lambda:CreateFunction on resource: {FN} because no identity-based policy "
        "allows the lambda:CreateFunction action"
    )


def test_explicit_identity_deny_message_and_deciding_statement():
    denying = _policy(doc(allow(), {**deny("lambda:Delete*"), "Sid": "NoDeletes"}), source="p1")
    context = RequestContext(ALICE, "lambda:DeleteFunction", FN)
    decision = evaluate(context, [denying])
    assert decision.message(context) == (
        f"{USER} lambda:DeleteFunction on resource: {FN} with an explicit deny in an "
        "identity-based policy"
    )
    assert decision.policy is not None and decision.policy.source == "p1"
    assert decision.statement is not None and decision.statement.sid == "NoDeletes"
    assert decision.eval_decision == "explicitDeny"


def test_explicit_resource_deny_message():
    resource = _policy(
        doc({"Effect": "Deny", "Principal": "*", "Action": "lambda:*", "Resource": FN}),
        PolicyKind.RESOURCE,
    )
    context = RequestContext(ALICE, "lambda:InvokeFunction", FN)
    decision = evaluate(context, [_policy(doc(allow()))], resource)
    assert decision.reason is Reason.EXPLICIT_DENY_RESOURCE
    assert decision.message(context).endswith("with an explicit deny in a resource-based policy")


def test_cross_account_without_resource_policy_message_names_the_resource_side():
    context = RequestContext(BOB, "lambda:InvokeFunction", FN)
    decision = evaluate(context, [_policy(doc(allow()))], None, "111111111111")
    assert decision.message(context) == (
        "User: arn:aws:iam::222222222222:user/bob is not authorized to perform: "
        f"lambda:InvokeFunction on resource: {FN} because no resource-based policy allows "
        "the lambda:InvokeFunction action"
    )


def test_a_role_session_is_named_by_its_assumed_role_arn():
    context = RequestContext(SESSION_A, "lambda:InvokeFunction", FN)
    assert (
        evaluate(context)
        .message(context)
        .startswith(
            "User: arn:aws:sts::111111111111:assumed-role/app-role/my-function is not authorized"
        )
    )


def test_allow_reports_the_allowing_statement():
    resource = _policy(
        doc({**grant({"Service": "events.amazonaws.com"}), "Sid": "events-rule"}),
        PolicyKind.RESOURCE,
    )
    decision = evaluate(RequestContext(EVENTS, "lambda:InvokeFunction", FN), [], resource)
    assert decision.allowed and decision.reason is Reason.RESOURCE_ALLOW
    assert decision.eval_decision == "allowed"
    assert decision.statement is not None and decision.statement.sid == "events-rule"


def test_patterns_without_variables_are_compiled_once_at_parse_time():
    policy = _policy(doc(allow(resource=[FN, "arn:aws:lambda:*:*:function:${aws:username}"])))
    static, dynamic = policy.statements[0].resources or ()
    assert static.static is not None
    assert dynamic.static is None  # resolved per request, compiled patterns shared by a cache
