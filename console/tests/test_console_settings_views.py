"""Console endpoints of the configuration and versions tabs and the layers and account pages:
the owner's changes go through the API's services; another account's resources are a 404;
a POST without the CSRF token is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from conftest import ROLE, make_zip
from functions import selectors
from functions.models import Function
from functions.services import functions as function_services
from functions.services import layers as layer_services
from iam import entities, services
from iam.models import AccessKey, Account, User

pytestmark = pytest.mark.django_db
PASSWORD = "pw-1234567890-x"


def _user(account_id: str, username: str, *, admin: bool = False) -> User:
    """A user of the account; one who is not its admin may still change its functions."""
    account = services.account_get_or_create(account_id)
    user = services.user_create(
        username=username, account=account, password=PASSWORD, is_admin=admin
    )
    if not admin:
        entities.attach(user, "arn:aws:iam::aws:policy/AWSLambda_FullAccess")
    return user


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _function(account: Account, name: str) -> Function:
    zipped = base64.b64encode(make_zip()).decode()
    function_services.function_create(
        account=account,
        name=name,
        params={
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": zipped},
        },
    )
    return selectors.function_get_for_account(account, name)


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def owner() -> User:
    return _user("111111111111", "owner")


@pytest.fixture
def stranger() -> User:
    return _user("222222222222", "stranger")


def test_the_owner_changes_memory_and_environment(owner: User) -> None:
    function = _function(owner.account, "fn")
    client = _client(owner)
    answer = _post(client, "/functions/fn/configuration/general", {"MemorySize": 512})
    assert answer.status_code == 200, answer.content
    answer = _post(
        client, "/functions/fn/configuration/environment", {"Variables": {"GREETING": "hi"}}
    )
    assert answer.status_code == 200
    latest = selectors.latest_version(function)
    assert (latest.memory_size, latest.environment) == (512, {"GREETING": "hi"})


def test_a_validation_error_names_the_field_that_caused_it(owner: User) -> None:
    _function(owner.account, "fn")
    answer = _post(_client(owner), "/functions/fn/configuration/general", {"MemorySize": 64})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "ValidationException"
    assert error["field"] == "memorySize"


def test_environment_over_4kb_is_refused_next_to_the_variables(owner: User) -> None:
    _function(owner.account, "fn")
    answer = _post(
        _client(owner),
        "/functions/fn/configuration/environment",
        {"Variables": {"BIG": "x" * 5000}},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "environment.variables"
    assert "4KB" in answer.json()["error"]["message"]


def test_tags_are_replaced_as_a_whole(owner: User) -> None:
    function = _function(owner.account, "fn")
    client = _client(owner)
    _post(client, "/functions/fn/configuration/tags", {"Tags": {"a": "1", "b": "2"}})
    answer = _post(client, "/functions/fn/configuration/tags", {"Tags": {"b": "3"}})
    assert answer.json() == {"Tags": {"b": "3"}}
    function.refresh_from_db()
    assert function.tags == {"b": "3"}


def test_policy_statements_are_added_and_removed(owner: User) -> None:
    _function(owner.account, "fn")
    client = _client(owner)
    body = {"StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}
    added = _post(client, "/functions/fn/configuration/policy", body)
    assert added.status_code == 201, added.content
    assert added.json()["Policy"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    again = _post(client, "/functions/fn/configuration/policy", body)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "statementId"
    removed = client.delete("/functions/fn/configuration/policy/s3")
    assert removed.json()["Policy"]["Statement"] == []


def test_reserved_concurrency_is_set_and_removed(owner: User) -> None:
    function = _function(owner.account, "fn")
    client = _client(owner)
    url = "/functions/fn/configuration/concurrency"
    assert _post(client, url, {"ReservedConcurrentExecutions": 5}).status_code == 200
    function.refresh_from_db()
    assert function.reserved_concurrency == 5
    assert _post(client, url, {"ReservedConcurrentExecutions": None}).status_code == 200
    function.refresh_from_db()
    assert function.reserved_concurrency is None


def test_a_version_is_published_and_a_weighted_alias_created(owner: User) -> None:
    function = _function(owner.account, "fn")
    client = _client(owner)
    assert (
        _post(client, "/functions/fn/versions/publish", {"Description": "one"}).status_code == 201
    )
    _post(client, "/functions/fn/configuration/general", {"MemorySize": 256})
    assert _post(client, "/functions/fn/versions/publish", {}).status_code == 201
    body = {
        "Name": "live",
        "FunctionVersion": "1",
        "AdditionalVersion": "2",
        "AdditionalWeight": 20,
    }
    answer = _post(client, "/functions/fn/aliases", body)
    assert answer.status_code == 201, answer.content
    assert answer.json()["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}
    updated = _post(client, "/functions/fn/aliases/live", {"FunctionVersion": "2"})
    assert updated.json()["FunctionVersion"] == "2"
    assert "RoutingConfig" not in updated.json()
    assert client.delete("/functions/fn/aliases/live").status_code == 204
    assert not function.aliases.exists()


def test_an_alias_on_a_missing_version_is_refused_next_to_the_version(owner: User) -> None:
    _function(owner.account, "fn")
    answer = _post(_client(owner), "/functions/fn/aliases", {"Name": "x", "FunctionVersion": "9"})
    assert answer.status_code == 404
    assert answer.json()["error"]["field"] == "functionVersion"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/functions/theirs/configuration/general", {"MemorySize": 256}),
        ("post", "/functions/theirs/configuration/environment", {"Variables": {}}),
        ("post", "/functions/theirs/configuration/tags", {"Tags": {"a": "b"}}),
        ("post", "/functions/theirs/configuration/policy", {"StatementId": "x"}),
        ("delete", "/functions/theirs/configuration/policy/x", None),
        ("post", "/functions/theirs/configuration/concurrency", {}),
        ("post", "/functions/theirs/configuration/layers", {"Layers": []}),
        ("post", "/functions/theirs/versions/publish", {}),
        ("post", "/functions/theirs/aliases", {"Name": "a", "FunctionVersion": "$LATEST"}),
        ("delete", "/functions/theirs/aliases/a", None),
    ],
)
def test_another_accounts_function_is_a_404(
    owner: User, stranger: User, method: str, url: str, body: dict[str, Any] | None
) -> None:
    _function(owner.account, "theirs")
    client = _client(stranger)
    answer = _post(client, url, body or {}) if method == "post" else client.delete(url)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ResourceNotFoundException"


def test_signed_out_callers_get_a_401(owner: User) -> None:
    _function(owner.account, "fn")
    answer = _post(Client(), "/functions/fn/configuration/general", {"MemorySize": 256})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "/functions/fn/configuration/general",
        "/functions/fn/versions/publish",
        "/layers/publish",
        "/account/keys",
    ],
)
def test_a_post_without_the_csrf_token_is_refused(owner: User, url: str) -> None:
    _function(owner.account, "fn")
    answer = _post(_client(owner, csrf=True), url, {"MemorySize": 256})
    assert answer.status_code == 403
    assert not AccessKey.objects.filter(user=owner).exists()
    assert selectors.latest_version(Function.objects.get(name="fn")).memory_size == 128


def test_a_layer_version_is_published_and_deleted(owner: User) -> None:
    client = _client(owner)
    body = {
        "LayerName": "deps",
        "ZipFile": base64.b64encode(make_zip({"python/x.py": "X = 1\n"})).decode(),
        "CompatibleRuntimes": ["python3.12"],
    }
    answer = _post(client, "/layers/publish", body)
    assert answer.status_code == 201, answer.content
    assert answer.json()["Version"] == 1
    assert "deps" in client.get("/layers/").content.decode()
    assert client.delete("/layers/deps/1").status_code == 204
    assert not owner.account.layers.get(name="deps").versions.exists()


def test_publishing_a_layer_without_a_zip_is_refused_next_to_the_file(owner: User) -> None:
    answer = _post(_client(owner), "/layers/publish", {"LayerName": "deps"})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "content.zipFile"


def test_a_layer_zip_with_an_entry_outside_its_root_is_refused_next_to_the_file(
    owner: User,
) -> None:
    zipped = make_zip({"python/../../evil.py": "X = 1\n"})
    body = {"LayerName": "deps", "ZipFile": base64.b64encode(zipped).decode()}
    answer = _post(_client(owner), "/layers/publish", body)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["field"] == "content.zipFile" and "escapes the archive root" in error["message"]
    assert not owner.account.layers.filter(versions__isnull=False).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"LayerName": "deps", "CompatibleRuntimes": "python3.12"}, "compatibleRuntimes"),
        ({"LayerName": "deps", "ZipFile": {"b64": "x"}}, "content.zipFile"),
        ({"LayerName": ["deps"]}, "layerName"),
        ({"LayerName": "deps", "Description": {"a": 1}}, "description"),
    ],
)
def test_a_wrongly_typed_layer_value_is_a_400_next_to_its_field(
    owner: User, body: dict[str, Any], field: str
) -> None:
    answer = _post(_client(owner), "/layers/publish", body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["field"] == field


def test_a_layer_body_over_the_upload_limit_is_a_413(owner: User, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = {"LayerName": "deps", "ZipFile": base64.b64encode(b"z" * 8192).decode()}
    answer = _post(_client(owner), "/layers/publish", body)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "RequestEntityTooLargeException"
    assert not owner.account.layers.exists()


def test_another_accounts_layer_version_is_a_404(owner: User, stranger: User) -> None:
    layer_services.layer_version_publish(
        account=owner.account,
        layer_name="deps",
        params={"Content": {"ZipFile": base64.b64encode(make_zip()).decode()}},
    )
    answer = _client(stranger).delete("/layers/deps/1")
    assert answer.status_code == 404
    assert owner.account.layers.get(name="deps").versions.count() == 1
    theirs = f"arn:aws:lambda:us-east-1:{owner.account_id}:layer:deps"
    assert _client(stranger).delete(f"/layers/{theirs}/1").status_code == 404
    assert owner.account.layers.get(name="deps").versions.count() == 1


def test_a_user_creates_deactivates_and_deletes_their_own_key(owner: User) -> None:
    client = _client(owner)
    created = _post(client, "/account/keys", {})
    assert created.status_code == 201
    key = created.json()
    assert len(key["SecretAccessKey"]) == 40
    assert key["SecretAccessKey"] not in client.get("/account/").content.decode()
    url = f"/account/keys/{key['AccessKeyId']}"
    assert _post(client, url, {"Status": "Inactive"}).json()["Status"] == "Inactive"
    assert AccessKey.objects.get(pk=key["AccessKeyId"]).status == "Inactive"
    assert client.delete(url).status_code == 204
    assert not AccessKey.objects.filter(pk=key["AccessKeyId"]).exists()


def test_another_users_key_is_a_404_for_a_non_admin(owner: User) -> None:
    colleague = _user("111111111111", "colleague")
    key = services.access_key_create(user=colleague)
    client = _client(owner)
    url = f"/account/keys/{key.access_key_id}"
    assert _post(client, url, {"Status": "Inactive"}).status_code == 404
    assert client.delete(url).status_code == 404
    assert _post(client, "/account/keys", {"UserName": "colleague"}).status_code == 404
    assert AccessKey.objects.get(pk=key.pk).status == "Active"


def test_another_accounts_key_is_a_404_even_for_an_admin(stranger: User) -> None:
    admin = _user("111111111111", "boss", admin=True)
    key = services.access_key_create(user=stranger)
    client = _client(admin)
    assert client.delete(f"/account/keys/{key.access_key_id}").status_code == 404
    assert _post(client, "/account/users/stranger/status", {"Active": False}).status_code == 404
    assert AccessKey.objects.filter(pk=key.pk).exists()


def test_an_admin_manages_the_accounts_users_and_their_keys(owner: User) -> None:
    admin = _user("111111111111", "boss", admin=True)
    client = _client(admin)
    created = _post(client, "/account/users", {"UserName": "newbie", "Password": "pw-987654-x"})
    assert created.status_code == 201, created.content
    newbie = User.objects.get(username="newbie")
    assert newbie.account_id == "111111111111" and not newbie.is_staff
    key = _post(client, "/account/keys", {"UserName": "owner"}).json()
    assert AccessKey.objects.get(pk=key["AccessKeyId"]).user == owner
    assert _post(client, "/account/users/owner/status", {"Active": False}).status_code == 200
    owner.refresh_from_db()
    assert not owner.is_active
    taken = _post(client, "/account/users", {"UserName": "newbie"})
    assert taken.status_code == 400 and taken.json()["error"]["field"] == "userName"


def test_a_non_admin_cannot_create_users(owner: User) -> None:
    answer = _post(_client(owner), "/account/users", {"UserName": "sneaky"})
    assert answer.status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


def test_a_non_admin_cannot_change_a_users_status(owner: User) -> None:
    colleague = _user("111111111111", "colleague")
    answer = _post(_client(owner), "/account/users/colleague/status", {"Active": False})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "AccessDeniedException"
    colleague.refresh_from_db()
    assert colleague.is_active


def test_an_admin_finds_no_user_or_key_of_another_account(stranger: User) -> None:
    admin = _user("111111111111", "boss", admin=True)
    key = services.access_key_create(user=stranger)
    client = _client(admin)
    url = f"/account/keys/{key.access_key_id}"
    changed = _post(client, url, {"Status": "Inactive"})
    assert changed.status_code == 404
    assert changed.json()["error"]["code"] == "ResourceNotFoundException"
    assert _post(client, "/account/keys", {"UserName": "stranger"}).status_code == 404
    assert not AccessKey.objects.filter(user=stranger).exclude(pk=key.pk).exists()
    assert AccessKey.objects.get(pk=key.pk).status == "Active"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/account/users", {"UserName": ["a"]}, "userName"),
        ("/account/users", {"UserName": "x", "Password": {"p": 1}}, "password"),
        ("/account/users/owner/status", {"Active": "perhaps"}, "users"),
        ("/account/keys", {"UserName": ["owner"]}, "keys"),
        ("/account/keys/{key}", {"Status": ["Active"]}, "status"),
    ],
)
def test_a_wrongly_typed_account_value_is_a_400_next_to_its_field(
    owner: User, url: str, body: dict[str, Any], field: str
) -> None:
    admin = _user("111111111111", "boss", admin=True)
    key = services.access_key_create(user=owner)
    answer = _post(_client(admin), url.format(key=key.access_key_id), body)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("InvalidParameterValueException", field)
    assert set(User.objects.values_list("username", flat=True)) == {"owner", "boss"}
    assert AccessKey.objects.get(pk=key.pk).status == "Active"
    owner.refresh_from_db()
    assert owner.is_active


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/account/users"),
        ("post", "/account/users/owner/status"),
        ("post", "/account/keys"),
        ("post", "/account/keys/AKIAX"),
        ("delete", "/account/keys/AKIAX"),
    ],
)
def test_account_endpoints_need_a_session(method: str, url: str) -> None:
    answer = getattr(Client(), method)(url, "{}", content_type="application/json")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "NotAuthenticated"


def test_an_admin_action_without_the_csrf_token_is_refused() -> None:
    admin = _user("111111111111", "boss", admin=True)
    client = _client(admin, csrf=True)
    answer = _post(client, "/account/users", {"UserName": "sneaky", "Password": "pw-987654-x"})
    assert answer.status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


def test_an_admin_cannot_deactivate_themselves() -> None:
    admin = _user("111111111111", "boss", admin=True)
    answer = _post(_client(admin), "/account/users/boss/status", {"Active": False})
    assert answer.status_code == 400
    admin.refresh_from_db()
    assert admin.is_active


def test_the_pages_render_for_the_owner(owner: User) -> None:
    _function(owner.account, "fn")
    client = _client(owner)
    page = client.get("/functions/fn/").content.decode()
    assert 'id="configuration-state"' in page and "Publish new version" in page
    assert client.get("/layers/").status_code == 200
    assert client.get("/account/").status_code == 200
    assert Client().get("/account/").status_code == 302


ASYNC = "/functions/fn/configuration/async"
TOPIC = "arn:aws:sns:us-east-1:111111111111:dead-letters"
QUEUE = "arn:aws:sqs:us-east-1:111111111111:failed"


def test_async_settings_show_the_defaults_and_save_with_the_dead_letter_queue(
    owner: User,
) -> None:
    function = _function(owner.account, "fn")
    form = {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 3600, "OnFailure": QUEUE}
    answer = _post(_client(owner), ASYNC, {**form, "DeadLetterTargetArn": TOPIC})
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "MaximumEventAgeInSeconds": 3600,
        "MaximumRetryAttempts": 0,
        "OnSuccess": "",
        "OnFailure": QUEUE,
        "DeadLetterTargetArn": TOPIC,
    }
    assert selectors.latest_version(function).dead_letter_target_arn == TOPIC


@pytest.mark.parametrize(
    ("form", "field", "text"),
    [
        (
            {"OnSuccess": "arn:aws:dynamodb:us-east-1:111111111111:table/t"},
            "destinationConfig.onSuccess.destination",
            "is invalid",
        ),
        (
            {"OnFailure": "arn:aws:lambda:us-east-1:111111111111:function:fn"},
            "destinationConfig.onFailure.destination",
            "for itself",
        ),
        ({"MaximumEventAgeInSeconds": 30}, "maximumEventAgeInSeconds", "greater than"),
        (
            {"DeadLetterTargetArn": "arn:aws:lambda:us-east-1:111111111111:function:x"},
            "deadLetterConfig.targetArn",
            "SQS queue or an Amazon SNS topic",
        ),
    ],
)
def test_a_wrong_async_setting_is_refused_next_to_its_field(
    owner: User, form: dict[str, Any], field: str, text: str
) -> None:
    _function(owner.account, "fn")
    answer = _post(_client(owner), ASYNC, {"MaximumRetryAttempts": 1, **form})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == field
    assert text in error["message"]
    assert not Function.objects.get(name="fn").event_invoke_configs.exists()
