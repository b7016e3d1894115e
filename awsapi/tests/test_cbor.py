"""The CBOR codec of the RPC v2 protocol: what botocore sends decodes, what we send botocore
reads, and hostile bodies are refused without recursion, large allocations or a crash."""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

import boto3
import pytest
from botocore import parsers, serialize

from awsapi import cbor
from awsapi.cbor import CBORError


def _operation(name: str) -> Any:
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    return client.meta.service_model.operation_model(name)


def test_what_botocore_serializes_decodes_to_the_same_members() -> None:
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=dt.UTC)
    params = {
        "Namespace": "Shop/Web",
        "MetricData": [
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Page", "Value": "héllo"}],
                "Timestamp": moment,
                "Values": [1.5, -2.0, 1e300],
                "Counts": [1.0, 2.0, 3.0],
                "StorageResolution": 1,
            }
        ],
    }
    request = serialize.create_serializer("smithy-rpc-v2-cbor").serialize_to_request(
        params, _operation("PutMetricData")
    )
    assert cbor.loads(request["body"]) == params


def test_what_we_encode_botocore_parses_with_timestamps_as_datetimes() -> None:
    moment = dt.datetime(2024, 5, 6, 7, 8, tzinfo=dt.UTC)
    body = cbor.dumps(
        {
            "MetricDataResults": [
                {
                    "Id": "m1",
                    "Label": "Orders",
                    "Timestamps": [moment, moment + dt.timedelta(seconds=0.25)],
                    "Values": [1.0, 2.5],
                    "StatusCode": "Complete",
                }
            ],
            "Messages": [],
        }
    )
    parser = parsers.create_parser("smithy-rpc-v2-cbor")
    parsed = parser.parse(
        {"body": body, "headers": {}, "status_code": 200},
        _operation("GetMetricData").output_shape,
    )
    (result,) = parsed["MetricDataResults"]
    assert result["Timestamps"] == [moment, moment + dt.timedelta(seconds=0.25)]
    assert result["Values"] == [1.0, 2.5]


@pytest.mark.parametrize(
    "value",
    [
        0,
        23,
        24,
        255,
        256,
        65535,
        65536,
        2**32,
        2**64 - 1,
        -1,
        -(2**64),
        0.5,
        -1e308,
        "",
        "ü" * 300,
        b"\x00\xff",
        [],
        [1, [2, [3]]],
        {},
        {"a": None, "b": True, "c": False},
    ],
)
def test_values_survive_a_round_trip(value: object) -> None:
    assert cbor.loads(cbor.dumps(value)) == value


def test_half_and_single_floats_and_indefinite_lengths_decode() -> None:
    assert cbor.loads(b"\xf9\x3e\x00") == 1.5
    assert cbor.loads(b"\xfa" + struct.pack(">f", 0.25)) == 0.25
    assert math.isnan(cbor.loads(b"\xf9\x7e\x00"))
    assert cbor.loads(b"\x9f\x01\x02\xff") == [1, 2]
    assert cbor.loads(b"\xbf\x61a\x01\xff") == {"a": 1}
    assert cbor.loads(b"\x7f\x62ab\x61c\xff") == "abc"
    assert cbor.loads(b"\x5f\x41\x01\x41\x02\xff") == b"\x01\x02"
    assert cbor.loads(b"\xc1\xfb" + struct.pack(">d", 1.5)) == dt.datetime(
        1970, 1, 1, 0, 0, 1, 500000, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "end of CBOR data"),
        (b"\x01\x02", "bytes after"),
        (b"\xff", "Unexpected break"),
        (b"\x81" * 33 + b"\x00", "deeper than 32"),
        (b"\x9f" * 10_000, "deeper than 32"),
        (b"\xbf\x61a" * 5_000, "deeper than 32"),
        (b"\x5b" + b"\xff" * 8 + b"ab", "end of CBOR data"),
        (b"\x7b" + b"\x7f" + b"\xff" * 7, "end of CBOR data"),
        (b"\x9b" + b"\xff" * 8, "longer than the data left"),
        (b"\xbb" + b"\x00\x00\x00\x01\x00\x00\x00\x00", "longer than the data left"),
        (b"\x9a\xff\xff\xff\xff\x00", "longer than the data left"),
        (b"\xd8\x1c\x81\xd8\x1d\x00", "Unsupported CBOR tag 28"),
        (b"\xc2\x41\x01", "Unsupported CBOR tag 2"),
        (b"\xc1\x61x", "does not hold a number"),
        (b"\xc1\xfb" + struct.pack(">d", math.inf), "finite"),
        (b"\xc1\x1b" + b"\x7f" * 8, "out of range"),
        (b"\xa2\x61a\x01\x61a\x02", "Duplicate map key"),
        (b"\xa1\x01\x02", "not a text string"),
        (b"\x62\xc3\x28", "Invalid UTF-8"),
        (b"\x7f\x41a\xff", "Invalid chunk"),
        (b"\x1c", "Reserved additional information"),
        (b"\xf8\x20", "Unsupported simple value"),
    ],
)
def test_a_hostile_body_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(CBORError) as excinfo:
        cbor.loads(body)
    assert reason in str(excinfo.value)


def test_a_megabyte_of_nesting_or_of_declared_length_is_refused() -> None:
    """No allocation follows a declared length and no recursion follows the data."""
    for body in (b"\x81" * 1_000_000, b"\x9b" + b"\xff" * 8 + b"\x00" * 1_000_000):
        with pytest.raises(CBORError):
            cbor.loads(body)
