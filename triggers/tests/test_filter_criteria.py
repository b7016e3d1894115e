"""Lambda's FilterCriteria over records, from the examples of AWS's "Control which events
Lambda sends to your function" and its SQS, Kinesis, DynamoDB, MQ and Kafka pages."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from triggers.filtering import FilterSet, compile_filter_criteria, record_view
from triggers.patterns import PatternError


def criteria(*patterns: Any) -> FilterSet:
    return compile_filter_criteria(
        {"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]}
    )


def sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:my-queue",
        "awsRegion": "us-west-2",
    }


def kinesis_record(data: bytes) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "1",
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-2",
    }


def test_sqs_bodies_are_parsed_as_json() -> None:
    filters = criteria({"body": {"RequestCode": ["BBBB"]}})
    body = {"RecordNumber": 1234, "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "BBBB"}
    assert filters.matches(record_view(sqs_record(json.dumps(body)), "sqs"))
    body["RequestCode"] = "AAAA"
    assert not filters.matches(record_view(sqs_record(json.dumps(body)), "sqs"))


def test_a_plain_string_body_matches_string_patterns_only() -> None:
    plain = record_view(sqs_record("Hello, this is a test."), "sqs")
    assert criteria({"body": ["Hello, this is a test."]}).matches(plain)
    assert criteria({"body": [{"prefix": "Hello"}]}).matches(plain)
    assert not criteria({"body": {"RequestCode": ["BBBB"]}}).matches(plain)
    # A bare JSON scalar is matched as the text it was sent as.
    assert criteria({"body": ["5"]}).matches(record_view(sqs_record("5"), "sqs"))


def test_metadata_can_be_filtered_too() -> None:
    view = record_view(sqs_record("{}"), "sqs")
    assert criteria({"attributes": {"ApproximateReceiveCount": ["1"]}}).matches(view)


def test_kinesis_data_is_decoded_and_parsed() -> None:
    data = {"record": 12345, "order": {"type": "buy", "stock": "ANYCO", "quantity": 1000}}
    view = record_view(kinesis_record(json.dumps(data).encode()), "kinesis")
    assert criteria({"data": {"order": {"type": ["buy"]}}}).matches(view)
    assert not criteria({"data": {"order": {"type": ["sell"]}}}).matches(view)
    assert criteria({"partitionKey": ["1"]}).matches(view)
    plain = record_view(kinesis_record(b"not json"), "kinesis")
    assert criteria({"data": [{"prefix": "not"}]}).matches(plain)
    binary = record_view(kinesis_record(b"\xff\xfe"), "kinesis")
    assert not criteria({"data": {"a": ["b"]}}).matches(binary)


def test_dynamodb_records_are_matched_as_they_are() -> None:
    record = {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"CustomerName": {"S": "AnyCompany Industries"}}},
    }
    filters = criteria(
        {"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}},
    )
    assert filters.matches(record_view(record, "dynamodb"))
    assert not criteria({"eventName": ["REMOVE"]}).matches(record_view(record, "dynamodb"))


def test_mq_and_kafka_payloads_are_decoded() -> None:
    mq = {"data": base64.b64encode(b'{"a": 1}').decode(), "messageID": "m"}
    assert criteria({"data": {"a": [1]}}).matches(record_view(mq, "mq"))
    kafka = {"topic": "t", "value": base64.b64encode(b'{"device_ID": "AB1234"}').decode()}
    assert criteria({"value": {"device_ID": [{"prefix": "AB"}]}}).matches(
        record_view(kafka, "kafka")
    )


def test_filters_are_ored_and_no_filters_pass_everything() -> None:
    filters = criteria({"body": {"a": [1]}}, {"body": {"b": [2]}})
    assert filters.matches(record_view(sqs_record('{"b": 2}'), "sqs"))
    assert not filters.matches(record_view(sqs_record('{"c": 3}'), "sqs"))
    assert compile_filter_criteria(None).matches({})
    assert compile_filter_criteria({"Filters": []}).matches({})


def test_it_refuses_more_than_five_filters_and_invalid_patterns() -> None:
    with pytest.raises(PatternError, match="exceeds the limit of 5"):
        criteria(*[{"body": [str(i)]} for i in range(6)])
    with pytest.raises(PatternError):
        criteria('{"body": "not an array"}')
    with pytest.raises(PatternError, match="longer than 4096"):
        criteria({"body": ["x" * 5000]})
    with pytest.raises(PatternError, match="needs a Pattern"):
        compile_filter_criteria({"Filters": [{}]})


def test_hostile_payloads_are_not_parsed_into_trouble() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    view = record_view(sqs_record(deep), "sqs")
    assert view["body"] == deep  # too deep to parse: stays the string it was
    assert not criteria({"body": {"a": ["b"]}}).matches(view)
    huge = json.dumps({"a": "x" * (2 * 1024 * 1024)})
    assert isinstance(record_view(sqs_record(huge), "sqs")["body"], str)
