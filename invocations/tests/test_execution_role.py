"""Functions run with their execution role's credentials (issue 14, item 3).

A function whose role exists and trusts ``lambda.amazonaws.com`` finds the role session's
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` in its environment,
and boto3's STS ``GetCallerIdentity`` (at ``AWS_ENDPOINT_URL``, the platform) answers the
assumed-role ARN named after the function. A role that does not exist (LocalStack and moto
scripts pass made-up ones) or does not trust Lambda: the function deploys and runs without
them, unless the operator made roles strict, when CreateFunction and
UpdateFunctionConfiguration refuse it as AWS does. Credentials past their expiry are
refused, and the function's next environment gets fresh ones that work.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import (
    Credentials,
    LiveServer,
    client_error,
    client_for,
    make_zip,
    run_server,
    zip_entry,
)
from iam.tests.test_iam_api import create_admin
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live]

# Short-lived credentials on the operator's server: an environment is reused while they
# outlast its timeout plus the pool's 10 s margin, so with a 10 s timeout an environment
# (and the cached session) serves for the first 10 s only.
SHORT_LIFETIME_S = 30
TIMEOUT_S = 10

CALLER = """
import os
import boto3
from botocore.exceptions import ClientError

NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

def handler(event, context):
    found = {name: os.environ.get(name) for name in NAMES}
    identity = None
    if found["AWS_ACCESS_KEY_ID"]:
        answer = boto3.client("sts").get_caller_identity()
        identity = {key: answer[key] for key in ("Arn", "Account", "UserId")}
    result = {"env": found, "identity": identity}
    if "get_function" in event:
        try:
            got = boto3.client("lambda").get_function(FunctionName=event["get_function"])
            result["lambda"] = ["ok", got["Configuration"]["FunctionName"]]
        except ClientError as error:
            result["lambda"] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]
    if "invoke" in event:
        try:
            answer = boto3.client("lambda").invoke(FunctionName=event["invoke"], Payload=b"{}")
            result["invoke"] = ["ok", answer["StatusCode"]]
        except ClientError as error:
            result["invoke"] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]
    return result
"""


def _boto3_layer() -> bytes:
    """boto3 and what it needs, as a layer (``python/``), so that these tests hold whatever
    SDK the runtime carries (a layer's copy wins over it: test_runtime_sdk.py). botocore
    keeps only STS's and Lambda's service models, enough for the handler and far smaller."""
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for module in (boto3, botocore, dateutil, jmespath, s3transfer, urllib3):
            root = Path(module.__file__ or "").parent
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root.parent)
                parts = relative.parts
                if not path.is_file() or "__pycache__" in parts:
                    continue
                kept = ("sts", "lambda")
                if parts[:2] == ("botocore", "data") and len(parts) > 3 and parts[2] not in kept:
                    continue
                archive.writestr(zip_entry(f"python/{relative}"), path.read_bytes())
        six_path = Path(six.__file__ or "")
        archive.writestr(zip_entry(f"python/{six_path.name}"), six_path.read_bytes())
    return buffer.getvalue()


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


class Account:
    """An account's admin on one server, with a role Lambda may assume, one it may not, and
    the boto3 layer published."""

    def __init__(self, server: LiveServer, layer_zip: bytes) -> None:
        self.server = server
        self.creds: Credentials = create_admin(server)
        self.lam = client_for(server, self.creds)
        iam = client_for(server, self.creds, "iam")
        self.role = iam.create_role(
            RoleName="fn-role", AssumeRolePolicyDocument=_trust("lambda.amazonaws.com")
        )["Role"]["Arn"]
        self.untrusted = iam.create_role(
            RoleName="ec2-role", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com")
        )["Role"]["Arn"]
        self.missing = f"arn:aws:iam::{self.creds.account_id}:role/lambda-role"
        self.layer = self.lam.publish_layer_version(
            LayerName="boto3", Content={"ZipFile": layer_zip}
        )["LayerVersionArn"]

    def function(self, role: str, name: str | None = None) -> str:
        name = name or f"fn-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Handler="app.handler",
            Role=role,
            Code={"ZipFile": make_zip({"app.py": CALLER})},
            Layers=[self.layer],
            Timeout=TIMEOUT_S,
        )
        return name

    def run(self, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
        response = invoke(self.lam, name, event)
        assert "FunctionError" not in response, response["Raw"]
        body: dict[str, Any] = response["Body"]
        return body


@pytest.fixture(scope="module")
def layer_zip() -> bytes:
    return _boto3_layer()


@pytest.fixture(scope="module")
def account(functory: LiveServer, layer_zip: bytes) -> Account:
    return Account(functory, layer_zip)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """An operator's server: strict execution roles, credentials lasting 30 seconds."""
    yield from run_server(
        tmp_path_factory,
        {
            "FUNCTORY_STRICT_EXECUTION_ROLES": "1",
            "FUNCTORY_EXECUTION_CREDENTIALS_SECONDS": str(SHORT_LIFETIME_S),
        },
    )


@pytest.fixture(scope="module")
def strict(strict_server: LiveServer, layer_zip: bytes) -> Account:
    return Account(strict_server, layer_zip)


def _signed_by(server: LiveServer, env: dict[str, str], service: str = "sts") -> Any:
    """A client of ``service`` signing with the credentials a function found in ``env``."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


def test_a_function_calls_sts_as_its_execution_role(account: Account) -> None:
    name = account.function(account.role)
    body = account.run(name)
    env = body["env"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert len(env["AWS_SECRET_ACCESS_KEY"]) == 40
    assert env["AWS_SESSION_TOKEN"]
    assert body["identity"]["Arn"] == (
        f"arn:aws:sts::{account.creds.account_id}:assumed-role/fn-role/{name}"
    )
    assert body["identity"]["Account"] == account.creds.account_id
    assert body["identity"]["UserId"].endswith(f":{name}")


def test_the_same_credentials_work_from_outside_and_a_warm_environment_keeps_them(
    account: Account,
) -> None:
    name = account.function(account.role)
    first = account.run(name)
    second = account.run(name)
    assert second["env"] == first["env"]
    identity = _signed_by(account.server, first["env"]).get_caller_identity()
    assert identity["Arn"] == first["identity"]["Arn"]


def test_each_function_has_its_own_session_of_the_role(account: Account) -> None:
    one, other = account.function(account.role), account.function(account.role)
    first, second = account.run(one), account.run(other)
    assert first["env"]["AWS_ACCESS_KEY_ID"] != second["env"]["AWS_ACCESS_KEY_ID"]
    assert first["identity"]["Arn"].endswith(f"/fn-role/{one}")
    assert second["identity"]["Arn"].endswith(f"/fn-role/{other}")


def test_the_credentials_carry_the_roles_policies(account: Account) -> None:
    iam = client_for(account.server, account.creds, "iam")
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=_trust("lambda.amazonaws.com"))
    name = account.function(f"arn:aws:iam::{account.creds.account_id}:role/reader")
    function_arn = account.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    session = f"arn:aws:sts::{account.creds.account_id}:assumed-role/reader/{name}"
    assert account.run(name, {"get_function": name})["lambda"] == [
        "AccessDeniedException",
        f"User: {session} is not authorized to perform: lambda:GetFunction on resource: "
        f"{function_arn} because no identity-based policy allows the lambda:GetFunction action",
    ]
    iam.attach_role_policy(
        RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
    )
    assert account.run(name, {"get_function": name})["lambda"] == ["ok", name]


def test_a_function_invokes_exactly_the_functions_its_role_allows(account: Account) -> None:
    iam = client_for(account.server, account.creds, "iam")
    allowed = account.function(account.missing)
    forbidden = account.function(account.missing)
    arn = account.lam.get_function(FunctionName=allowed)["Configuration"]["FunctionArn"]
    iam.create_role(RoleName="invoker", AssumeRolePolicyDocument=_trust("lambda.amazonaws.com"))
    iam.put_role_policy(
        RoleName="invoker",
        PolicyName="one-function",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn}
                ],
            }
        ),
    )
    caller = account.function(f"arn:aws:iam::{account.creds.account_id}:role/invoker")
    assert account.run(caller, {"invoke": allowed})["invoke"] == ["ok", 200]
    code, message = account.run(caller, {"invoke": forbidden})["invoke"]
    assert code == "AccessDeniedException"
    assert f"assumed-role/invoker/{caller} is not authorized to perform: lambda:InvokeFunction" in (
        message
    )


def test_a_function_whose_role_does_not_exist_runs_without_credentials(
    account: Account,
) -> None:
    name = account.function(account.missing)
    body = account.run(name)
    assert body == {
        "env": {
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
            "AWS_SESSION_TOKEN": None,
        },
        "identity": None,
    }


def test_a_role_that_does_not_trust_lambda_gives_no_credentials(account: Account) -> None:
    name = account.function(account.untrusted)
    assert account.run(name)["identity"] is None


def test_changing_the_role_gives_new_environments_the_new_roles_credentials(
    account: Account,
) -> None:
    name = account.function(account.missing)
    assert account.run(name)["identity"] is None
    account.lam.update_function_configuration(FunctionName=name, Role=account.role)
    account.lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert account.run(name)["identity"]["Arn"].endswith(f"/fn-role/{name}")


def test_strict_roles_refuse_a_role_that_does_not_exist(strict: Account) -> None:
    with pytest.raises(ClientError) as excinfo:
        strict.function(strict.missing)
    assert client_error(excinfo) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
        400,
    )


def test_strict_roles_refuse_a_role_that_does_not_trust_lambda(strict: Account) -> None:
    with pytest.raises(ClientError) as excinfo:
        strict.function(strict.untrusted)
    assert client_error(excinfo) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
        400,
    )


def test_strict_roles_refuse_an_update_to_a_role_lambda_cannot_assume(strict: Account) -> None:
    name = strict.function(strict.role)
    with pytest.raises(ClientError) as excinfo:
        strict.lam.update_function_configuration(FunctionName=name, Role=strict.missing)
    assert client_error(excinfo) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
        400,
    )
    role = strict.lam.get_function_configuration(FunctionName=name)["Role"]
    assert role == strict.role


def test_expired_credentials_are_refused_and_the_next_environment_gets_fresh_ones(
    strict: Account,
) -> None:
    name = strict.function(strict.role)
    first = strict.run(name)
    ran = time.time()
    old = first["env"]
    # Issued before the invocation ended: expired once the lifetime has passed since.
    time.sleep(SHORT_LIFETIME_S + 1 - (time.time() - ran))
    expired = "The security token included in the request is expired"
    with pytest.raises(ClientError) as excinfo:
        _signed_by(strict.server, old, "lambda").list_functions()
    assert client_error(excinfo)[:2] == ("ExpiredTokenException", expired)
    with pytest.raises(ClientError) as excinfo:  # the query protocol's name for it, as STS's
        _signed_by(strict.server, old, "sts").get_caller_identity()
    assert client_error(excinfo)[:2] == ("ExpiredToken", expired)
    fresh = strict.run(name)
    assert fresh["env"]["AWS_ACCESS_KEY_ID"] != old["AWS_ACCESS_KEY_ID"]
    assert fresh["identity"]["Arn"] == first["identity"]["Arn"]
    identity = _signed_by(strict.server, fresh["env"]).get_caller_identity()
    assert identity["Arn"].endswith(f"/fn-role/{name}")


def test_the_audit_trail_names_the_functions_role_session(account: Account) -> None:
    name = account.function(account.role)
    body = account.run(name)
    trail = client_for(account.server, account.creds, "cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    )["Events"]
    [event] = [e for e in events if body["identity"]["Arn"] in e["CloudTrailEvent"]]
    assert event["Username"] == name  # the session's name, as CloudTrail shows it
    record = json.loads(event["CloudTrailEvent"])
    assert record["recipientAccountId"] == account.creds.account_id
    assert record["userIdentity"]["type"] == "AssumedRole"
    assert record["userIdentity"]["accessKeyId"] == body["env"]["AWS_ACCESS_KEY_ID"]
    assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == account.role


@pytest.mark.docker
def test_a_container_gets_its_execution_roles_credentials(
    functory_docker: LiveServer, layer_zip: bytes
) -> None:
    docker = Account(functory_docker, layer_zip)
    name = docker.function(docker.role)
    body = docker.run(name)
    assert body["env"]["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert body["identity"]["Arn"] == (
        f"arn:aws:sts::{docker.creds.account_id}:assumed-role/fn-role/{name}"
    )
    assert docker.run(docker.function(docker.missing))["identity"] is None
