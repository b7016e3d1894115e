"""The console's IAM pages (/account/iam/): an account's administrator manages users, groups,
roles and customer managed policies through the services the IAM API uses; documents are
judged by IAM's rules, with IAM's messages next to the editor and nothing half-written; anyone
else is refused; every change is a CSRF-checked POST recorded in the audit trail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.recorder import recorder
from iam import entities, services
from iam.models import AccessKey, Group, InlinePolicy, ManagedPolicy, PolicyAttachment, Role, User

pytestmark = pytest.mark.django_db
PASSWORD = "pw-1234567890-x"
ACCOUNT = "111111111111"
ALLOW_GET: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}],
}
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _user(username: str, *, admin: bool = False, account: str = ACCOUNT) -> User:
    return services.user_create(
        username=username,
        account=services.account_get_or_create(account),
        password=PASSWORD,
        is_admin=admin,
    )


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def _error(answer: Any) -> dict[str, Any]:
    error: dict[str, Any] = answer.json()["error"]
    return error


@pytest.fixture
def admin() -> User:
    return _user("boss", admin=True)


@pytest.fixture
def client(admin: User) -> Client:
    return _client(admin)


# ---- who may ------------------------------------------------------------------------------


def test_a_non_admin_gets_403_pages_and_changes_nothing(admin: User) -> None:
    someone = _user("someone")
    entities.group_create(admin.account, "devs")
    client = _client(someone)
    for url in ("/account/iam/", "/account/iam/users/boss/", "/account/iam/groups/devs/"):
        page = client.get(url)
        assert page.status_code == 403
        assert "Only an administrator of this account" in page.content.decode()
    for url, body in [
        ("/account/iam/users", {"UserName": "sneaky"}),
        ("/account/iam/policies", {"PolicyName": "p", "PolicyDocument": json.dumps(ALLOW_GET)}),
        ("/account/iam/groups/devs/add-user", {"UserName": "someone"}),
        ("/account/iam/users/someone/attach", {"PolicyArn": _admin_access()}),
        ("/account/iam/groups/devs/delete", {}),
    ]:
        answer = _post(client, url, body)
        assert answer.status_code == 403, url
        assert _error(answer)["code"] == "AccessDeniedException"
        assert "Only an account administrator" in _error(answer)["message"]
    assert not User.objects.filter(username="sneaky").exists()
    assert not ManagedPolicy.objects.exists() and not PolicyAttachment.objects.exists()
    assert Group.objects.get(name="devs").members.count() == 0


def test_signed_out_callers_are_sent_to_sign_in_or_refused() -> None:
    assert Client().get("/account/iam/").status_code == 302
    answer = Client().post("/account/iam/users", "{}", content_type="application/json")
    assert answer.status_code == 401


def test_a_change_without_the_csrf_token_is_refused(admin: User) -> None:
    answer = _post(_client(admin, csrf=True), "/account/iam/groups", {"GroupName": "devs"})
    assert answer.status_code == 403
    assert not Group.objects.exists()


def test_another_accounts_entities_are_not_found(client: Client) -> None:
    stranger = _user("stranger", account="222222222222")
    entities.group_create(stranger.account, "theirs")
    assert client.get("/account/iam/users/stranger/").status_code == 404
    assert client.get("/account/iam/groups/theirs/").status_code == 404
    answer = _post(client, "/account/iam/users/stranger/delete")
    assert answer.status_code == 404 and _error(answer)["code"] == "NoSuchEntity"
    assert User.objects.filter(username="stranger").exists()


def _admin_access() -> str:
    return "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"


# ---- users ---------------------------------------------------------------------------------


def test_an_admin_creates_a_user_with_a_console_password_and_deletes_it(
    client: Client, admin: User
) -> None:
    created = _post(client, "/account/iam/users", {"UserName": "ana", "Password": "a-Good-pass-99"})
    assert created.status_code == 201, created.content
    ana = User.objects.get(username="ana")
    assert ana.account_id == ACCOUNT and ana.check_password("a-Good-pass-99")
    services.access_key_create(user=ana)
    page = client.get("/account/iam/").content.decode()
    assert 'href="/account/iam/users/ana/"' in page
    assert _post(client, "/account/iam/users/ana/delete").status_code == 204
    assert not User.objects.filter(username="ana").exists()
    assert not AccessKey.objects.filter(user__username="ana").exists()


def test_a_user_refused_by_the_password_policy_is_not_created(client: Client) -> None:
    answer = _post(client, "/account/iam/users", {"UserName": "ana", "Password": "short"})
    assert answer.status_code == 400
    error = _error(answer)
    assert (error["code"], error["field"]) == ("PasswordPolicyViolation", "password")
    assert not User.objects.filter(username="ana").exists()


@pytest.mark.parametrize(
    "name", ["", "has space", "a/b", "x" * 65, "<script>", "a\x00b", "a" * 5000, "a'b\"c"]
)
def test_a_user_name_iam_refuses_is_a_validation_error_next_to_its_field(
    client: Client, name: str
) -> None:
    answer = _post(client, "/account/iam/users", {"UserName": name})
    assert answer.status_code == 400, answer.content
    error = _error(answer)
    assert error["field"] == "userName"
    # IAM's model refuses the name; a NUL never gets that far (no text field takes one).
    assert error["code"] == (
        "InvalidParameterValueException" if "\x00" in name else "ValidationException"
    )
    assert len(error["message"]) < 1000
    assert set(User.objects.values_list("username", flat=True)) == {"boss"}


def test_a_user_name_with_iams_odd_characters_works_end_to_end(client: Client) -> None:
    name = "a+b=c,d.e@f_g-h"
    assert _post(client, "/account/iam/users", {"UserName": name}).status_code == 201
    page = client.get(f"/account/iam/users/{name}/")
    assert page.status_code == 200
    assert _post(client, f"/account/iam/users/{name}/attach", {"PolicyArn": _admin_access()})
    assert entities.attached(User.objects.get(username=name))[0]["PolicyArn"] == _admin_access()


def test_a_duplicate_user_name_is_iams_entity_already_exists(client: Client) -> None:
    answer = _post(client, "/account/iam/users", {"UserName": "BOSS"})
    assert answer.status_code == 409
    assert _error(answer)["code"] == "EntityAlreadyExists"


def test_an_admin_cannot_delete_themselves(client: Client, admin: User) -> None:
    answer = _post(client, "/account/iam/users/boss/delete")
    assert answer.status_code == 409 and "yourself" in _error(answer)["message"]
    admin.refresh_from_db()
    assert admin.has_usable_password()


def test_a_users_groups_attached_and_inline_policies_round_trip(
    client: Client, admin: User
) -> None:
    user = entities.user_create(admin.account, "dev")
    group = entities.group_create(admin.account, "devs")
    assert (
        _post(client, "/account/iam/groups/devs/add-user", {"UserName": "dev"}).status_code == 204
    )
    assert list(user.iam_groups.all()) == [group]
    arn = _admin_access()
    assert _post(client, "/account/iam/users/dev/attach", {"PolicyArn": arn}).status_code == 204
    document = json.dumps(ALLOW_GET)
    put = _post(
        client, "/account/iam/users/dev/inline", {"PolicyName": "read", "PolicyDocument": document}
    )
    assert put.status_code == 204, put.content
    page = client.get("/account/iam/users/dev/").content.decode()
    assert "AWSLambda_ReadOnlyAccess" in page and 'data-name="devs"' in page
    assert json.loads(_inline_documents(page))["read"] == document
    # The document is kept exactly as typed.
    edited = (
        '{"Version": "2012-10-17",\n "Statement": {"Effect": "Deny", "Action": "*", '
        '"Resource": "*"}}'
    )
    body = {"PolicyName": "read", "PolicyDocument": edited}
    assert _post(client, "/account/iam/users/dev/inline", body).status_code == 204
    assert entities.inline_get(user, "read").document == edited

    assert _post(client, "/account/iam/users/dev/detach", {"PolicyArn": arn}).status_code == 204
    deleted = _post(client, "/account/iam/users/dev/inline/delete", {"PolicyName": "read"})
    assert deleted.status_code == 204
    removed = _post(client, "/account/iam/groups/devs/remove-user", {"UserName": "dev"})
    assert removed.status_code == 204
    assert not PolicyAttachment.objects.exists() and not InlinePolicy.objects.exists()
    assert not user.iam_groups.exists()


def _inline_documents(page: str) -> str:
    start = page.index('<script id="inline-documents" type="application/json">')
    start = page.index(">", start) + 1
    return page[start : page.index("</script>", start)]


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        ('{"Version": "2012-10-17", "Statement": [', "MalformedPolicyDocument", "Syntax errors"),
        (
            '{"Version": "2012-10-17", "Statement": {"Effect": "Permit", "Action": "*", '
            '"Resource": "*"}}',
            "MalformedPolicyDocument",
            "",
        ),
        ('{"Version": "2012-10-17"}', "MalformedPolicyDocument", "Statement"),
        ("[" * 1000 + "]" * 1000, "MalformedPolicyDocument", ""),
        (json.dumps({**ALLOW_GET, "Pad": "x" * 3000}), "LimitExceeded", "2048"),
    ],
)
def test_a_bad_inline_document_gets_iams_error_beside_the_editor_and_writes_nothing(
    client: Client, admin: User, document: str, code: str, message: str
) -> None:
    entities.user_create(admin.account, "dev")
    body = {"PolicyName": "p", "PolicyDocument": document}
    answer = _post(client, "/account/iam/users/dev/inline", body)
    assert answer.status_code in (400, 409), answer.content
    error = _error(answer)
    assert (error["code"], error["field"]) == (code, "policyDocument")
    assert message in error["message"]
    assert not InlinePolicy.objects.exists()


def test_a_huge_document_is_refused_with_a_short_message(client: Client, admin: User) -> None:
    entities.user_create(admin.account, "dev")
    body = {"PolicyName": "p", "PolicyDocument": "x" * 200_000}
    answer = _post(client, "/account/iam/users/dev/inline", body)
    assert answer.status_code == 400
    error = _error(answer)
    assert error["field"] == "policyDocument" and len(error["message"]) < 1000
    assert not InlinePolicy.objects.exists()


def test_a_non_json_body_or_wrong_types_are_400s_not_500s(client: Client, admin: User) -> None:
    entities.user_create(admin.account, "dev")
    url = "/account/iam/users/dev/inline"
    deep = "[" * 100_000 + "]" * 100_000
    for raw in ("{", "[]", deep, '{"PolicyName": ["p"], "PolicyDocument": {}}'):
        answer = client.post(url, raw, content_type="application/json")
        assert answer.status_code == 400, (raw[:40], answer.content[:200])
    assert not InlinePolicy.objects.exists()


def test_attaching_a_policy_that_does_not_exist_is_no_such_entity(
    client: Client, admin: User
) -> None:
    entities.user_create(admin.account, "dev")
    arn = f"arn:aws:iam::{ACCOUNT}:policy/nope"
    answer = _post(client, "/account/iam/users/dev/attach", {"PolicyArn": arn})
    assert answer.status_code == 404
    assert _error(answer)["code"] == "NoSuchEntity" and "nope" in _error(answer)["message"]
    assert not PolicyAttachment.objects.exists()


# ---- groups and roles ----------------------------------------------------------------------


def test_a_group_is_created_given_members_and_policies_and_deleted_with_them(
    client: Client, admin: User
) -> None:
    assert _post(client, "/account/iam/groups", {"GroupName": "ops"}).status_code == 201
    entities.user_create(admin.account, "dev")
    assert _post(client, "/account/iam/groups/ops/add-user", {"UserName": "dev"}).status_code == 204
    attached = _post(client, "/account/iam/groups/ops/attach", {"PolicyArn": _admin_access()})
    assert attached.status_code == 204
    body = {"PolicyName": "inline", "PolicyDocument": json.dumps(ALLOW_GET)}
    assert _post(client, "/account/iam/groups/ops/inline", body).status_code == 204
    page = client.get("/account/iam/groups/ops/").content.decode()
    assert 'data-name="dev"' in page and "AWSLambda_ReadOnlyAccess" in page
    assert _post(client, "/account/iam/groups/ops/delete").status_code == 204
    assert not Group.objects.exists()
    assert not PolicyAttachment.objects.exists() and not InlinePolicy.objects.exists()
    assert User.objects.filter(username="dev").exists()


def test_a_role_is_created_with_its_trust_policy_edited_and_deleted(client: Client) -> None:
    body = {
        "RoleName": "fn-role",
        "Description": "Runs functions",
        "AssumeRolePolicyDocument": json.dumps(TRUST),
    }
    assert _post(client, "/account/iam/roles", body).status_code == 201
    role = Role.objects.get(name="fn-role")
    assert role.description == "Runs functions"
    trust = json.dumps({**TRUST, "Statement": [{**TRUST["Statement"][0], "Sid": "Lambda"}]})
    assert (
        _post(client, "/account/iam/roles/fn-role/trust", {"PolicyDocument": trust}).status_code
        == 204
    )
    desc = _post(client, "/account/iam/roles/fn-role/description", {"Description": "New words"})
    assert desc.status_code == 204
    role.refresh_from_db()
    assert role.assume_role_policy_document == trust and role.description == "New words"
    assert "New words" in client.get("/account/iam/roles/fn-role/").content.decode()
    attach = _post(client, "/account/iam/roles/fn-role/attach", {"PolicyArn": _basic_execution()})
    assert attach.status_code == 204
    assert _post(client, "/account/iam/roles/fn-role/delete").status_code == 204
    assert not Role.objects.exists() and not PolicyAttachment.objects.exists()


def _basic_execution() -> str:
    return "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def test_a_trust_policy_is_validated_as_a_trust_policy(client: Client) -> None:
    # A permissions policy is no trust policy: it names no Principal.
    body = {"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(ALLOW_GET)}
    answer = _post(client, "/account/iam/roles", body)
    assert answer.status_code == 400
    error = _error(answer)
    assert (error["code"], error["field"]) == (
        "MalformedPolicyDocument",
        "assumeRolePolicyDocument",
    )
    assert "Principal" in error["message"]
    assert not Role.objects.exists()

    created = {"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(TRUST)}
    assert _post(client, "/account/iam/roles", created).status_code == 201
    bad = _post(client, "/account/iam/roles/r/trust", {"PolicyDocument": json.dumps(ALLOW_GET)})
    assert bad.status_code == 400 and _error(bad)["field"] == "policyDocument"
    assert Role.objects.get(name="r").assume_role_policy_document == json.dumps(TRUST)


# ---- customer managed policies --------------------------------------------------------------


def test_a_policy_is_created_versioned_and_deleted(client: Client, admin: User) -> None:
    body = {"PolicyName": "read-fns", "Description": "d", "PolicyDocument": json.dumps(ALLOW_GET)}
    created = _post(client, "/account/iam/policies", body)
    assert created.status_code == 201, created.content
    arn = created.json()["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/read-fns"
    second = json.dumps({**ALLOW_GET, "Statement": [{**ALLOW_GET["Statement"][0], "Sid": "Two"}]})
    version = _post(client, "/account/iam/policies/read-fns/versions", {"PolicyDocument": second})
    assert version.status_code == 201
    assert version.json() == {"VersionId": "v2", "IsDefaultVersion": True}
    policy = ManagedPolicy.objects.get(name="read-fns")
    assert policy.default_version_id == "v2"
    page = client.get("/account/iam/policies/read-fns/").content.decode()
    assert 'data-version="v1"' in page and 'data-version="v2"' in page
    back = _post(client, "/account/iam/policies/read-fns/default", {"VersionId": "v1"})
    assert back.status_code == 204
    policy.refresh_from_db()
    assert policy.default_version_id == "v1"
    refused = _post(client, "/account/iam/policies/read-fns/versions/delete", {"VersionId": "v1"})
    assert refused.status_code == 409 and _error(refused)["code"] == "DeleteConflict"

    entities.user_create(admin.account, "dev")
    assert _post(client, "/account/iam/users/dev/attach", {"PolicyArn": arn}).status_code == 204
    assert _post(client, "/account/iam/policies/read-fns/delete").status_code == 204
    assert not ManagedPolicy.objects.exists() and not PolicyAttachment.objects.exists()


def test_a_bad_policy_creates_nothing_and_a_bad_version_keeps_the_default(
    client: Client, admin: User
) -> None:
    bad = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*"}}'
    answer = _post(client, "/account/iam/policies", {"PolicyName": "p", "PolicyDocument": bad})
    assert answer.status_code == 400
    error = _error(answer)
    assert (error["code"], error["field"]) == ("MalformedPolicyDocument", "policyDocument")
    assert not ManagedPolicy.objects.exists()

    entities.policy_create(admin.account, "p", json.dumps(ALLOW_GET))
    answer = _post(client, "/account/iam/policies/p/versions", {"PolicyDocument": bad})
    assert answer.status_code == 400 and _error(answer)["field"] == "policyDocument"
    policy = ManagedPolicy.objects.get(name="p")
    assert policy.default_version_id == "v1" and policy.versions.count() == 1


def test_a_sixth_version_is_iams_limit_exceeded(client: Client, admin: User) -> None:
    entities.policy_create(admin.account, "p", json.dumps(ALLOW_GET))
    for _ in range(4):
        body = {"PolicyDocument": json.dumps(ALLOW_GET)}
        assert _post(client, "/account/iam/policies/p/versions", body).status_code == 201
    answer = _post(
        client, "/account/iam/policies/p/versions", {"PolicyDocument": json.dumps(ALLOW_GET)}
    )
    assert answer.status_code == 409
    error = _error(answer)
    assert (error["code"], error["field"]) == ("LimitExceeded", "policyDocument")
    assert ManagedPolicy.objects.get(name="p").versions.count() == 5


def test_the_pages_list_the_accounts_entities_and_aws_policies(client: Client, admin: User) -> None:
    entities.group_create(admin.account, "devs")
    entities.role_create(admin.account, "fn-role", json.dumps(TRUST))
    entities.policy_create(admin.account, "mine", json.dumps(ALLOW_GET))
    page = client.get("/account/iam/").content.decode()
    for href in ("users/boss/", "groups/devs/", "roles/fn-role/", "policies/mine/"):
        assert f'href="/account/iam/{href}"' in page
    assert "AWSLambda_FullAccess" in page
    # New documents start from IAM's current language version with one statement.
    assert "2012-10-17" in page
    user_page = client.get("/account/iam/users/boss/").content.decode()
    assert f"arn:aws:iam::{ACCOUNT}:policy/mine" in user_page  # attachable
    assert "You cannot delete yourself." in user_page


# ---- audit ------------------------------------------------------------------------------------


def test_every_change_is_recorded_in_the_audit_trail_with_its_error(client: Client) -> None:
    assert _post(client, "/account/iam/groups", {"GroupName": "devs"}).status_code == 201
    body = {"UserName": "ana", "Password": "a-Good-pass-99"}
    assert _post(client, "/account/iam/users", body).status_code == 201
    body = {"PolicyName": "p", "PolicyDocument": "{"}
    assert _post(client, "/account/iam/policies", body).status_code == 400
    recorder.flush()
    events = {
        row.event_name: json.loads(row.record)
        for row in AuditEvent.objects.filter(account_id=ACCOUNT)
    }
    created = events["POST iam-group-create"]
    assert created["eventSource"] == "console"
    assert created["userIdentity"]["userName"] == "boss"
    assert created["requestParameters"] == {"GroupName": "devs"}
    assert "errorCode" not in created
    assert "a-Good-pass-99" not in json.dumps(events["POST iam-user-create"])
    failed = events["POST iam-policy-create"]
    assert failed["errorCode"] == "MalformedPolicyDocument"
    assert failed["errorMessage"] == "Syntax errors in policy."
