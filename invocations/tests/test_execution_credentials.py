"""The process's execution-role sessions (``invocations.credentials``): new environments of
a function share one session while it is fresh (no row written per cold start), get a new
one past half its lifetime, none for a role Lambda cannot assume, and notice a role that
changed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from iam import entities, services
from iam.models import Account, Role, TemporaryCredential
from invocations import credentials
from invocations.credentials import ExecutionCredentials
from invocations.executor.spec import Credentials, EnvironmentSpec

pytestmark = pytest.mark.django_db(transaction=True)
ACCOUNT = "303030303030"


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.fixture
def account() -> Account:
    return services.account_get_or_create(ACCOUNT)


def _spec(role: str, name: str = "fn") -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        function_name=name,
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=128,
        timeout_s=3,
        code_dir="/nonexistent",
        layers_dir=None,
        account_id=ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
    )


def _get(cache: ExecutionCredentials, spec: EnvironmentSpec) -> Credentials | None:
    return asyncio.run(cache.for_spec(spec))


def test_new_environments_share_the_functions_session(account: Account) -> None:
    entities.role_create(account, "fn-role", _trust("lambda.amazonaws.com"))
    cache = ExecutionCredentials()
    first = _get(cache, _spec("fn-role"))
    assert first is not None and first.access_key_id.startswith("ASIA")
    assert _get(cache, _spec("fn-role")) == first
    [row] = TemporaryCredential.objects.all()
    assert row.access_key_id == first.access_key_id
    assert row.session_name == "fn" and row.user_id is None
    other = _get(cache, _spec("fn-role", name="other"))
    assert other is not None and other.access_key_id != first.access_key_id


def test_concurrent_cold_starts_issue_one_session(account: Account) -> None:
    entities.role_create(account, "fn-role", _trust("lambda.amazonaws.com"))
    cache = ExecutionCredentials()

    async def starts() -> list[Credentials | None]:
        return await asyncio.gather(*(cache.for_spec(_spec("fn-role")) for _ in range(5)))

    assert len({c.access_key_id for c in asyncio.run(starts()) if c is not None}) == 1
    assert TemporaryCredential.objects.count() == 1


def test_a_session_past_half_its_lifetime_is_replaced(account: Account, settings: Any) -> None:
    settings.FUNCTORY_EXECUTION_CREDENTIALS_SECONDS = 3600
    entities.role_create(account, "fn-role", _trust("lambda.amazonaws.com"))
    cache = ExecutionCredentials()
    first = _get(cache, _spec("fn-role"))
    assert first is not None
    assert first.expires_at == pytest.approx(time.time() + 3600, abs=5)
    key = (ACCOUNT, "fn", f"arn:aws:iam::{ACCOUNT}:role/fn-role")
    entry = cache._entries[key]
    aged = Credentials(
        first.access_key_id,
        first.secret_access_key,
        first.session_token,
        time.time() + 1700,  # under half of the hour left
    )
    cache._entries[key] = credentials._Entry(aged, entry.role_pk, entry.checked)
    second = _get(cache, _spec("fn-role"))
    assert second is not None and second.access_key_id != first.access_key_id


def test_roles_lambda_cannot_assume_give_nothing(account: Account) -> None:
    entities.role_create(account, "ec2-role", _trust("ec2.amazonaws.com"))
    cache = ExecutionCredentials()
    assert _get(cache, _spec("lambda-role")) is None
    assert _get(cache, _spec("ec2-role")) is None
    assert _get(cache, dataclasses.replace(_spec("x"), role_arn="")) is None
    assert not TemporaryCredential.objects.exists()


def test_a_role_created_or_deleted_later_is_noticed(account: Account) -> None:
    cache = ExecutionCredentials()
    assert _get(cache, _spec("late")) is None
    role = entities.role_create(account, "late", _trust("lambda.amazonaws.com"))
    cache.clear()  # as a Role saved in this process does (another's: within the recheck)
    given = _get(cache, _spec("late"))
    assert given is not None
    Role.objects.filter(pk=role.pk).delete()
    cache.clear()
    assert _get(cache, _spec("late")) is None
    assert not TemporaryCredential.objects.filter(expiration__gt=timezone.now()).exists()


def test_a_recheck_sees_a_session_removed_elsewhere(account: Account, monkeypatch: Any) -> None:
    entities.role_create(account, "fn-role", _trust("lambda.amazonaws.com"))
    cache = ExecutionCredentials()
    first = _get(cache, _spec("fn-role"))
    assert first is not None
    TemporaryCredential.objects.all().delete()  # an operator, or another process's beat
    monkeypatch.setattr(credentials, "ROLE_RECHECK_SECONDS", 0.0)
    second = _get(cache, _spec("fn-role"))
    assert second is not None and second.access_key_id != first.access_key_id


def test_what_was_known_holds_when_a_recheck_cannot_read_the_database(
    account: Account, monkeypatch: Any
) -> None:
    entities.role_create(account, "fn-role", _trust("lambda.amazonaws.com"))
    cache = ExecutionCredentials()
    first = _get(cache, _spec("fn-role"))
    assert _get(cache, _spec("missing")) is None
    monkeypatch.setattr(credentials, "ROLE_RECHECK_SECONDS", 0.0)

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the database is gone")

    monkeypatch.setattr(credentials.sts, "execution_role_check", unreachable)
    assert _get(cache, _spec("fn-role")) == first
    assert _get(cache, _spec("missing")) is None
    with pytest.raises(OperationalError):  # nothing known: the cold start fails
        _get(cache, _spec("fn-role", name="never-seen"))
