"""The audit trail against a live server: boto3 and AWS CLI calls, then CloudTrail's
LookupEvents finds them with the right fields; failures carry their errorCode; secrets
never reach a stored row; only an account's admins may look."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import (
    Credentials,
    LiveServer,
    client_error,
    client_for,
    create_function,
    make_zip,
    run_server,
)

pytestmark = pytest.mark.live

AWS = str(Path(sys.executable).with_name("aws"))


def _createuser(server: LiveServer, *args: str) -> Credentials:
    result = server.manage("createuser", f"u{uuid.uuid4().hex[:8]}", "--access-key", *args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Credentials(
        data["AccountId"], data["UserName"], data["AccessKeyId"], data["SecretAccessKey"]
    )


@pytest.fixture
def admin(functory: LiveServer) -> Credentials:
    """An account's admin (its root user), in an account of its own."""
    return _createuser(functory, "--admin")


def _lookup(server: LiveServer, creds: Credentials, **params: Any) -> list[dict[str, Any]]:
    trail = client_for(server, creds, "cloudtrail")
    events: list[dict[str, Any]] = trail.lookup_events(**params)["Events"]
    return events


def _by_name(server: LiveServer, creds: Credentials, name: str) -> list[dict[str, Any]]:
    return _lookup(
        server, creds, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
    )


def test_a_created_function_is_found_with_who_what_where_and_which_resource(
    functory: LiveServer, admin: Credentials
) -> None:
    lam = client_for(functory, admin)
    answer = create_function(lam, "audited")

    [event] = _by_name(functory, admin, "CreateFunction")
    assert event["EventSource"] == "lambda.amazonaws.com"
    assert event["ReadOnly"] == "false"
    assert event["Username"] == admin.user_name
    assert event["AccessKeyId"] == admin.access_key_id
    assert event["Resources"] == [
        {"ResourceType": "AWS::Lambda::Function", "ResourceName": "audited"}
    ]
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventID"] == event["EventId"]
    assert record["eventName"] == "CreateFunction"
    assert record["requestID"] == answer["ResponseMetadata"]["RequestId"]
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": admin.account_id,
        "arn": f"arn:aws:iam::{admin.account_id}:root",
        "accountId": admin.account_id,
        "userName": admin.user_name,
        "accessKeyId": admin.access_key_id,
    }
    assert record["recipientAccountId"] == admin.account_id
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in record["userAgent"]
    assert record["requestParameters"]["functionName"] == "audited"
    assert record["responseElements"]["functionArn"] == answer["FunctionArn"]
    assert record["resources"] == [
        {
            "type": "AWS::Lambda::Function",
            "ARN": answer["FunctionArn"],
            "accountId": admin.account_id,
        }
    ]
    assert record["readOnly"] is False
    assert record["managementEvent"] is True
    assert "errorCode" not in record


def test_a_failed_call_is_recorded_with_its_error_code(
    functory: LiveServer, admin: Credentials
) -> None:
    lam = client_for(functory, admin)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="no-such-function")

    [event] = _by_name(functory, admin, "GetFunction")
    record = json.loads(event["CloudTrailEvent"])
    assert record["errorCode"] == "ResourceNotFoundException"
    assert "no-such-function" in record["errorMessage"]
    assert record["readOnly"] is True
    assert record["responseElements"] is None


def test_secrets_never_reach_a_stored_row(functory: LiveServer, admin: Credentials) -> None:
    lam = client_for(functory, admin)
    secret_value = f"env-secret-{uuid.uuid4().hex}"
    code_marker = f"code-secret-{uuid.uuid4().hex}"
    archive = make_zip({"app.py": f"TOKEN = '{code_marker}'\ndef handler(e, c):\n    return e\n"})
    create_function(
        lam,
        "secretive",
        Code={"ZipFile": archive},
        Environment={"Variables": {"KEY": secret_value}},
    )
    lam.update_function_configuration(
        FunctionName="secretive", Environment={"Variables": {"K2": secret_value + "-2"}}
    )
    lam.update_function_code(FunctionName="secretive", ZipFile=archive)
    # A refused value is quoted by the validation message: not in the event's errorMessage.
    with pytest.raises(ClientError):
        lam.update_function_configuration(
            FunctionName="secretive", Environment={"Variables": {"1BAD": secret_value}}
        )
    assert _by_name(functory, admin, "UpdateFunctionCode")  # all are stored by now

    dump = functory.manage("dumpdata", "audit")
    assert dump.returncode == 0, dump.stderr
    stored = dump.stdout
    assert admin.access_key_id in stored  # the rows are there...
    assert secret_value not in stored  # ...but not the environment's values,
    assert base64.b64encode(archive).decode()[:40] not in stored  # nor the zip,
    assert code_marker not in stored
    assert admin.secret_access_key not in stored  # nor the signing secret
    [created] = _by_name(functory, admin, "CreateFunction")
    record = json.loads(created["CloudTrailEvent"])
    assert record["requestParameters"]["environment"] == {
        "variables": "HIDDEN_DUE_TO_SECURITY_REASONS"
    }
    assert record["requestParameters"]["code"] == {"zipFile": "HIDDEN_DUE_TO_SECURITY_REASONS"}


def test_a_user_who_is_not_an_admin_is_refused(functory: LiveServer, admin: Credentials) -> None:
    member = _createuser(functory, "--account", admin.account_id)
    trail = client_for(functory, member, "cloudtrail")
    with pytest.raises(ClientError) as excinfo:
        trail.lookup_events()
    code, message, _ = client_error(excinfo)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{admin.account_id}:user/{member.user_name} is not authorized to "
        "perform: cloudtrail:LookupEvents because no identity-based policy allows the "
        "cloudtrail:LookupEvents action"
    )
    # The member's own calls are in the admin's history, the refusal included.
    refused = _by_name(functory, admin, "LookupEvents")
    assert [json.loads(e["CloudTrailEvent"]).get("errorCode") for e in refused] == [
        "AccessDeniedException"
    ]
    assert refused[0]["Username"] == member.user_name


def test_another_accounts_events_are_not_shown(
    functory: LiveServer, admin: Credentials, credentials: Credentials
) -> None:
    create_function(client_for(functory, credentials), "elsewhere")
    create_function(client_for(functory, admin), "here")
    names = [e["Resources"][0]["ResourceName"] for e in _by_name(functory, admin, "CreateFunction")]
    assert names == ["here"]


def test_a_bad_signature_with_a_real_key_id_is_recorded_for_the_keys_account(
    functory: LiveServer, admin: Credentials
) -> None:
    forged = Credentials(admin.account_id, admin.user_name, admin.access_key_id, "x" * 40)
    lam = client_for(functory, forged)
    for _ in range(3):
        with pytest.raises(ClientError) as excinfo:
            lam.list_functions()
        assert client_error(excinfo)[0] == "InvalidSignatureException"

    [event] = _by_name(functory, admin, "ListFunctions")
    record = json.loads(event["CloudTrailEvent"])
    assert record["errorCode"] == "InvalidSignatureException"
    assert record["userIdentity"]["accessKeyId"] == admin.access_key_id
    assert record["additionalEventData"] == {"aggregatedCount": 3}


def test_events_are_paged_newest_first_with_next_token(
    functory: LiveServer, admin: Credentials
) -> None:
    lam = client_for(functory, admin)
    for name in ("p1", "p2", "p3"):
        create_function(lam, name)
    trail = client_for(functory, admin, "cloudtrail")
    pages = trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateFunction"}],
        PaginationConfig={"PageSize": 1},
    )
    seen = [event["Resources"][0]["ResourceName"] for page in pages for event in page["Events"]]
    assert seen == ["p3", "p2", "p1"]


def test_bad_lookups_get_cloudtrails_errors(functory: LiveServer, admin: Credentials) -> None:
    trail = client_for(functory, admin, "cloudtrail", validate=False)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "A"},
                    {"AttributeKey": "Username", "AttributeValue": "B"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "red"}]},
            "InvalidLookupAttributesException",
        ),
        ({"StartTime": 2_000_000_000, "EndTime": 1_000_000_000}, "InvalidTimeRangeException"),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            trail.lookup_events(**params)
        code, _, status = client_error(excinfo)
        assert (code, status) == (expected, 400), params


def test_the_aws_cli_looks_up_events(
    functory: LiveServer, admin: Credentials, tmp_path: Path
) -> None:
    create_function(client_for(functory, admin), "cli-visible")
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": admin.access_key_id,
        "AWS_SECRET_ACCESS_KEY": admin.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    result = subprocess.run(
        [
            AWS,
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=ResourceName,AttributeValue=cli-visible",
            "--endpoint-url",
            functory.url,
            "--output",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [event] = json.loads(result.stdout)["Events"]
    assert event["EventName"] == "CreateFunction"
    assert json.loads(event["CloudTrailEvent"])["userIdentity"]["type"] == "Root"


@pytest.mark.sandbox
def test_invoke_is_a_data_event_not_recorded_by_default(
    functory: LiveServer, admin: Credentials
) -> None:
    lam = client_for(functory, admin)
    create_function(lam, "invoked")
    assert lam.invoke(FunctionName="invoked", Payload=b'{"n": 1}')["StatusCode"] == 200
    assert _by_name(functory, admin, "Invoke") == []
    assert len(_by_name(functory, admin, "CreateFunction")) == 1


def test_events_buffered_at_a_clean_shutdown_are_stored(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A flush interval longer than the test: only the exit can store the events.
    servers = run_server(tmp_path_factory, {"FUNCTORY_AUDIT_FLUSH_SECONDS": "3600"})
    server = next(servers)
    try:
        creds = _createuser(server, "--admin")
        create_function(client_for(server, creds), "before-shutdown")
        server.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        server.process.wait(timeout=30)
        dump = server.manage("dumpdata", "audit")
        assert dump.returncode == 0, dump.stderr
        names = [row["fields"]["event_name"] for row in json.loads(dump.stdout)]
        assert "CreateFunction" in names
    finally:
        with pytest.raises(StopIteration):
            next(servers)


def test_iam_and_sts_calls_are_recorded_without_their_secrets(
    functory: LiveServer, admin: Credentials
) -> None:
    iam = client_for(functory, admin, "iam")
    iam.create_user(UserName="audited-user")
    key = iam.create_access_key(UserName="audited-user")["AccessKey"]
    session = client_for(functory, admin, "sts").get_session_token(DurationSeconds=900)
    secrets = [
        key["SecretAccessKey"],
        session["Credentials"]["SecretAccessKey"],
        session["Credentials"]["SessionToken"],
    ]

    [created] = _by_name(functory, admin, "CreateUser")
    assert created["EventSource"] == "iam.amazonaws.com"
    assert json.loads(created["CloudTrailEvent"])["requestParameters"]["userName"] == (
        "audited-user"
    )
    [made_key] = _by_name(functory, admin, "CreateAccessKey")
    [got_token] = _by_name(functory, admin, "GetSessionToken")
    assert got_token["EventSource"] == "sts.amazonaws.com"
    for event in (made_key, got_token):
        assert not [secret for secret in secrets if secret in event["CloudTrailEvent"]]
