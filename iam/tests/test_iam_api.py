"""The IAM API (query protocol) against a live server with boto3: round trips of every
operation served, AWS's errors, documents refused with IAM's messages, quotas, and who may
call it (the account's admin only, for now)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Credentials, LiveServer, client_for, create_member

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
READ_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}],
}
DENY_DELETE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"}
    ],
}
READ_ONLY = "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"


# Admins minted in batches: one Django start per batch, not one per test.
_ADMINS: dict[str, list[Credentials]] = {}
_MINT_ADMINS = """
import json
from django.db import transaction
from iam import services
for _ in range({count}):
    with transaction.atomic():
        account = services.account_get_or_create(None)
        user = services.user_create(username="admin-" + account.id, account=account, is_admin=True)
        key = services.access_key_create(user=user)
    print(json.dumps([account.id, user.username, key.access_key_id, key.secret_access_key]))
"""


def create_admin(server: LiveServer) -> Credentials:
    """An account admin (as ``createuser --admin`` makes one) with an access key, in a fresh
    account."""
    pool = _ADMINS.setdefault(server.url, [])
    if not pool:
        done = server.manage("shell", "-c", _MINT_ADMINS.format(count=25))
        assert done.returncode == 0, done.stderr
        pool += [
            Credentials(*json.loads(line))
            for line in done.stdout.splitlines()
            if line.startswith("[")
        ]
    return pool.pop()


@pytest.fixture
def admin(functory: LiveServer) -> Credentials:
    return create_admin(functory)


@pytest.fixture
def iam(functory: LiveServer, admin: Credentials) -> Any:
    return client_for(functory, admin, "iam")


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def arn_of(admin: Credentials, kind: str, name: str) -> str:
    return f"arn:aws:iam::{admin.account_id}:{kind}/{name}"


# ---- users and access keys ----------------------------------------------------------------


def test_a_user_is_created_read_listed_tagged_and_deleted(iam: Any, admin: Credentials) -> None:
    created = iam.create_user(UserName="alice", Path="/team/", Tags=[{"Key": "k", "Value": "v"}])
    user = created["User"]
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 20
    assert user["Arn"] == f"arn:aws:iam::{admin.account_id}:user/team/alice"
    got = iam.get_user(UserName="alice")["User"]
    assert (got["UserId"], got["Path"], got["Tags"]) == (
        user["UserId"],
        "/team/",
        [{"Key": "k", "Value": "v"}],
    )
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]] == ["alice"]
    assert {u["UserName"] for u in iam.list_users()["Users"]} == {"alice", admin.user_name}

    iam.tag_user(UserName="alice", Tags=[{"Key": "team", "Value": "blue"}])
    iam.untag_user(UserName="alice", TagKeys=["k"])
    assert iam.list_user_tags(UserName="alice")["Tags"] == [{"Key": "team", "Value": "blue"}]

    iam.delete_user(UserName="alice")
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="alice")
    assert error_of(exc) == ("NoSuchEntity", 404, "The user with name alice cannot be found.")


def test_get_user_without_a_name_is_the_caller(iam: Any, admin: Credentials) -> None:
    assert iam.get_user()["User"]["UserName"] == admin.user_name


def test_user_names_are_unique_regardless_of_case(iam: Any) -> None:
    iam.create_user(UserName="Bob")
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="bob")
    assert error_of(exc) == ("EntityAlreadyExists", 409, "User with name bob already exists.")


def test_an_invalid_user_name_is_a_validation_error(
    functory: LiveServer, admin: Credentials
) -> None:
    raw = client_for(functory, admin, "iam", validate=False)
    with pytest.raises(ClientError) as exc:
        raw.create_user(UserName="no spaces allowed")
    code, status, message = error_of(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith(
        "1 validation error detected: Value 'no spaces allowed' at 'userName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern:"
    )


def test_access_keys_are_created_listed_deactivated_and_deleted(
    functory: LiveServer, iam: Any
) -> None:
    iam.create_user(UserName="carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active"
    listed = iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key["AccessKeyId"], "Active")]
    assert "SecretAccessKey" not in listed[0]

    carol = Credentials("", "carol", key["AccessKeyId"], key["SecretAccessKey"])
    sts = client_for(functory, carol, "sts")
    assert sts.get_caller_identity()["Arn"].endswith(":user/carol")

    iam.update_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    listed = iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    assert listed[0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert error_of(exc)[:2] == ("InvalidClientTokenId", 403)

    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="carol")
    assert error_of(exc) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete access keys first.",
    )
    iam.delete_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName="carol")["AccessKeyMetadata"] == []
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"])
    assert error_of(exc) == (
        "NoSuchEntity",
        404,
        f"The Access Key with id {key['AccessKeyId']} cannot be found.",
    )
    iam.delete_user(UserName="carol")


def test_a_user_has_at_most_two_access_keys(iam: Any) -> None:
    iam.create_user(UserName="dave")
    iam.create_access_key(UserName="dave")
    iam.create_access_key(UserName="dave")
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName="dave")
    assert error_of(exc) == ("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")


def test_users_are_paged_with_a_marker(iam: Any) -> None:
    for index in range(5):
        iam.create_user(UserName=f"pager{index}", Path="/paged/")
    first = iam.list_users(PathPrefix="/paged/", MaxItems=2)
    assert first["IsTruncated"] is True
    names = [u["UserName"] for u in first["Users"]]
    marker = first["Marker"]
    while marker:
        page = iam.list_users(PathPrefix="/paged/", MaxItems=2, Marker=marker)
        names += [u["UserName"] for u in page["Users"]]
        marker = page.get("Marker")
    assert names == [f"pager{index}" for index in range(5)]
    paginated = iam.get_paginator("list_users").paginate(PathPrefix="/paged/", MaxItems=3)
    assert sum(len(page["Users"]) for page in paginated) == 5


def test_another_accounts_users_are_not_found(functory: LiveServer, iam: Any) -> None:
    other = client_for(functory, create_admin(functory), "iam")
    other.create_user(UserName="erin")
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="erin")
    assert error_of(exc)[:2] == ("NoSuchEntity", 404)


# ---- groups ---------------------------------------------------------------------------


def test_a_group_gets_members_and_is_deleted_once_empty(iam: Any, admin: Credentials) -> None:
    group = iam.create_group(GroupName="devs")["Group"]
    assert group["GroupId"].startswith("AGPA")
    assert group["Arn"] == arn_of(admin, "group", "devs")
    iam.create_user(UserName="frank")
    iam.add_user_to_group(GroupName="devs", UserName="frank")
    got = iam.get_group(GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["frank"]
    groups = iam.list_groups_for_user(UserName="frank")["Groups"]
    assert [g["GroupName"] for g in groups] == ["devs"]
    assert [g["GroupName"] for g in iam.list_groups()["Groups"]] == ["devs"]

    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="devs")
    assert error_of(exc) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    )
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="frank")
    assert error_of(exc)[:2] == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName="devs", UserName="frank")
    iam.delete_group(GroupName="devs")
    with pytest.raises(ClientError) as exc:
        iam.get_group(GroupName="devs")
    assert error_of(exc) == ("NoSuchEntity", 404, "The group with name devs cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.create_group(GroupName="x" * 129)
    assert error_of(exc)[:2] == ("ValidationError", 400)


# ---- roles ----------------------------------------------------------------------------


def test_a_role_round_trip(iam: Any, admin: Credentials) -> None:
    role = iam.create_role(
        RoleName="runner",
        Path="/service/",
        AssumeRolePolicyDocument=TRUST,
        Description="runs things",
        MaxSessionDuration=7200,
        Tags=[{"Key": "env", "Value": "dev"}],
    )["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["Arn"] == arn_of(admin, "role", "service/runner")
    # boto3 decodes the URL-encoded document IAM returns.
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    got = iam.get_role(RoleName="runner")["Role"]
    assert (got["Description"], got["MaxSessionDuration"], got["Tags"]) == (
        "runs things",
        7200,
        [{"Key": "env", "Value": "dev"}],
    )
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["runner"]

    trust = json.loads(TRUST)
    trust["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{admin.account_id}:root"}
    iam.update_assume_role_policy(RoleName="runner", PolicyDocument=json.dumps(trust))
    iam.update_role(RoleName="runner", Description="changed", MaxSessionDuration=3600)
    got = iam.get_role(RoleName="runner")["Role"]
    assert got["AssumeRolePolicyDocument"] == trust
    assert (got["Description"], got["MaxSessionDuration"]) == ("changed", 3600)

    iam.tag_role(RoleName="runner", Tags=[{"Key": "team", "Value": "a"}])
    iam.untag_role(RoleName="runner", TagKeys=["env"])
    assert iam.list_role_tags(RoleName="runner")["Tags"] == [{"Key": "team", "Value": "a"}]

    iam.delete_role(RoleName="runner")
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName="runner")
    assert error_of(exc) == ("NoSuchEntity", 404, "The role with name runner cannot be found.")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "Syntax errors in policy."),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "lambda:*", "Resource": "*", "Principal": "*"}
                    ],
                }
            ),
            "Has prohibited field Resource",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Principal": "*"}],
                }
            ),
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
    ],
)
def test_a_trust_policy_iam_refuses_is_malformed(iam: Any, document: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad", AssumeRolePolicyDocument=document)
    assert error_of(exc) == ("MalformedPolicyDocument", 400, message)


def test_a_role_session_cannot_be_set_past_twelve_hours(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="long", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=50000)
    code, status, message = error_of(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "Member must have value less than or equal to 43200" in message


# ---- inline policies --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies_are_put_read_listed_and_deleted(iam: Any, kind: str) -> None:
    name = f"owner-{kind}"
    if kind == "user":
        iam.create_user(UserName=name)
    elif kind == "group":
        iam.create_group(GroupName=name)
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    member = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
    title = kind.capitalize()
    put = getattr(iam, f"put_{kind}_policy")
    put(**{member: name}, PolicyName="read", PolicyDocument=json.dumps(READ_LAMBDA))
    got = getattr(iam, f"get_{kind}_policy")(**{member: name}, PolicyName="read")
    assert (got[member], got["PolicyName"], got["PolicyDocument"]) == (name, "read", READ_LAMBDA)
    listed = getattr(iam, f"list_{kind}_policies")(**{member: name})["PolicyNames"]
    assert listed == ["read"]
    with pytest.raises(ClientError) as exc:
        getattr(iam, f"delete_{kind}")(**{member: name})
    assert error_of(exc) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    )
    getattr(iam, f"delete_{kind}_policy")(**{member: name}, PolicyName="read")
    with pytest.raises(ClientError) as exc:
        getattr(iam, f"get_{kind}_policy")(**{member: name}, PolicyName="read")
    assert error_of(exc) == (
        "NoSuchEntity",
        404,
        f"The {kind} policy with name read cannot be found.",
    )
    with pytest.raises(ClientError) as exc:
        put(**{member: "nobody"}, PolicyName="read", PolicyDocument=json.dumps(READ_LAMBDA))
    assert error_of(exc)[:2] == ("NoSuchEntity", 404)
    assert title  # the operation names are the kind's title case


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        (
            json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*"}]}
            ),
            "Policy statement must contain resources.",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "invoke", "Resource": "*"}],
                }
            ),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}],
                }
            ),
            'Resource bucket must be in ARN format or "*".',
        ),
    ],
)
def test_an_inline_document_iam_refuses_is_malformed(iam: Any, document: str, message: str) -> None:
    iam.create_user(UserName="gina")
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName="gina", PolicyName="p", PolicyDocument=document)
    assert error_of(exc) == ("MalformedPolicyDocument", 400, message)


def test_a_users_inline_policies_together_fit_iams_quota(iam: Any) -> None:
    iam.create_user(UserName="hank")
    actions = [f"lambda:GetFunction{index:03d}" for index in range(40)]
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )
    iam.put_user_policy(UserName="hank", PolicyName="one", PolicyDocument=document)
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName="hank", PolicyName="two", PolicyDocument=document)
    assert error_of(exc) == (
        "LimitExceeded",
        409,
        "Maximum policy size of 2048 bytes exceeded for user hank",
    )


# ---- managed policies -------------------------------------------------------------------


def test_a_managed_policy_and_its_versions(iam: Any, admin: Credentials) -> None:
    policy = iam.create_policy(
        PolicyName="reader",
        Path="/app/",
        PolicyDocument=json.dumps(READ_LAMBDA),
        Description="read functions",
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{admin.account_id}:policy/app/reader"
    assert policy["PolicyId"].startswith("ANPA") and policy["DefaultVersionId"] == "v1"
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (got["Description"], got["AttachmentCount"]) == ("read functions", 0)
    local = iam.list_policies(Scope="Local")["Policies"]
    assert [p["Arn"] for p in local] == [arn]

    iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(DENY_DELETE), SetAsDefault=True
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert (version["Document"], version["IsDefaultVersion"]) == (DENY_DELETE, True)
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ_LAMBDA))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v2"]
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ_LAMBDA))
    assert error_of(exc) == (
        "LimitExceeded",
        409,
        "A managed policy can have up to 5 versions. Before you create a new version, you "
        "must delete an existing version.",
    )
    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert error_of(exc) == (
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    )
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=arn, VersionId="v2")
    assert error_of(exc)[:2] == ("NoSuchEntity", 404)
    # Version ids are never reused.
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ_LAMBDA))
    assert "v6" in {v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]}

    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(exc)[:2] == ("DeleteConflict", 409)
    for version_id in ("v1", "v3", "v4", "v6"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version_id)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error_of(exc) == (
        "NoSuchEntity",
        404,
        f"Policy {arn} does not exist or is not attachable.",
    )


def test_a_managed_document_over_iams_quota_is_refused(iam: Any) -> None:
    actions = [f"lambda:GetFunction{index:04d}" for index in range(300)]
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="huge", PolicyDocument=document)
    assert error_of(exc) == ("LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144")


def test_aws_managed_policies_are_listed_and_readable(iam: Any) -> None:
    aws = iam.list_policies(Scope="AWS")["Policies"]
    arns = {p["Arn"] for p in aws}
    assert READ_ONLY in arns
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in arns
    policy = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    assert policy["PolicyId"].startswith("ANPA")
    document = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v1")["PolicyVersion"]
    assert document["Document"]["Version"] == "2012-10-17"
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=READ_ONLY)
    assert error_of(exc)[:2] == ("InvalidInput", 400)


def test_policies_are_attached_listed_by_entity_and_detached(iam: Any, admin: Credentials) -> None:
    arn = iam.create_policy(PolicyName="mine", PolicyDocument=json.dumps(READ_LAMBDA))["Policy"][
        "Arn"
    ]
    iam.create_user(UserName="ivan")
    iam.create_group(GroupName="ops")
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=TRUST)
    iam.attach_user_policy(UserName="ivan", PolicyArn=arn)
    iam.attach_user_policy(UserName="ivan", PolicyArn=READ_ONLY)
    iam.attach_group_policy(GroupName="ops", PolicyArn=arn)
    iam.attach_role_policy(RoleName="worker", PolicyArn=arn)

    attached = iam.list_attached_user_policies(UserName="ivan")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted([arn, READ_ONLY])
    assert iam.list_attached_group_policies(GroupName="ops")["AttachedPolicies"] == [
        {"PolicyName": "mine", "PolicyArn": arn}
    ]
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == [
        {"PolicyName": "mine", "PolicyArn": arn}
    ]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["ivan"]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["ops"]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["worker"]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    attached_only = iam.list_policies(OnlyAttached=True)["Policies"]
    assert sorted(p["Arn"] for p in attached_only) == sorted([arn, READ_ONLY])

    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(exc) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName="worker")
    assert error_of(exc) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    )
    missing = f"arn:aws:iam::{admin.account_id}:policy/nothing"
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName="ivan", PolicyArn=missing)
    assert error_of(exc) == (
        "NoSuchEntity",
        404,
        f"Policy {missing} does not exist or is not attachable.",
    )
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="worker", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert error_of(exc)[:2] == ("NoSuchEntity", 404)

    iam.detach_user_policy(UserName="ivan", PolicyArn=arn)
    iam.detach_user_policy(UserName="ivan", PolicyArn=READ_ONLY)
    iam.detach_group_policy(GroupName="ops", PolicyArn=arn)
    iam.detach_role_policy(RoleName="worker", PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.detach_role_policy(RoleName="worker", PolicyArn=arn)
    assert error_of(exc) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")
    iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName="worker")


def test_an_identity_has_at_most_ten_attached_policies(iam: Any) -> None:
    iam.create_role(RoleName="busy", AssumeRolePolicyDocument=TRUST)
    for index in range(10):
        arn = iam.create_policy(PolicyName=f"p{index}", PolicyDocument=json.dumps(READ_LAMBDA))
        iam.attach_role_policy(RoleName="busy", PolicyArn=arn["Policy"]["Arn"])
    extra = iam.create_policy(PolicyName="p10", PolicyDocument=json.dumps(READ_LAMBDA))
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="busy", PolicyArn=extra["Policy"]["Arn"])
    assert error_of(exc) == ("LimitExceeded", 409, "Cannot exceed quota for PoliciesPerRole: 10")


# ---- SimulatePrincipalPolicy -------------------------------------------------------------


def test_simulate_principal_policy_evaluates_the_users_policies(
    iam: Any, admin: Credentials
) -> None:
    iam.create_user(UserName="judy")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="judy")
    iam.put_group_policy(
        GroupName="readers", PolicyName="read", PolicyDocument=json.dumps(READ_LAMBDA)
    )
    iam.put_user_policy(
        UserName="judy", PolicyName="NoDelete", PolicyDocument=json.dumps(DENY_DELETE)
    )
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn_of(admin, "user", "judy"),
        ActionNames=["lambda:GetFunction", "lambda:DeleteFunction", "lambda:CreateFunction"],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions == {
        "lambda:GetFunction": "allowed",
        "lambda:DeleteFunction": "explicitDeny",
        "lambda:CreateFunction": "implicitDeny",
    }
    matched = {r["EvalActionName"]: r["MatchedStatements"] for r in results}
    assert matched["lambda:GetFunction"] == [
        {"SourcePolicyId": "read", "SourcePolicyType": "group"}
    ]
    assert matched["lambda:DeleteFunction"] == [
        {"SourcePolicyId": "NoDelete", "SourcePolicyType": "user"}
    ]
    assert matched["lambda:CreateFunction"] == []


def test_simulate_principal_policy_sees_attached_and_given_policies(
    iam: Any, admin: Credentials
) -> None:
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="reader", PolicyArn=READ_ONLY)
    fn = f"arn:aws:lambda:us-east-1:{admin.account_id}:function:f"
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn_of(admin, "role", "reader"),
        ActionNames=["lambda:ListFunctions", "lambda:InvokeFunction"],
        ResourceArns=[fn],
        PolicyInputList=[
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Action": "lambda:List*", "Resource": "*"}],
                }
            )
        ],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("lambda:ListFunctions", fn, "explicitDeny"),
        ("lambda:InvokeFunction", fn, "implicitDeny"),
    ]
    assert results[0]["MatchedStatements"] == [
        {"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy"}
    ]
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=arn_of(admin, "user", "ghost"), ActionNames=["lambda:GetFunction"]
        )
    assert error_of(exc)[:2] == ("InvalidInput", 400)


# ---- who may call ----------------------------------------------------------------------


def test_a_user_without_policies_is_refused_with_awss_message(functory: LiveServer) -> None:
    user = create_member(functory)
    iam = client_for(functory, user, "iam")
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="mallory")
    assert error_of(exc) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{user.account_id}:user/{user.user_name} is not authorized to "
        f"perform: iam:CreateUser on resource: arn:aws:iam::{user.account_id}:user/mallory "
        "because no identity-based policy allows the iam:CreateUser action",
    )
    with pytest.raises(ClientError) as exc:
        iam.list_users()
    assert error_of(exc)[:2] == ("AccessDenied", 403)


def test_account_authorization_details_show_every_identity_and_policy(
    iam: Any, admin: Credentials
) -> None:
    iam.create_user(UserName="kim")
    iam.create_group(GroupName="team")
    iam.add_user_to_group(GroupName="team", UserName="kim")
    iam.put_user_policy(UserName="kim", PolicyName="read", PolicyDocument=json.dumps(READ_LAMBDA))
    iam.create_role(RoleName="svc", AssumeRolePolicyDocument=TRUST)
    arn = iam.create_policy(PolicyName="local", PolicyDocument=json.dumps(READ_LAMBDA))
    iam.attach_role_policy(RoleName="svc", PolicyArn=arn["Policy"]["Arn"])
    iam.attach_group_policy(GroupName="team", PolicyArn=READ_ONLY)

    details = iam.get_account_authorization_details()
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    assert users["kim"]["GroupList"] == ["team"]
    assert users["kim"]["UserPolicyList"] == [{"PolicyName": "read", "PolicyDocument": READ_LAMBDA}]
    [group] = details["GroupDetailList"]
    assert group["AttachedManagedPolicies"] == [
        {"PolicyName": "AWSLambda_ReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]
    [role] = details["RoleDetailList"]
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert [p["PolicyName"] for p in role["AttachedManagedPolicies"]] == ["local"]
    policies = {p["Arn"]: p for p in details["Policies"]}
    assert set(policies) == {arn["Policy"]["Arn"], READ_ONLY}
    version = policies[arn["Policy"]["Arn"]]["PolicyVersionList"][0]
    assert (version["Document"], version["IsDefaultVersion"]) == (READ_LAMBDA, True)

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and len(only_roles["RoleDetailList"]) == 1
    paginator = iam.get_paginator("get_account_authorization_details")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 1}))
    assert sum(len(p["UserDetailList"]) for p in pages) == 2  # kim and the admin
    assert sum(len(p["Policies"]) for p in pages) == 2


def test_simulate_evaluates_only_the_page_asked_for(iam: Any, admin: Credentials) -> None:
    """Every action against every resource is 90,000 evaluations here: a call answers (and
    evaluates) one page of them, in IAM's order, and the marker walks on."""
    iam.create_user(UserName="many")
    iam.put_user_policy(UserName="many", PolicyName="read", PolicyDocument=json.dumps(READ_LAMBDA))
    actions = [f"lambda:GetThing{index}" for index in range(300)]
    resources = [f"arn:aws:lambda:us-east-1:{admin.account_id}:function:f{i}" for i in range(300)]
    first = iam.simulate_principal_policy(
        PolicySourceArn=arn_of(admin, "user", "many"),
        ActionNames=actions,
        ResourceArns=resources,
        MaxItems=3,
    )
    assert first["IsTruncated"] is True
    assert [(r["EvalActionName"], r["EvalResourceName"]) for r in first["EvaluationResults"]] == [
        (actions[0], resources[0]),
        (actions[0], resources[1]),
        (actions[0], resources[2]),
    ]
    second = iam.simulate_principal_policy(
        PolicySourceArn=arn_of(admin, "user", "many"),
        ActionNames=actions,
        ResourceArns=resources,
        MaxItems=2,
        Marker=first["Marker"],
    )
    assert [r["EvalResourceName"] for r in second["EvaluationResults"]] == resources[3:5]
    assert {r["EvalDecision"] for r in second["EvaluationResults"]} == {"allowed"}


def test_a_login_profile_sets_the_users_console_password(iam: Any) -> None:
    iam.create_user(UserName="lena")
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName="lena")
    assert error_of(exc) == ("NoSuchEntity", 404, "Login Profile for User lena cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="lena", Password="12345")
    code, status, message = error_of(exc)
    assert (code, status) == ("PasswordPolicyViolation", 400)
    assert message.startswith("Password does not conform to the account password policy")
    profile = iam.create_login_profile(UserName="lena", Password="a long and unusual phrase")
    assert profile["LoginProfile"]["UserName"] == "lena"
    assert iam.get_login_profile(UserName="lena")["LoginProfile"]["UserName"] == "lena"
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="lena", Password="another long phrase here")
    assert error_of(exc) == (
        "EntityAlreadyExists",
        409,
        "Login Profile for user lena already exists.",
    )
    iam.update_login_profile(UserName="lena", Password="yet another long phrase")
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="lena")
    assert error_of(exc) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete login profile first.",
    )
    iam.delete_login_profile(UserName="lena")
    iam.delete_user(UserName="lena")


def test_the_execution_role_policies_scripts_attach_exist(iam: Any) -> None:
    iam.create_role(RoleName="exec", AssumeRolePolicyDocument=TRUST)
    for name in (
        "service-role/AWSLambdaBasicExecutionRole",
        "service-role/AWSLambdaSQSQueueExecutionRole",
        "service-role/AWSLambdaKinesisExecutionRole",
        "service-role/AWSLambdaDynamoDBExecutionRole",
        "service-role/AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaExecute",
    ):
        iam.attach_role_policy(RoleName="exec", PolicyArn=f"arn:aws:iam::aws:policy/{name}")
    attached = iam.list_attached_role_policies(RoleName="exec")["AttachedPolicies"]
    assert len(attached) == 6
