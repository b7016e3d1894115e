"""Hostile input to the CloudWatch metrics API in its CBOR form (and a gzip bomb in either):
each is refused with a 4xx in CloudWatch's error shape, and the server logs no traceback."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from awsapi import cbor
from conftest import Credentials, LiveServer
from console.tests.raw_http import RawResponse, send, sign

pytestmark = [pytest.mark.live]

CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


def _rpc(
    server: LiveServer,
    creds: Credentials,
    operation: str,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    path = f"/service/GraniteServiceVersion20100801/operation/{operation}"
    all_headers = CBOR_HEADERS if headers is None else headers
    signed = sign(server, creds, "POST", path, body, service="monitoring", headers=all_headers)
    return send(server, "POST", path, body, signed)


def _error(response: RawResponse) -> tuple[int, str, str]:
    """(status, the CBOR body's __type, its message)."""
    body = cbor.loads(response.body)
    return response.status, body["__type"], body["message"]


def _tracebacks(server: LiveServer) -> str:
    log = Path(server.env["FUNCTORY_DATA_DIR"]) / f"server-{urlsplit(server.url).port}.log"
    return "\n".join(
        line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line
    )


SERIALIZATION = "com.amazonaws.cloudwatch#SerializationException"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x81" * 10_000 + b"\x00", "deeper than"),
        (b"\xbf\x61a" * 10_000, "deeper than"),
        (b"\x5b" + b"\xff" * 8 + b"x", "end of CBOR data"),
        (b"\xa1\x69Namespace\x9b" + b"\xff" * 8, "longer than the data left"),
        (b"\xd8\x1c\x81\xd8\x1d\x00", "Unsupported CBOR tag"),
        (b"\x83\x01\x02\x03", "must be an object"),
        (b"\xa1\x69Namespace\x63AB", "end of CBOR data"),
    ],
)
def test_a_hostile_cbor_body_is_a_serialization_error(
    functory: LiveServer, credentials: Credentials, body: bytes, reason: str
) -> None:
    for operation in ("PutMetricData", "GetMetricData", "ListMetrics"):
        status, kind, message = _error(_rpc(functory, credentials, operation, body))
        assert (status, kind) == (400, SERIALIZATION)
        assert reason in message
    assert _tracebacks(functory) == ""


def test_a_cbor_request_needs_the_smithy_protocol_header(
    functory: LiveServer, credentials: Credentials
) -> None:
    response = _rpc(
        functory, credentials, "ListMetrics", cbor.dumps({}), {"Content-Type": "application/cbor"}
    )
    assert _error(response)[:2] == (400, SERIALIZATION)
    unknown = _rpc(functory, credentials, "DeleteEverything", cbor.dumps({}))
    assert _error(unknown)[:2] == (400, "com.amazonaws.cloudwatch#UnknownOperationException")


def test_cbor_non_finite_values_and_bad_timestamps_are_cloudwatchs_errors(
    functory: LiveServer, credentials: Credentials
) -> None:
    nan = b"\xfb" + struct.pack(">d", float("nan"))
    datum = b"\xa2\x6aMetricName\x61m\x65Value" + nan
    body = b"\xa2\x69Namespace\x63App\x6aMetricData\x81" + datum
    response = _rpc(functory, credentials, "PutMetricData", body)
    status, kind, message = _error(response)
    assert (status, kind) == (400, "com.amazonaws.cloudwatch#InvalidParameterValueException")
    assert message == "The value nan for parameter MetricData.member.1.Value is invalid."
    assert response.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    # A timestamp out of any calendar's range.
    far = b"\xc1\x1b" + b"\x7f" * 8
    body = b"\xa3\x71MetricDataQueries\x80\x69StartTime" + far + b"\x67EndTime\x01"
    assert _error(_rpc(functory, credentials, "GetMetricData", body))[:2] == (400, SERIALIZATION)
    assert _tracebacks(functory) == ""


def test_a_thousand_data_with_one_bad_value_write_nothing(
    functory: LiveServer, credentials: Credentials
) -> None:
    data = [{"MetricName": f"m{i}", "Value": float(i)} for i in range(1000)]
    data[999]["Value"] = 2.0**400
    response = _rpc(
        functory,
        credentials,
        "PutMetricData",
        cbor.dumps({"Namespace": "Bulk", "MetricData": data}),
    )
    assert _error(response)[0] == 400
    listed = _rpc(functory, credentials, "ListMetrics", cbor.dumps({"Namespace": "Bulk"}))
    assert cbor.loads(listed.body) == {"Metrics": []}


@pytest.mark.parametrize("form", ["json", "cbor"])
def test_a_gzip_bomb_is_refused_before_it_expands(
    functory: LiveServer, credentials: Credentials, form: str
) -> None:
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    if form == "cbor":
        headers = {**CBOR_HEADERS, "Content-Encoding": "gzip"}
        response = _rpc(functory, credentials, "PutMetricData", bomb, headers)
    else:
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
            "Content-Encoding": "gzip",
        }
        signed = sign(
            functory, credentials, "POST", "/", bomb, service="monitoring", headers=headers
        )
        response = send(functory, "POST", "/", bomb, signed)
    assert response.status == 413
    assert response.headers["x-amzn-errortype"] == "RequestEntityTooLarge"
    assert _tracebacks(functory) == ""
