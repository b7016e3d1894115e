"""The configuration and versions tabs' endpoints as DRF views: a value of the wrong type is
refused next to its form control, a caller without a session gets the error shape, an
unsafe call without the CSRF token changes nothing, and methods the pages never used stay
refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from conftest import ROLE, make_zip
from console.pages._forms import field_of
from functions import selectors
from functions.models import Function
from functions.services import aliases as alias_services
from functions.services import functions as function_services
from iam import services
from iam.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "pw-1234567890-x"
FN = "/functions/fn"


@pytest.fixture
def owner() -> User:
    account = services.account_get_or_create("111111111111")
    return services.user_create(username="owner", account=account, password=PASSWORD, is_admin=True)


@pytest.fixture
def function(owner: User) -> Function:
    function_services.function_create(
        account=owner.account,
        name="fn",
        params={
            "FunctionName": "fn",
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": base64.b64encode(make_zip()).decode()},
        },
    )
    return selectors.function_get_for_account(owner.account, "fn")


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/configuration/general", {"MemorySize": "lots"}, "memorySize"),
        ("/configuration/general", {"Timeout": 1.5}, "timeout"),
        ("/configuration/general", {"EphemeralStorage": [512]}, "ephemeralStorage.size"),
        ("/configuration/environment", {"Variables": ["GREETING"]}, "environment.variables"),
        ("/configuration/tags", {"Tags": "team"}, "tags"),
        ("/configuration/policy", {"StatementId": "s", "Principal": {"a": 1}}, "principal"),
        (
            "/configuration/concurrency",
            {"ReservedConcurrentExecutions": "five"},
            "reservedConcurrentExecutions",
        ),
        ("/configuration/layers", {"Layers": "arn:aws:lambda:x"}, "layers"),
        ("/configuration/async", {"MaximumRetryAttempts": True}, "maximumRetryAttempts"),
        (
            "/configuration/async",
            {"OnFailure": {"Destination": "x"}},
            "destinationConfig.onFailure.destination",
        ),
        ("/versions/publish", {"Description": ["first"]}, "description"),
        ("/aliases", {"Name": ["live"], "FunctionVersion": "$LATEST"}, "name"),
        (
            "/aliases",
            {"Name": "live", "FunctionVersion": "$LATEST", "AdditionalWeight": "half"},
            "routingConfig",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_next_to_its_control(
    owner: User, function: Function, url: str, body: dict[str, Any], field: str
) -> None:
    answer = _post(_client(owner), FN + url, body)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("InvalidParameterValueException", field)
    function.refresh_from_db()
    assert function.tags == {} and function.reserved_concurrency is None
    assert not function.aliases.exists() and not function.statements.exists()
    assert not function.versions.exclude(number=0).exists()
    assert not function.event_invoke_configs.exists()
    assert selectors.latest_version(function).memory_size == 128


def test_an_unchanged_latest_publishes_nothing_and_answers_the_newest_version(
    owner: User, function: Function
) -> None:
    client = _client(owner)
    first = _post(client, FN + "/versions/publish", {"Description": "one"})
    assert (first.status_code, first.json()["Version"]) == (201, "1")
    again = _post(client, FN + "/versions/publish", {})
    assert (again.status_code, again.json()["Version"]) == (201, "1")
    assert function.versions.exclude(number=0).count() == 1


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/configuration/general"),
        ("post", "/configuration/async"),
        ("delete", "/configuration/policy/s"),
        ("post", "/versions/publish"),
        ("post", "/aliases"),
        ("delete", "/aliases/live"),
    ],
)
def test_a_caller_without_a_session_gets_a_401_in_the_error_shape(
    function: Function, method: str, url: str
) -> None:
    answer = getattr(Client(), method)(FN + url, "{}", content_type="application/json")
    assert answer.status_code == 401
    assert answer.json() == {
        "error": {"code": "NotAuthenticated", "message": "Sign in first.", "field": None}
    }


def test_an_alias_is_neither_changed_nor_deleted_without_the_csrf_token(
    owner: User, function: Function
) -> None:
    alias_services.alias_create(
        function=function, params={"Name": "live", "FunctionVersion": "$LATEST"}
    )
    client = _client(owner, csrf=True)
    changed = _post(client, FN + "/aliases/live", {"Description": "changed"})
    assert changed.status_code == 403
    assert client.delete(FN + "/aliases/live").status_code == 403
    assert client.delete(FN + "/configuration/policy/s").status_code == 403
    assert function.aliases.get(name="live").description == ""


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/configuration/general"),
        ("put", "/configuration/environment"),
        ("get", "/configuration/policy"),
        ("post", "/configuration/policy/s"),
        ("delete", "/configuration/concurrency"),
        ("get", "/versions/publish"),
        ("get", "/aliases"),
        ("put", "/aliases/live"),
    ],
)
def test_methods_the_pages_never_used_are_refused(
    owner: User, function: Function, method: str, url: str
) -> None:
    answer = getattr(_client(owner), method)(FN + url)
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "MethodNotAllowed"


def test_a_member_path_keeps_its_dots_when_list_indexes_are_dropped() -> None:
    message = "Value '' at 'sourceAccessConfigurations.1.member.uRI' failed to satisfy constraint"
    assert field_of(message) == "sourceAccessConfigurations.uRI"
    assert field_of("Value 'x' at 'layers.2.member' failed to satisfy constraint") == "layers"
