"""The console's Function URL endpoints: URLs made, changed and deleted through the API's
services with the API's words for bad values; a NONE URL's public-access statements added
and removed with it (and only then); another account's function is a 404; a change without
the CSRF token or a session is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from conftest import ROLE, make_zip
from functions import selectors
from functions.models import Function, FunctionUrlConfig, PolicyStatement
from functions.services import aliases as alias_services
from functions.services import functions as function_services
from functions.services import policies as policy_services
from iam import services
from iam.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "pw-1234567890-x"
URLS = "/functions/fn/configuration/urls"
PUBLIC_URL = {
    "Sid": "FunctionURLAllowPublicAccess",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "lambda:InvokeFunctionUrl",
    "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
}
PUBLIC_INVOKE = {
    "Sid": "FunctionURLInvokeAllowPublicAccess",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "lambda:InvokeFunction",
    "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
}
CORS = {
    "AllowOrigins": ["https://app.example.com"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["content-type"],
    "ExposeHeaders": ["x-request-id"],
    "MaxAge": 300,
    "AllowCredentials": True,
}


def _user(account_id: str, username: str) -> User:
    account = services.account_get_or_create(account_id)
    return services.user_create(
        username=username, account=account, password=PASSWORD, is_admin=True
    )


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _function(user: User, name: str = "fn") -> Function:
    zipped = base64.b64encode(make_zip()).decode()
    function_services.function_create(
        account=user.account,
        name=name,
        params={
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": zipped},
        },
    )
    return selectors.function_get_for_account(user.account, name)


def _send(client: Client, method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json")


def _statements(function: Function, qualifier: str = "") -> list[dict[str, Any]]:
    rows = PolicyStatement.objects.filter(function=function, qualifier=qualifier)
    return [{k: v for k, v in row.statement.items() if k != "Resource"} for row in rows]


@pytest.fixture
def owner() -> User:
    return _user("111111111111", "owner")


@pytest.fixture
def stranger() -> User:
    return _user("222222222222", "stranger")


def test_a_none_url_with_cors_is_created_with_its_public_access_statements(owner: User) -> None:
    function = _function(owner)
    answer = _send(
        _client(owner),
        "post",
        URLS,
        {"Qualifier": "$LATEST", "AuthType": "NONE", "InvokeMode": "BUFFERED", "Cors": CORS},
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    config = FunctionUrlConfig.objects.get(function=function)
    assert (config.qualifier, config.auth_type, config.cors) == ("$LATEST", "NONE", CORS)
    [url] = body["Urls"]
    assert url["FunctionUrl"] == f"http://testserver/lambda-url/{config.url_id}/"
    assert url["Qualifier"] == "$LATEST"
    assert url["FunctionArn"].endswith(":function:fn")
    assert url["Cors"] == CORS
    assert body["PolicyChanges"] == [
        {
            "Sid": "FunctionURLAllowPublicAccess",
            "Action": "lambda:InvokeFunctionUrl",
            "Added": True,
        },
        {
            "Sid": "FunctionURLInvokeAllowPublicAccess",
            "Action": "lambda:InvokeFunction",
            "Added": True,
        },
    ]
    assert _statements(function) == [PUBLIC_URL, PUBLIC_INVOKE]
    assert [s["Sid"] for s in body["Policy"]["Statement"]] == [
        PUBLIC_URL["Sid"],
        PUBLIC_INVOKE["Sid"],
    ]
    assert body["Policy"]["Statement"][0]["Resource"] == url["FunctionArn"]


def test_an_aws_iam_url_adds_no_statement(owner: User) -> None:
    function = _function(owner)
    answer = _send(_client(owner), "post", URLS, {"AuthType": "AWS_IAM"})
    assert answer.status_code == 201, answer.content
    assert answer.json()["PolicyChanges"] == []
    assert answer.json()["Urls"][0]["InvokeMode"] == "BUFFERED"
    assert _statements(function) == []


def test_switching_to_aws_iam_removes_the_statements_and_back_to_none_adds_them(
    owner: User,
) -> None:
    function = _function(owner)
    client = _client(owner)
    _send(client, "post", URLS, {"AuthType": "NONE"})
    answer = _send(client, "put", f"{URLS}/$LATEST", {"AuthType": "AWS_IAM", "Cors": CORS})
    assert answer.status_code == 200, answer.content
    assert [c["Added"] for c in answer.json()["PolicyChanges"]] == [False, False]
    assert _statements(function) == []
    assert FunctionUrlConfig.objects.get(function=function).cors == CORS

    answer = _send(client, "put", f"{URLS}/%24LATEST", {"AuthType": "NONE"})
    assert [c["Added"] for c in answer.json()["PolicyChanges"]] == [True, True]
    assert _statements(function) == [PUBLIC_URL, PUBLIC_INVOKE]
    # Without Cors the update keeps it; a Cors given replaces the whole structure, as
    # UpdateFunctionUrlConfig's does, and an empty one clears it.
    assert FunctionUrlConfig.objects.get(function=function).cors == CORS
    answer = _send(client, "put", f"{URLS}/$LATEST", {"AuthType": "NONE", "Cors": {"MaxAge": 5}})
    assert answer.json()["PolicyChanges"] == []
    assert FunctionUrlConfig.objects.get(function=function).cors == {"MaxAge": 5}
    _send(client, "put", f"{URLS}/$LATEST", {"AuthType": "NONE", "Cors": {}})
    assert FunctionUrlConfig.objects.get(function=function).cors == {}


def test_a_save_that_keeps_the_auth_type_leaves_the_owners_policy_alone(owner: User) -> None:
    function = _function(owner)
    client = _client(owner)
    _send(client, "post", URLS, {"AuthType": "NONE"})
    # The owner took the second statement away on purpose; saving CORS does not put it back.
    PolicyStatement.objects.filter(sid=PUBLIC_INVOKE["Sid"]).delete()
    answer = _send(client, "put", f"{URLS}/$LATEST", {"AuthType": "NONE", "Cors": CORS})
    assert answer.status_code == 200
    assert answer.json()["PolicyChanges"] == []
    assert _statements(function) == [PUBLIC_URL]


def test_deleting_a_none_url_removes_only_the_public_access_statements(owner: User) -> None:
    function = _function(owner)
    client = _client(owner)
    _send(client, "post", URLS, {"AuthType": "NONE"})
    resolved = selectors.function_resolve(owner.account, "fn", follow_alias=False)
    own = {
        "StatementId": "partner",
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "333333333333",
        "FunctionUrlAuthType": "NONE",
    }
    policy_services.permission_add(resolved=resolved, params=own)
    answer = client.delete(f"{URLS}/$LATEST")
    assert answer.status_code == 200, answer.content
    assert [(c["Sid"], c["Added"]) for c in answer.json()["PolicyChanges"]] == [
        ("FunctionURLAllowPublicAccess", False),
        ("FunctionURLInvokeAllowPublicAccess", False),
    ]
    assert answer.json()["Urls"] == []
    assert not FunctionUrlConfig.objects.filter(function=function).exists()
    assert [s["Sid"] for s in _statements(function)] == ["partner"]


def test_public_access_already_granted_under_another_id_is_not_added_twice(owner: User) -> None:
    function = _function(owner)
    resolved = selectors.function_resolve(owner.account, "fn", follow_alias=False)
    policy_services.permission_add(
        resolved=resolved,
        params={
            "StatementId": "mine",
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
    )
    answer = _send(_client(owner), "post", URLS, {"AuthType": "NONE"})
    assert [c["Sid"] for c in answer.json()["PolicyChanges"]] == [PUBLIC_INVOKE["Sid"]]
    assert [s["Sid"] for s in _statements(function)] == ["mine", PUBLIC_INVOKE["Sid"]]


def test_an_alias_url_gets_its_statements_on_the_alias_policy(owner: User) -> None:
    function = _function(owner)
    alias_services.alias_create(
        function=function, params={"Name": "live", "FunctionVersion": "$LATEST"}
    )
    answer = _send(_client(owner), "post", URLS, {"Qualifier": "live", "AuthType": "NONE"})
    assert answer.status_code == 201, answer.content
    [url] = answer.json()["Urls"]
    assert url["Qualifier"] == "live"
    assert url["FunctionArn"].endswith(":function:fn:live")
    assert _statements(function) == []
    assert _statements(function, "live") == [PUBLIC_URL, PUBLIC_INVOKE]
    assert answer.json()["Policy"]["Statement"][0]["Resource"] == url["FunctionArn"]
    assert _client(owner).delete(f"{URLS}/live").status_code == 200
    assert _statements(function, "live") == []


def test_a_statement_id_taken_by_another_statement_leaves_no_url_behind(owner: User) -> None:
    function = _function(owner)
    resolved = selectors.function_resolve(owner.account, "fn", follow_alias=False)
    policy_services.permission_add(
        resolved=resolved,
        params={
            "StatementId": "FunctionURLAllowPublicAccess",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
        },
    )
    answer = _send(_client(owner), "post", URLS, {"AuthType": "NONE"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "ResourceConflictException"
    assert "FunctionURLAllowPublicAccess" in answer.json()["error"]["message"]
    # URL and statements are one change: neither half stays.
    assert not FunctionUrlConfig.objects.filter(function=function).exists()
    assert len(_statements(function)) == 1


def test_a_second_url_for_the_same_qualifier_is_a_conflict_in_the_apis_words(
    owner: User,
) -> None:
    _function(owner)
    client = _client(owner)
    assert _send(client, "post", URLS, {"AuthType": "AWS_IAM"}).status_code == 201
    answer = _send(client, "post", URLS, {"AuthType": "NONE"})
    assert answer.status_code == 409
    assert "FunctionUrlConfig exists for this Lambda function" in answer.json()["error"]["message"]
    assert _statements(Function.objects.get(name="fn")) == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"AuthType": "BOGUS"}, "authType", "Member must satisfy enum value set"),
        ({"AuthType": "NONE", "InvokeMode": "FAST"}, "invokeMode", "enum value set"),
        ({"AuthType": "NONE", "Qualifier": "1"}, "qualifier", "failed to satisfy constraint"),
        (
            {"AuthType": "NONE", "Cors": {"AllowOrigins": ["ftp://x"]}},
            "cors.allowOrigins",
            "The origin ftp://x is invalid",
        ),
        (
            {"AuthType": "NONE", "Cors": {"AllowMethods": ["TRACE"]}},
            "cors.allowMethods",
            "The method TRACE is not supported",
        ),
        (
            {"AuthType": "NONE", "Cors": {"AllowHeaders": ["bad header"]}},
            "cors.allowHeaders",
            "in AllowHeaders is invalid",
        ),
        (
            {"AuthType": "NONE", "Cors": {"ExposeHeaders": ["x y"]}},
            "cors.exposeHeaders",
            "in ExposeHeaders is invalid",
        ),
        (
            {"AuthType": "NONE", "Cors": {"MaxAge": 86401}},
            "cors.maxAge",
            "less than or equal to 86400",
        ),
    ],
)
def test_a_bad_value_is_refused_next_to_its_field_in_the_apis_words(
    owner: User, body: dict[str, Any], field: str, words: str
) -> None:
    function = _function(owner)
    answer = _send(_client(owner), "post", URLS, body)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    # The model's checks answer ValidationException, the service's rules
    # InvalidParameterValueException, as the API does.
    service_rule = field in {
        "cors.allowOrigins",
        "cors.allowMethods",
        "cors.allowHeaders",
        "cors.exposeHeaders",
    }
    code = "InvalidParameterValueException" if service_rule else "ValidationException"
    assert (error["code"], error["field"]) == (code, field)
    assert words in error["message"]
    assert not FunctionUrlConfig.objects.filter(function=function).exists()
    assert _statements(function) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "authType"),
        ({"AuthType": ["NONE"]}, "authType"),
        ({"AuthType": "NONE", "Cors": "everyone"}, "cors"),
        ({"AuthType": "NONE", "Cors": {"AllowOrigins": "*"}}, "cors.allowOrigins"),
        ({"AuthType": "NONE", "Cors": {"AllowOrigins": [{"x": 1}]}}, "cors.allowOrigins"),
        ({"AuthType": "NONE", "Cors": {"MaxAge": "ten"}}, "cors.maxAge"),
        ({"AuthType": "NONE", "Cors": {"AllowCredentials": "maybe"}}, "cors.allowCredentials"),
        ({"AuthType": "NONE", "Qualifier": 5.5}, "qualifier"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_400_naming_its_field(
    owner: User, body: dict[str, Any], field: str
) -> None:
    _function(owner)
    answer = _send(_client(owner), "post", URLS, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["field"] == field
    assert not FunctionUrlConfig.objects.exists()


def test_a_url_of_a_missing_alias_or_qualifier_is_a_404(owner: User) -> None:
    _function(owner)
    client = _client(owner)
    answer = _send(client, "post", URLS, {"Qualifier": "nope", "AuthType": "NONE"})
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "code": "ResourceNotFoundException",
        "message": "Function does not exist",
        "field": "qualifier",
    }
    assert _send(client, "put", f"{URLS}/$LATEST", {"AuthType": "NONE"}).status_code == 404
    deleted = client.delete(f"{URLS}/$LATEST")
    assert deleted.status_code == 404
    assert deleted.json()["error"]["message"] == "The resource you requested does not exist."
    assert _statements(Function.objects.get(name="fn")) == []


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/functions/theirs/configuration/urls", {"AuthType": "NONE"}),
        ("put", "/functions/theirs/configuration/urls/$LATEST", {"AuthType": "NONE"}),
        ("delete", "/functions/theirs/configuration/urls/$LATEST", None),
    ],
)
def test_another_accounts_function_url_is_a_404(
    owner: User, stranger: User, method: str, url: str, body: dict[str, Any] | None
) -> None:
    function = _function(owner, "theirs")
    _send(_client(owner), "post", "/functions/theirs/configuration/urls", {"AuthType": "AWS_IAM"})
    answer = _send(_client(stranger), method, url, body)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ResourceNotFoundException"
    config = FunctionUrlConfig.objects.get(function=function)
    assert config.auth_type == "AWS_IAM"
    assert _statements(function) == []


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_change_without_the_csrf_token_is_refused(owner: User, method: str) -> None:
    function = _function(owner)
    _send(_client(owner), "post", URLS, {"AuthType": "AWS_IAM"})
    url = URLS if method == "post" else f"{URLS}/$LATEST"
    answer = _send(_client(owner, csrf=True), method, url, {"AuthType": "NONE"})
    assert answer.status_code == 403
    assert FunctionUrlConfig.objects.get(function=function).auth_type == "AWS_IAM"
    assert _statements(function) == []


def test_signed_out_callers_get_a_401_in_the_error_shape(owner: User) -> None:
    _function(owner)
    answer = _send(Client(), "post", URLS, {"AuthType": "NONE"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"]
    assert not FunctionUrlConfig.objects.exists()


def test_methods_the_page_never_uses_are_refused(owner: User) -> None:
    _function(owner)
    client = _client(owner)
    assert client.get(URLS).status_code == 405
    assert _send(client, "put", URLS, {"AuthType": "NONE"}).status_code == 405
    assert _send(client, "post", f"{URLS}/$LATEST", {"AuthType": "NONE"}).status_code == 405


def test_the_function_page_shows_the_url_in_the_overview_and_the_section(owner: User) -> None:
    _function(owner)
    client = _client(owner)
    _send(client, "post", URLS, {"AuthType": "NONE"})
    url_id = FunctionUrlConfig.objects.get().url_id
    page = client.get("/functions/fn/")
    assert page.status_code == 200
    html = page.content.decode()
    overview = html.split("data-overview-triggers", 1)[1].split("</dd>", 1)[0]
    assert f"http://testserver/lambda-url/{url_id}/" in overview
    state = json.loads(
        html.split('<script id="function-url-state" type="application/json">', 1)[1].split(
            "</script>", 1
        )[0]
    )
    assert state["qualifiers"] == ["$LATEST"]
    assert state["urls"][0]["FunctionUrl"] == f"http://testserver/lambda-url/{url_id}/"


@pytest.mark.parametrize(
    ("qualifier", "status"),
    [
        ("1", 400),
        ("a" * 129, 400),
        ("live%00", 400),
        ("li ve", 400),
        ("%E2%80%AEevil", 400),
        ("nope", 404),
    ],
)
def test_a_hostile_qualifier_in_the_path_is_refused_not_a_500(
    owner: User, qualifier: str, status: int
) -> None:
    function = _function(owner)
    client = _client(owner)
    _send(client, "post", URLS, {"AuthType": "NONE"})
    assert (
        _send(client, "put", f"{URLS}/{qualifier}", {"AuthType": "AWS_IAM"}).status_code == status
    )
    assert client.delete(f"{URLS}/{qualifier}").status_code == status
    assert FunctionUrlConfig.objects.get(function=function).auth_type == "NONE"
    assert len(_statements(function)) == 2
