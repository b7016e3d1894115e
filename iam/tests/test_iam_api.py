"""The IAM API (query protocol) against a live server with boto3: round trips of every
operation served, AWS's errors, documents refused with IAM's messages, and who may call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Credentials, LiveServer, client_for, create_user

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
READ_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}],
}


def create_admin(server: LiveServer, account: str | None = None) -> Credentials:
    """An account admin (``createuser --admin``) with an access key."""
    args = ["createuser", f"admin-{id(server) % 1000}-{account or 'new'}", "--admin", "--access-key"]
    if account:
        args += ["--account", account]
    done = server.manage(*args)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    return Credentials(data["AccountId"], data["UserName"], data["AccessKeyId"], data["SecretAccessKey"])


@pytest.fixture(scope="module")
def admin(functory: LiveServer) -> Credentials:
    return create_admin(functory)


@pytest.fixture
def iam(functory: LiveServer, admin: Credentials) -> Any:
    return client_for(functory, admin, "iam")


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    error = exc.value.response["Error"]
    return error["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def test_a_user_round_trip(iam: Any) -> None:
    created = iam.create_user(UserName="alice", Path="/team/", Tags=[{"Key": "k", "Value": "v"}])["User"]
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 20
    assert created["Arn"].endswith(":user/team/alice")
    got = iam.get_user(UserName="alice")["User"]
    assert got["UserId"] == created["UserId"]
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    names = [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]]
    assert names == ["alice"]
    iam.delete_user(UserName="alice")
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="alice")
    assert code(exc) == ("NoSuchEntity", 404, "The user with name alice cannot be found.")
