"""SigV4 authentication against the live server, over real HTTP, with AWS's answers."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Credentials, client_for, create_function, create_user
from console.tests.raw_http import RawResponse, send, sign, signed

pytestmark = pytest.mark.live

FUNCTIONS = "/2015-03-31/functions"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)


def assert_error(response: RawResponse, status: int, code: str) -> str:
    """Check status and error headers; return the message."""
    assert response.status == status, response.body
    assert response.headers["x-amzn-errortype"] == code
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    # Authentication errors come from AWS's front end: only a lower-case "message".
    assert "Type" not in body
    message: str = body["message"]
    return message


def test_it_rejects_an_unsigned_request(functory):
    response = send(functory, "GET", FUNCTIONS)
    message = assert_error(response, 403, "MissingAuthenticationTokenException")
    assert message == "Missing Authentication Token"


def test_it_rejects_an_unknown_access_key(functory, credentials):
    stranger = Credentials(credentials.account_id, "nobody", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    message = assert_error(
        signed(functory, stranger, "GET", FUNCTIONS), 403, "UnrecognizedClientException"
    )
    assert message == "The security token included in the request is invalid."


def test_it_rejects_a_wrong_secret(functory, credentials):
    wrong = Credentials(
        credentials.account_id,
        credentials.user_name,
        credentials.access_key_id,
        credentials.secret_access_key[::-1],
    )
    response = signed(functory, wrong, "GET", FUNCTIONS)
    assert assert_error(response, 403, "InvalidSignatureException") == BAD_SIGNATURE


def test_boto3_sees_a_wrong_secret_as_invalid_signature(functory, credentials):
    wrong = Credentials(
        credentials.account_id, credentials.user_name, credentials.access_key_id, "y" * 40
    )
    with pytest.raises(ClientError) as error:
        client_for(functory, wrong).list_functions()
    assert error.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.value.response["Error"]["Message"] == BAD_SIGNATURE
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_it_rejects_a_body_tampered_with_after_signing(functory, credentials, lam):
    signed_body = json.dumps({"FunctionName": "a", "Runtime": "python3.11"}).encode()
    tampered = signed_body.replace(b'"a"', b'"b"')
    headers = sign(functory, credentials, "POST", FUNCTIONS, signed_body)
    response = send(functory, "POST", FUNCTIONS, tampered, headers)
    assert assert_error(response, 403, "InvalidSignatureException") == BAD_SIGNATURE
    assert lam.list_functions()["Functions"] == []


def test_it_rejects_a_query_string_changed_after_signing(functory, credentials):
    headers = sign(functory, credentials, "GET", FUNCTIONS + "?MaxItems=1")
    response = send(functory, "GET", FUNCTIONS + "?MaxItems=2", headers=headers)
    assert assert_error(response, 403, "InvalidSignatureException") == BAD_SIGNATURE


def _signed_at(monkeypatch, offset: dt.timedelta) -> str:
    """Make botocore (in this process only) sign as if the clock were off by ``offset``."""
    moment = dt.datetime.now(dt.UTC).replace(tzinfo=None) + offset
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: moment)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def test_it_rejects_a_signature_from_20_minutes_ago(functory, credentials, monkeypatch):
    timestamp = _signed_at(monkeypatch, -dt.timedelta(minutes=20))
    response = signed(functory, credentials, "GET", FUNCTIONS)
    message = assert_error(response, 403, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {timestamp} is now earlier than ")
    assert message.endswith(" - 15 min.)")


def test_it_rejects_a_signature_from_20_minutes_in_the_future(functory, credentials, monkeypatch):
    timestamp = _signed_at(monkeypatch, dt.timedelta(minutes=20))
    response = signed(functory, credentials, "GET", FUNCTIONS)
    message = assert_error(response, 403, "InvalidSignatureException")
    # AWS's wording for a request from the future.
    assert message.startswith(f"Signature not yet current: {timestamp} is still later than ")
    assert message.endswith(" + 15 min.)")


def test_it_accepts_a_signature_within_the_allowed_skew(functory, credentials, monkeypatch):
    _signed_at(monkeypatch, -dt.timedelta(minutes=10))
    assert signed(functory, credentials, "GET", FUNCTIONS).status == 200


def test_it_rejects_an_inactive_access_key(functory):
    creds = create_user(functory)
    assert client_for(functory, creds).list_functions()["Functions"] == []
    result = functory.manage(
        "shell",
        "-c",
        "from iam.models import AccessKey; "
        f"print(AccessKey.objects.filter(access_key_id={creds.access_key_id!r})"
        ".update(status=AccessKey.Status.INACTIVE))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1"
    response = signed(functory, creds, "GET", FUNCTIONS)
    message = assert_error(response, 403, "UnrecognizedClientException")
    assert message == "The security token included in the request is invalid."


def test_it_rejects_a_request_signed_for_another_region(functory, credentials):
    response = signed(functory, credentials, "GET", FUNCTIONS, region="eu-west-1")
    message = assert_error(response, 403, "InvalidSignatureException")
    assert message == "Credential should be scoped to a valid region, not 'eu-west-1'. "
    other_region = boto3.client(
        "lambda",
        endpoint_url=functory.url,
        region_name="ap-southeast-2",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as error:
        create_function(other_region, "far-away")
    assert error.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert client_for(functory, credentials).list_functions()["Functions"] == []


@pytest.mark.parametrize("path", [FUNCTIONS, FUNCTIONS + "/"])
def test_it_accepts_paths_with_and_without_a_trailing_slash(functory, credentials, path):
    response = signed(functory, credentials, "GET", path)
    assert response.status == 200, response.body
    assert response.json()["Functions"] == []
    assert response.headers["x-amzn-requestid"]


def test_a_signed_request_for_a_missing_function_carries_the_error_headers(functory, credentials):
    response = signed(functory, credentials, "GET", FUNCTIONS + "/nope/")
    assert response.status == 404
    assert response.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert response.headers["x-amzn-requestid"]
    # Service errors carry the model's members: Type and (for this one) Message.
    assert response.json()["Type"] == "User"
    assert "nope" in response.json()["Message"]


def test_every_request_id_is_unique(functory):
    ids = {send(functory, "GET", FUNCTIONS).headers["x-amzn-requestid"] for _ in range(5)}
    assert len(ids) == 5
