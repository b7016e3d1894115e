"""The enforcement's decision reuse never changes an answer: a reloaded policy set, another
request key or a time condition is decided afresh (a refusal also reads the function's
policy, none here: hence the database)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from awsapi.errors import AWSError
from iam.access import enforce
from iam.access.callers import Caller
from iam.authorization import Scope
from iam.policy import PolicyKind, Principal, parse_policy

ACCOUNT = "123456789012"
SCOPE = Scope("us-east-1", ACCOUNT)
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"

pytestmark = pytest.mark.django_db


def _caller(*statements: dict[str, object]) -> Caller:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    policy = parse_policy(document, PolicyKind.USER_INLINE)
    principal = Principal(f"arn:aws:iam::{ACCOUNT}:user/u", ACCOUNT, "user", "u", "AIDAU")
    return Caller(principal, (policy,), False)


def _check(caller: Caller, ip: str = "10.0.0.1", now: dt.datetime | None = None) -> None:
    conditions = enforce.request_conditions(ip, False, "us-east-1", now)
    enforce.check(caller, "lambda", "Invoke", {"FunctionName": "f"}, SCOPE, conditions)


def test_an_allow_for_one_source_address_is_not_reused_for_another() -> None:
    caller = _caller(
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION,
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        }
    )
    _check(caller, "10.0.0.1")
    _check(caller, "10.0.0.1")
    with pytest.raises(AWSError):
        _check(caller, "192.0.2.1")


def test_a_time_bound_allow_is_decided_at_each_call() -> None:
    caller = _caller(
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION,
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        }
    )
    _check(caller, now=dt.datetime(2029, 12, 31, tzinfo=dt.UTC))
    with pytest.raises(AWSError):
        _check(caller, now=dt.datetime(2030, 1, 2, tzinfo=dt.UTC))


def test_new_policies_for_the_same_caller_are_evaluated_again() -> None:
    allowing = _caller({"Effect": "Allow", "Action": "lambda:*", "Resource": "*"})
    _check(allowing)
    denying = _caller(
        {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"},
    )
    with pytest.raises(AWSError) as refused:
        _check(denying)
    assert refused.value.message.endswith("with an explicit deny in an identity-based policy")


def test_one_accounts_iam_change_keeps_every_other_accounts_cached_policies() -> None:
    from iam.access import callers, resources, revisions

    cache = callers.policies
    mine, theirs = ("111111111111", "user", 1), ("222222222222", "user", 2)
    for key in (mine, theirs):
        cache._entries[key] = callers._Entry(float("inf"), 0, ())
    # A tenant changing its own IAM (as often as it likes) drops only its own entries.
    revisions.bump("222222222222")
    assert cache.fresh(mine) == ()
    assert cache.fresh(theirs) is None

    arn = "arn:aws:lambda:us-east-1:{}:function:f"
    for account in ("111111111111", "222222222222"):
        resources.policies._entries[("lambda:function", account, "f")] = (float("inf"), None)
    resources.changed("222222222222")
    assert resources.policies.get(arn.format("111111111111"), load=False) is None
    with pytest.raises(resources.NotCached):
        resources.policies.get(arn.format("222222222222"), load=False)
