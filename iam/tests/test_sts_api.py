"""STS against a live server: GetCallerIdentity (boto3 and the AWS CLI), GetSessionToken and
AssumeRole credentials that SigV4 accepts on every API with their session token, the role's
trust policy decided by iam.policy, and credentials refused once expired or altered."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Credentials, LiveServer, client_for, create_function, create_user
from iam.tests.test_iam_api import create_admin, error_of

AWS = str(Path(sys.executable).with_name("aws"))


def session_client(server: LiveServer, credentials: dict[str, Any], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def trust_for(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def expire(server: LiveServer, access_key_id: str) -> None:
    """Move the credentials' expiry into the past (the server's clock, not a sleep)."""
    done = server.manage(
        "shell",
        "-c",
        "import datetime as dt; from django.utils import timezone; "
        "from iam.models import TemporaryCredential as T; "
        f"print(T.objects.filter(pk={access_key_id!r})"
        ".update(expiration=timezone.now() - dt.timedelta(seconds=1)))",
    )
    assert done.stdout.strip().endswith("1"), done.stderr


@pytest.fixture
def admin(functory: LiveServer) -> Credentials:
    return create_admin(functory)


def test_get_caller_identity_names_the_user(functory: LiveServer) -> None:
    user = create_user(functory)
    identity = client_for(functory, user, "sts").get_caller_identity()
    assert identity["Account"] == user.account_id
    assert identity["Arn"] == f"arn:aws:iam::{user.account_id}:user/{user.user_name}"
    assert identity["UserId"].startswith("AIDA") and len(identity["UserId"]) == 20


def _aws(server: LiveServer, creds: Credentials, tmp_path: Path, *args: str) -> Any:
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    result = subprocess.run(
        [AWS, *args, "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_aws_cli_manages_iam_and_asks_sts_who_it_is(
    functory: LiveServer, admin: Credentials, tmp_path: Path
) -> None:
    identity = _aws(functory, admin, tmp_path, "sts", "get-caller-identity")
    assert identity["Arn"] == f"arn:aws:iam::{admin.account_id}:user/{admin.user_name}"
    created = _aws(functory, admin, tmp_path, "iam", "create-user", "--user-name", "cli-user")
    assert created["User"]["UserName"] == "cli-user"
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}],
        }
    )
    _aws(
        functory,
        admin,
        tmp_path,
        "iam",
        "put-user-policy",
        "--user-name",
        "cli-user",
        "--policy-name",
        "read",
        "--policy-document",
        policy,
    )
    got = _aws(
        functory,
        admin,
        tmp_path,
        "iam",
        "get-user-policy",
        "--user-name",
        "cli-user",
        "--policy-name",
        "read",
    )
    assert got["PolicyDocument"] == json.loads(policy)
    simulated = _aws(
        functory,
        admin,
        tmp_path,
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        f"arn:aws:iam::{admin.account_id}:user/cli-user",
        "--action-names",
        "lambda:GetFunction",
        "lambda:DeleteFunction",
    )
    assert [r["EvalDecision"] for r in simulated["EvaluationResults"]] == [
        "allowed",
        "implicitDeny",
    ]
    users = _aws(functory, admin, tmp_path, "iam", "list-users")
    assert {u["UserName"] for u in users["Users"]} == {admin.user_name, "cli-user"}


def test_session_token_credentials_sign_as_the_user(functory: LiveServer) -> None:
    user = create_user(functory)
    sts = client_for(functory, user, "sts")
    credentials = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["SecretAccessKey"]) == 40 and credentials["SessionToken"]
    lifetime = credentials["Expiration"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=10) < lifetime <= dt.timedelta(seconds=900)
    identity = session_client(functory, credentials, "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{user.account_id}:user/{user.user_name}"
    # Every API of the platform accepts them.
    lam = session_client(functory, credentials, "lambda")
    assert lam.list_functions()["Functions"] == []
    with pytest.raises(ClientError) as exc:
        session_client(functory, credentials, "sts").get_session_token()
    assert error_of(exc) == (
        "AccessDenied",
        403,
        "Cannot call GetSessionToken with session credentials",
    )


def test_a_session_is_bounded_as_aws_bounds_it(functory: LiveServer) -> None:
    user = create_user(functory)
    raw = client_for(functory, user, "sts", validate=False)
    for seconds in (899, 129_601):
        with pytest.raises(ClientError) as exc:
            raw.get_session_token(DurationSeconds=seconds)
        assert error_of(exc)[:2] == ("ValidationError", 400)


def test_assume_role_gives_credentials_of_the_assumed_role(
    functory: LiveServer, admin: Credentials
) -> None:
    iam = client_for(functory, admin, "iam")
    user = iam.create_user(UserName="worker")["User"]
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust_for(user["Arn"]))
    role_arn = role["Role"]["Arn"]
    worker = Credentials(admin.account_id, "worker", key["AccessKeyId"], key["SecretAccessKey"])
    assumed = client_for(functory, worker, "sts").assume_role(
        RoleArn=role_arn, RoleSessionName="build-7", DurationSeconds=900
    )
    arn = f"arn:aws:sts::{admin.account_id}:assumed-role/deployer/build-7"
    assert assumed["AssumedRoleUser"]["Arn"] == arn
    role_id = role["Role"]["RoleId"]
    assert assumed["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:build-7"
    credentials = assumed["Credentials"]
    identity = session_client(functory, credentials, "sts").get_caller_identity()
    assert identity == {
        "UserId": f"{role_id}:build-7",
        "Account": admin.account_id,
        "Arn": arn,
        "ResponseMetadata": identity["ResponseMetadata"],
    }
    # A role's session is not the account's admin.
    with pytest.raises(ClientError) as exc:
        session_client(functory, credentials, "iam").list_users()
    assert error_of(exc) == (
        "AccessDenied",
        403,
        f"User: {arn} is not authorized to perform: iam:ListUsers on resource: * because no "
        "identity-based policy allows the iam:ListUsers action",
    )


def test_assume_role_is_refused_unless_the_trust_policy_lets_the_caller_in(
    functory: LiveServer, admin: Credentials
) -> None:
    iam = client_for(functory, admin, "iam")
    iam.create_user(UserName="outsider")
    key = iam.create_access_key(UserName="outsider")["AccessKey"]
    outsider = Credentials(admin.account_id, "outsider", key["AccessKeyId"], key["SecretAccessKey"])
    sts = client_for(functory, outsider, "sts")
    # Naming only the account delegates to the account's policies: the user has none.
    role_arn = iam.create_role(
        RoleName="guarded", AssumeRolePolicyDocument=trust_for(admin.account_id)
    )["Role"]["Arn"]
    caller = f"arn:aws:iam::{admin.account_id}:user/outsider"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert error_of(exc) == (
        "AccessDenied",
        403,
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
    )
    # ...until a policy of the user allows it.
    iam.put_user_policy(
        UserName="outsider",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
                ],
            }
        ),
    )
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]["AccessKeyId"]
    # A role that does not exist is refused the same way.
    missing = f"arn:aws:iam::{admin.account_id}:role/nothing"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=missing, RoleSessionName="s1")
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    # The admin acts as the account's root: a trust policy naming the account is enough.
    admin_sts = client_for(functory, admin, "sts")
    assert admin_sts.assume_role(RoleArn=role_arn, RoleSessionName="root")["AssumedRoleUser"]
    with pytest.raises(ClientError) as exc:
        admin_sts.assume_role(RoleArn=role_arn, RoleSessionName="r1", DurationSeconds=7200)
    assert error_of(exc) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )


def test_expired_credentials_are_refused_by_every_api(
    functory: LiveServer, admin: Credentials
) -> None:
    sts = client_for(functory, admin, "sts")
    credentials = sts.get_session_token()["Credentials"]
    session_client(functory, credentials, "sts").get_caller_identity()
    session_client(functory, credentials, "lambda").list_functions()
    expire(functory, credentials["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        session_client(functory, credentials, "sts").get_caller_identity()
    assert error_of(exc) == (
        "ExpiredToken",
        403,
        "The security token included in the request is expired",
    )
    with pytest.raises(ClientError) as exc:
        session_client(functory, credentials, "lambda").list_functions()
    assert error_of(exc)[:2] == ("ExpiredTokenException", 403)


def test_credentials_with_another_session_token_are_refused(
    functory: LiveServer, admin: Credentials
) -> None:
    sts = client_for(functory, admin, "sts")
    credentials = dict(sts.get_session_token()["Credentials"])
    credentials["SessionToken"] = credentials["SessionToken"][:-4] + "AAAA"
    with pytest.raises(ClientError) as exc:
        session_client(functory, credentials, "sts").get_caller_identity()
    assert error_of(exc) == (
        "InvalidClientTokenId",
        403,
        "The security token included in the request is invalid.",
    )
    with pytest.raises(ClientError) as exc:
        session_client(functory, credentials, "lambda").list_functions()
    assert error_of(exc)[:2] == ("UnrecognizedClientException", 403)
    # A permanent key presented with a session token is not a session either.
    fake = {
        "AccessKeyId": admin.access_key_id,
        "SecretAccessKey": admin.secret_access_key,
        "SessionToken": "made-up",
    }
    with pytest.raises(ClientError) as exc:
        session_client(functory, fake, "sts").get_caller_identity()
    assert error_of(exc)[:2] == ("InvalidClientTokenId", 403)


def test_invoke_accepts_session_credentials_fresh_and_cached(
    functory: LiveServer, admin: Credentials
) -> None:
    """Invoke checks signatures on the hot path (the key cache): a session signs there too,
    and a forged token is refused even when the credentials are cached."""
    create_function(client_for(functory, admin), "echo-session")
    credentials = client_for(functory, admin, "sts").get_session_token()["Credentials"]
    lam = session_client(functory, credentials, "lambda")
    for _ in range(2):  # the second call finds the credentials in the cache
        assert lam.invoke(FunctionName="echo-session", Payload=b"{}")["StatusCode"] == 200
    forged = dict(credentials, SessionToken=credentials["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as exc:
        session_client(functory, forged, "lambda").invoke(FunctionName="echo-session")
    assert error_of(exc)[:2] == ("UnrecognizedClientException", 403)


def test_a_users_own_policy_cannot_assume_a_role_whose_trust_policy_omits_it(
    functory: LiveServer, admin: Credentials
) -> None:
    iam = client_for(functory, admin, "iam")
    role_arn = iam.create_role(
        RoleName="lambda-only",
        AssumeRolePolicyDocument=json.dumps(
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
        ),
    )["Role"]["Arn"]
    iam.create_user(UserName="eager")
    key = iam.create_access_key(UserName="eager")["AccessKey"]
    iam.put_user_policy(
        UserName="eager",
        PolicyName="assume-anything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    eager = Credentials(admin.account_id, "eager", key["AccessKeyId"], key["SecretAccessKey"])
    for creds in (eager, admin):  # not even the account's admin
        with pytest.raises(ClientError) as exc:
            client_for(functory, creds, "sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")
        assert error_of(exc)[:2] == ("AccessDenied", 403)


def test_a_trust_policy_condition_on_the_external_id_is_honoured(
    functory: LiveServer, admin: Credentials
) -> None:
    iam = client_for(functory, admin, "iam")
    trust = json.loads(trust_for(admin.account_id))
    trust["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": "shared-secret"}}
    role_arn = iam.create_role(RoleName="vendor", AssumeRolePolicyDocument=json.dumps(trust))
    sts = client_for(functory, admin, "sts")
    arn = role_arn["Role"]["Arn"]
    for external_id in (None, "wrong"):
        extra = {} if external_id is None else {"ExternalId": external_id}
        with pytest.raises(ClientError) as exc:
            sts.assume_role(RoleArn=arn, RoleSessionName="v1", **extra)
        assert error_of(exc)[:2] == ("AccessDenied", 403)
    assumed = sts.assume_role(RoleArn=arn, RoleSessionName="v1", ExternalId="shared-secret")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(":assumed-role/vendor/v1")


def test_a_role_session_may_assume_a_role_that_trusts_its_role_for_an_hour_at_most(
    functory: LiveServer, admin: Credentials
) -> None:
    iam = client_for(functory, admin, "iam")
    first = iam.create_role(RoleName="first", AssumeRolePolicyDocument=trust_for(admin.account_id))
    second = iam.create_role(
        RoleName="second",
        AssumeRolePolicyDocument=trust_for(first["Role"]["Arn"]),
        MaxSessionDuration=43200,
    )
    session = client_for(functory, admin, "sts").assume_role(
        RoleArn=first["Role"]["Arn"], RoleSessionName="hop1"
    )["Credentials"]
    chained = session_client(functory, session, "sts")
    with pytest.raises(ClientError) as exc:
        chained.assume_role(
            RoleArn=second["Role"]["Arn"], RoleSessionName="hop2", DurationSeconds=7200
        )
    assert error_of(exc) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining.",
    )
    hop = chained.assume_role(RoleArn=second["Role"]["Arn"], RoleSessionName="hop2")
    identity = session_client(functory, hop["Credentials"], "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{admin.account_id}:assumed-role/second/hop2"


def test_a_role_of_another_account_acts_there_with_only_its_own_policies(
    functory: LiveServer, admin: Credentials
) -> None:
    other = create_admin(functory)
    other_iam = client_for(functory, other, "iam")
    # The other account trusts this one and lets its role read Lambda, nothing more.
    role_arn = other_iam.create_role(
        RoleName="shared", AssumeRolePolicyDocument=trust_for(admin.account_id)
    )["Role"]["Arn"]
    other_iam.attach_role_policy(
        RoleName="shared", PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
    )
    create_function(client_for(functory, other), "theirs")

    session = client_for(functory, admin, "sts").assume_role(
        RoleArn=role_arn, RoleSessionName="xa"
    )["Credentials"]
    there = session_client(functory, session, "lambda")
    names = [f["FunctionName"] for f in there.list_functions()["Functions"]]
    assert names == ["theirs"]  # the role's account, not the caller's
    with pytest.raises(ClientError) as exc:
        there.delete_function(FunctionName="theirs")
    assert error_of(exc) == (
        "AccessDeniedException",
        403,
        f"User: arn:aws:sts::{other.account_id}:assumed-role/shared/xa is not authorized to "
        f"perform: lambda:DeleteFunction on resource: arn:aws:lambda:us-east-1:"
        f"{other.account_id}:function:theirs because no identity-based policy allows the "
        "lambda:DeleteFunction action",
    )
    with pytest.raises(ClientError) as exc:
        session_client(functory, session, "iam").create_user(UserName="intruder")
    assert error_of(exc)[:2] == ("AccessDenied", 403)


def test_a_role_that_does_not_trust_the_caller_cannot_be_assumed_across_accounts(
    functory: LiveServer, admin: Credentials
) -> None:
    other = create_admin(functory)
    role_arn = client_for(functory, other, "iam").create_role(
        RoleName="private", AssumeRolePolicyDocument=trust_for(other.account_id)
    )["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        client_for(functory, admin, "sts").assume_role(RoleArn=role_arn, RoleSessionName="xa")
    assert error_of(exc)[:2] == ("AccessDenied", 403)
    assert role_arn in error_of(exc)[2]
