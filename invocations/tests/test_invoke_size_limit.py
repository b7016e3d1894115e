"""A synchronous Invoke over 6 MB is refused as AWS refuses it (issue 12, item 6): HTTP 413,
``x-amzn-ErrorType: RequestEntityTooLargeException`` and AWS's message, however the body
arrives. DryRun calls check everything but run nothing, so no sandbox is needed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Credentials, LiveServer, client_error, create_function
from console.tests.raw_http import send, sign

pytestmark = pytest.mark.live

LIMIT = 6 * 1024 * 1024
MESSAGE = "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def _payload(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes."""
    wrapper = len(json.dumps({"data": ""}))
    return json.dumps({"data": "x" * (size - wrapper)}).encode()


def test_a_payload_one_byte_over_6_mb_gets_413_with_aws_type_and_message(lam: Any) -> None:
    create_function(lam, "limit")
    at_limit = _payload(LIMIT)
    assert len(at_limit) == LIMIT
    dry = lam.invoke(FunctionName="limit", InvocationType="DryRun", Payload=at_limit)
    assert dry["StatusCode"] == 204
    for invocation_type in ("RequestResponse", "DryRun"):
        with pytest.raises(ClientError) as excinfo:
            lam.invoke(
                FunctionName="limit", InvocationType=invocation_type, Payload=_payload(LIMIT + 1)
            )
        assert client_error(excinfo) == ("RequestEntityTooLargeException", MESSAGE, 413)
        headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"].split(":")[0] == "RequestEntityTooLargeException"


def test_a_chunked_body_over_6_mb_gets_the_same_answer(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    create_function(lam, "chunked")
    path = "/2015-03-31/functions/chunked/invocations"
    body = _payload(LIMIT + 1024)
    headers = sign(
        functory,
        credentials,
        "POST",
        path,
        body,
        headers={"X-Amz-Invocation-Type": "DryRun", "Transfer-Encoding": "chunked"},
    )
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    response = send(functory, "POST", path, headers=headers, chunks=chunks)
    assert response.status == 413
    assert response.error_type is not None
    assert response.error_type.split(":")[0] == "RequestEntityTooLargeException"
    assert response.json()["message"] == MESSAGE
