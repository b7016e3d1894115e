"""Functions' execution roles in process: which roles Lambda may assume (the trust policy
evaluated for the service principal ``lambda.amazonaws.com``), the sessions it gets (no
user, the role's ARN named after the function), how SigV4 and STS treat them, and the
removal of expired credentials."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone

from awsapi.errors import AWSError
from iam import authentication, entities, services, sts
from iam.models import Account, Role, TemporaryCredential
from iam.tasks import temporary_credentials_expire

pytestmark = pytest.mark.django_db
ACCOUNT = "101010101010"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn"


def _trust(service: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def account() -> Account:
    return services.account_get_or_create(ACCOUNT)


def _role(account: Account, name: str, trust: str) -> Role:
    return entities.role_create(account, name, trust)


def test_a_role_trusting_lambda_is_usable(account: Account) -> None:
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    check = sts.execution_role_check(ACCOUNT, role.arn, FUNCTION_ARN)
    assert (check.role, check.problem, check.usable) == (role, "", True)


def test_a_role_that_does_not_exist_is_missing(account: Account) -> None:
    check = sts.execution_role_check(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/lambda-role")
    assert (check.role, check.problem) == (None, sts.ExecutionRole.MISSING)
    assert sts.execution_role_check(ACCOUNT, "not-an-arn").problem == sts.ExecutionRole.MISSING


def test_a_role_of_another_account_or_another_path_is_missing(account: Account) -> None:
    other = services.account_get_or_create("202020202020")
    role = _role(other, "fn-role", _trust("lambda.amazonaws.com"))
    assert sts.execution_role_check(ACCOUNT, role.arn).problem == sts.ExecutionRole.MISSING
    _role(account, "mine", _trust("lambda.amazonaws.com"))
    moved = f"arn:aws:iam::{ACCOUNT}:role/service-role/mine"
    assert sts.execution_role_check(ACCOUNT, moved).problem == sts.ExecutionRole.MISSING


def test_a_role_trusting_another_service_is_untrusted(account: Account) -> None:
    role = _role(account, "ec2", _trust("ec2.amazonaws.com"))
    check = sts.execution_role_check(ACCOUNT, role.arn, FUNCTION_ARN)
    assert (check.role, check.problem, check.usable) == (role, sts.ExecutionRole.UNTRUSTED, False)


def test_the_trust_policys_source_conditions_see_the_function(account: Account) -> None:
    mine = _role(
        account,
        "scoped",
        _trust(
            "lambda.amazonaws.com",
            {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:lambda:*:{ACCOUNT}:function:fn*"},
            },
        ),
    )
    assert sts.execution_role_check(ACCOUNT, mine.arn, FUNCTION_ARN).usable
    elsewhere = FUNCTION_ARN.replace(":fn", ":other")
    assert not sts.execution_role_check(ACCOUNT, mine.arn, elsewhere).usable


def test_a_deny_for_lambda_in_the_trust_policy_wins(account: Account) -> None:
    trust = json.loads(_trust("lambda.amazonaws.com"))
    trust["Statement"].append({**trust["Statement"][0], "Effect": "Deny"})
    role = _role(account, "denied", json.dumps(trust))
    assert sts.execution_role_check(ACCOUNT, role.arn).problem == sts.ExecutionRole.UNTRUSTED


def test_an_execution_session_is_the_roles_named_after_the_function(account: Account) -> None:
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    issued = sts.execution_role_issue(role, "my-function", 3600)
    credential = TemporaryCredential.objects.get(pk=issued.credential.pk)
    assert credential.user is None
    assert credential.access_key_id.startswith("ASIA")
    assert credential.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/my-function"
    assert credential.caller_id == f"{role.role_id}:my-function"
    lifetime = credential.expiration - timezone.now()
    assert dt.timedelta(seconds=3590) < lifetime <= dt.timedelta(seconds=3600)


def test_sigv4_accepts_an_execution_session_and_acts_in_the_roles_account(
    account: Account,
) -> None:
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    issued = sts.execution_role_issue(role, "fn", 3600)
    request = RequestFactory().post("/", headers={"X-Amz-Security-Token": issued.session_token})
    found = authentication._lookup(request)(issued.credential.access_key_id)
    assert isinstance(found, TemporaryCredential)
    assert authentication.credential_account_id(found) == ACCOUNT
    caller = sts.Caller(None, is_admin=False, session=found)
    assert sts.caller_identity(caller) == {
        "UserId": f"{role.role_id}:fn",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/fn",
    }


def test_an_execution_session_may_assume_a_role_that_trusts_its_role(account: Account) -> None:
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    target = _role(
        account,
        "deployer",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": role.arn},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    session = sts.execution_role_issue(role, "fn", 3600).credential
    caller = sts.Caller(None, is_admin=False, session=session)
    chained = sts.role_assume(caller, target.arn, "chained", 900).credential
    assert chained.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/chained"
    assert chained.user is None


def test_removing_the_role_removes_its_execution_sessions(account: Account) -> None:
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    issued = sts.execution_role_issue(role, "fn", 3600)
    role.delete()
    assert not TemporaryCredential.objects.filter(pk=issued.credential.pk).exists()


def test_the_periodic_task_removes_only_expired_credentials(account: Account) -> None:
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    user = services.user_create(username="someone", account=account)
    expired = [
        sts.execution_role_issue(role, "old", 3600).credential.pk,
        sts.session_token_get(sts.Caller(user, False, None), 900).credential.pk,
    ]
    live = sts.execution_role_issue(role, "new", 3600).credential.pk
    TemporaryCredential.objects.filter(pk__in=expired).update(
        expiration=timezone.now() - dt.timedelta(seconds=1)
    )
    assert temporary_credentials_expire() == 2
    assert list(TemporaryCredential.objects.values_list("pk", flat=True)) == [live]
    assert temporary_credentials_expire() == 0


def test_lambdas_sessions_are_not_bounded_but_chaining_from_them_is(
    account: Account, monkeypatch: Any
) -> None:
    monkeypatch.setattr(sts, "MAX_LIVE_SESSIONS", 2)
    role = _role(account, "fn-role", _trust("lambda.amazonaws.com"))
    sessions = [sts.execution_role_issue(role, f"fn-{n}", 3600).credential for n in range(3)]
    target = _role(
        account,
        "target",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": role.arn}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    caller = sts.Caller(None, is_admin=False, session=sessions[0])
    for _ in range(2):
        sts.role_assume(caller, target.arn, "loop", 900)
    with pytest.raises(AWSError) as exc:
        sts.role_assume(caller, target.arn, "loop", 900)
    assert (exc.value.code, exc.value.message) == ("Throttling", "Rate exceeded")
