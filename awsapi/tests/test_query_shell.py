"""The query protocol's parsing and rendering in process, against botocore's own serializer
and parser: what an SDK sends is read back as the same parameters, and what we render is
parsed by the SDK into the same result."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import pytest
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer

from awsapi import query
from awsapi.errors import AWSError
from awsapi.service_models import service_model


def sent_by_sdk(service: str, operation: str, params: dict[str, Any]) -> dict[str, str]:
    """The form fields botocore sends for ``params``."""
    model = service_model(service).operation_model(operation)
    body = QuerySerializer().serialize_to_request(params, model)["body"]
    # botocore form-encodes this mapping when it sends the request.
    return dict(parse_qsl(urlencode(body), keep_blank_values=True))


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        (
            "iam",
            "CreateUser",
            {"UserName": "bob", "Path": "/a/", "Tags": [{"Key": "k", "Value": "v"}] * 3},
        ),
        (
            "iam",
            "SimulatePrincipalPolicy",
            {
                "PolicySourceArn": "arn:aws:iam::111122223333:user/bob",
                "ActionNames": ["s3:GetObject", "lambda:Invoke"],
                "ContextEntries": [
                    {
                        "ContextKeyName": "aws:SourceIp",
                        "ContextKeyValues": ["10.0.0.1", "10.0.0.2"],
                        "ContextKeyType": "ipList",
                    }
                ],
                "MaxItems": 7,
            },
        ),
        ("iam", "ListPolicies", {"Scope": "Local", "OnlyAttached": True}),
        (
            "sns",
            "CreateTopic",
            {"Name": "t", "Attributes": {"DisplayName": "x", "Policy": "{}"}},
        ),
        ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s"}),
    ],
)
def test_what_the_sdk_sends_is_read_back_as_sent(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    fields = sent_by_sdk(service, operation, params)
    model = service_model(service).operation_model(operation)
    assert query.parse_params(model, fields) == params


def test_an_empty_list_is_read_as_empty() -> None:
    model = service_model("iam").operation_model("UntagUser")
    fields = sent_by_sdk("iam", "UntagUser", {"UserName": "u", "TagKeys": []})
    assert query.parse_params(model, fields) == {"UserName": "u", "TagKeys": []}


@pytest.mark.parametrize(("raw", "member"), [("x", "MaxItems"), ("maybe", "OnlyAttached")])
def test_a_value_of_the_wrong_type_is_a_validation_error(raw: str, member: str) -> None:
    model = service_model("iam").operation_model("ListPolicies")
    with pytest.raises(AWSError) as exc:
        query.parse_params(model, {member: raw})
    assert exc.value.code == "ValidationError"


def test_a_rendered_result_is_what_the_sdk_parses() -> None:
    model = service_model("iam").operation_model("GetRole")
    created = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"<&>"}]}'
    result = {
        "Role": {
            "Path": "/",
            "RoleName": "r",
            "RoleId": "AROAEXAMPLE",
            "Arn": "arn:aws:iam::111122223333:role/r",
            "CreateDate": created,
            "AssumeRolePolicyDocument": document,
            "MaxSessionDuration": 3600,
            "Tags": [{"Key": "a", "Value": "b & c"}],
        }
    }
    body = query.render_result(model, result, "req-1")
    parsed = QueryParser().parse(
        {"body": body, "headers": {}, "status_code": 200}, model.output_shape
    )
    role = parsed["Role"]
    assert role["CreateDate"] == created
    assert role["Tags"] == [{"Key": "a", "Value": "b & c"}]
    assert role["MaxSessionDuration"] == 3600
    # IAM sends documents URL-encoded (the SDKs decode them in a later handler).
    assert unquote(role["AssumeRolePolicyDocument"]) == document
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_an_error_is_rendered_with_the_query_code_and_fault() -> None:
    response = query.error_response(
        AWSError("bad \x00 value", code="ValidationException", status=400), "req-2", "iam"
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "<Type>Sender</Type><Code>ValidationError</Code>" in body
    assert "\x00" not in body and "bad \ufffd value" in body
    server = query.error_response(AWSError("boom", code="ServiceFailure", status=500), "r", None)
    assert b"<Type>Receiver</Type>" in server.content


def test_the_form_is_bounded() -> None:
    with pytest.raises(AWSError) as exc:
        query.parse_form(b"&".join(b"a%d=1" % i for i in range(query.MAX_FIELDS + 1)))
    assert exc.value.code == "MalformedInput"
    with pytest.raises(AWSError):
        query.parse_form(b"Action=\xff")
