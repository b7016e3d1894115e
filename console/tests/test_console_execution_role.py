"""The configuration tab shows the function's execution role, and says so when the role gives
the function no credentials: it does not exist in the account (a LocalStack/moto script's
placeholder, or the console's default), or its trust policy does not let Lambda assume it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from conftest import make_zip
from functions.services import functions as function_services
from iam import entities, services
from iam.models import Account, User

pytestmark = pytest.mark.django_db
PASSWORD = "pw-1234567890-x"
ACCOUNT = "131313131313"


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
def owner() -> User:
    account = services.account_get_or_create(ACCOUNT)
    return services.user_create(username="owner", account=account, password=PASSWORD, is_admin=True)


def _function(account: Account, name: str, role: str) -> None:
    function_services.function_create(
        account=account,
        name=name,
        params={
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": role,
            "Code": {"ZipFile": base64.b64encode(make_zip()).decode()},
        },
    )


def _page(user: User, name: str) -> str:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    answer = client.get(f"/functions/{name}/")
    assert answer.status_code == 200
    return answer.content.decode()


def test_a_missing_role_is_flagged_on_the_configuration_tab(owner: User) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/functory-console-role"
    _function(owner.account, "no-role", role)
    page = _page(owner, "no-role")
    assert (
        f"The execution role {role} does not exist in this account; the function runs "
        "without credentials."
    ) in page
    assert "data-role-warning" in page


def test_a_role_of_another_account_counts_as_missing(owner: User) -> None:
    other = services.account_get_or_create("242424242424")
    entities.role_create(other, "lambda-role", _trust("lambda.amazonaws.com"))
    _function(owner.account, "elsewhere", "arn:aws:iam::242424242424:role/lambda-role")
    assert "does not exist in this account" in _page(owner, "elsewhere")


def test_a_role_that_does_not_trust_lambda_is_flagged(owner: User) -> None:
    entities.role_create(owner.account, "ec2-only", _trust("ec2.amazonaws.com"))
    _function(owner.account, "untrusted", f"arn:aws:iam::{ACCOUNT}:role/ec2-only")
    page = _page(owner, "untrusted")
    assert "does not trust lambda.amazonaws.com" in page
    assert "runs without credentials" in page


def test_a_role_lambda_can_assume_is_shown_without_a_warning(owner: User) -> None:
    entities.role_create(owner.account, "fn-role", _trust("lambda.amazonaws.com"))
    role = f"arn:aws:iam::{ACCOUNT}:role/fn-role"
    _function(owner.account, "good", role)
    page = _page(owner, "good")
    assert f"<code data-role>{role}</code>" in page
    assert "data-role-warning" not in page


def test_with_strict_roles_the_create_page_shows_the_refusal_next_to_the_role(
    owner: User, settings: Any
) -> None:
    settings.FUNCTORY_STRICT_EXECUTION_ROLES = True
    client = Client()
    assert client.login(username=owner.username, password=PASSWORD)
    answer = client.post(
        "/_console/functions",
        {"name": "strict", "source": "blueprint", "blueprint": "hello-python"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "InvalidParameterValueException",
        "message": "The role defined for the function cannot be assumed by Lambda.",
        "field": "role",
    }
    entities.role_create(owner.account, "functory-console-role", _trust("lambda.amazonaws.com"))
    answer = client.post(
        "/_console/functions",
        {"name": "strict", "source": "blueprint", "blueprint": "hello-python"},
    )
    assert answer.status_code == 201, answer.content
    assert "data-role-warning" not in _page(owner, "strict")
