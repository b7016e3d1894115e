"""Whether another account may use a layer version, decided by IAM's evaluation of the
version's policy (lambda:GetLayerVersion by the caller): what AddLayerVersionPermission
writes, and statements it never writes but a policy may hold (a Deny, several principals, a
condition that holds, another action or version)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from awsapi.errors import AccessDenied
from conftest import make_zip
from functions import arns
from functions.models import LayerVersion, LayerVersionStatement
from functions.services import layers
from iam.models import Account

pytestmark = pytest.mark.django_db

OWNER, OTHER, THIRD = "111111111111", "222222222222", "333333333333"


@pytest.fixture
def accounts() -> dict[str, Account]:
    return {i: Account.objects.create(id=i) for i in (OWNER, OTHER, THIRD)}


@pytest.fixture
def version(accounts: dict[str, Account]) -> LayerVersion:
    return layers.layer_version_publish(
        account=accounts[OWNER],
        layer_name="lib",
        params={"Content": {"ZipFile": base64.b64encode(make_zip()).decode()}},
    )


def arn(number: int = 1) -> str:
    return arns.layer_version_arn(OWNER, "lib", number)


def may_use(account: Account, number: int = 1) -> bool:
    try:
        layers.layer_version_get_by_arn(account, arn(number))
    except AccessDenied:
        return False
    return True


def may_attach(account: Account) -> bool:
    try:
        layers.resolve_for_function(account, [arn()])
    except AccessDenied:
        return False
    return True


def store(version: LayerVersion, sid: str, **statement: Any) -> None:
    body = {"Sid": sid, "Effect": "Allow", "Action": "lambda:GetLayerVersion", "Resource": arn()}
    LayerVersionStatement.objects.create(
        layer_version=version, sid=sid, statement={**body, **statement}
    )


def share(accounts: dict[str, Account], principal: str, sid: str = "s", **params: Any) -> None:
    layers.layer_permission_add(
        account=accounts[OWNER],
        layer_name="lib",
        number=1,
        params={
            "StatementId": sid,
            "Action": "lambda:GetLayerVersion",
            "Principal": principal,
            **params,
        },
    )


def test_an_unshared_version_is_the_owner_s_only(
    accounts: dict[str, Account], version: LayerVersion
) -> None:
    assert may_use(accounts[OWNER])
    assert not may_use(accounts[OTHER])
    assert not may_attach(accounts[OTHER])


def test_a_version_shared_with_an_account_is_that_account_s_to_use(
    accounts: dict[str, Account], version: LayerVersion
) -> None:
    share(accounts, OTHER)
    assert may_use(accounts[OTHER])
    assert may_attach(accounts[OTHER])
    # Any of its callers: a user, a role's session.
    for caller in (f"arn:aws:iam::{OTHER}:user/ann", f"arn:aws:sts::{OTHER}:assumed-role/r/s"):
        assert layers.layer_version_get_by_arn(accounts[OTHER], arn(), principal=caller)
    assert not may_use(accounts[THIRD])
    assert not may_attach(accounts[THIRD])


def test_a_version_shared_within_an_organization_is_nobody_s_here(
    accounts: dict[str, Account], version: LayerVersion
) -> None:
    share(accounts, "*", "org", OrganizationId="o-abcdefghij")
    assert not may_use(accounts[OTHER])
    share(accounts, "*", "public")
    assert may_use(accounts[OTHER])
    assert may_use(accounts[THIRD])


def test_a_deny_for_an_account_wins_over_a_public_grant(
    accounts: dict[str, Account], version: LayerVersion
) -> None:
    store(version, "everyone", Principal="*")
    store(version, "not-other", Principal={"AWS": OTHER}, Effect="Deny")
    assert not may_use(accounts[OTHER])
    assert not may_attach(accounts[OTHER])
    assert may_use(accounts[THIRD])


def test_one_statement_may_name_several_accounts(
    accounts: dict[str, Account], version: LayerVersion
) -> None:
    store(version, "two", Principal={"AWS": [f"arn:aws:iam::{OTHER}:root", THIRD]})
    assert may_use(accounts[OTHER])
    assert may_use(accounts[THIRD])


def test_a_condition_that_holds_grants(accounts: dict[str, Account], version: LayerVersion) -> None:
    store(
        version,
        "by-account",
        Principal="*",
        Condition={"StringEquals": {"aws:PrincipalAccount": THIRD}},
    )
    assert may_use(accounts[THIRD])
    assert not may_use(accounts[OTHER])


def test_a_statement_for_another_action_or_version_grants_nothing(
    accounts: dict[str, Account], version: LayerVersion
) -> None:
    store(version, "list", Principal="*", Action="lambda:ListLayerVersions")
    store(version, "v2", Principal="*", Resource=arn(2))
    assert not may_use(accounts[OTHER])
    assert not may_attach(accounts[OTHER])
