"""The query protocol shell (IAM, STS) attacked with hand-made requests: unknown actions,
wrong versions, malformed and oversized forms, lists with holes or absurd indexes; every
answer is AWS's XML error with its status, never a 500."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from awsapi.service_models import service_model
from conftest import Credentials, LiveServer, client_for
from console.tests.raw_http import RawResponse, send, signed
from iam import api
from iam.tests.test_iam_api import create_admin

FORM = "application/x-www-form-urlencoded; charset=utf-8"
NS = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/"}


@pytest.fixture(scope="module")
def admin(functory: LiveServer) -> Credentials:
    return create_admin(functory)


def call(
    server: LiveServer, creds: Credentials, body: bytes | str, service: str = "iam"
) -> RawResponse:
    data = body.encode() if isinstance(body, str) else body
    return signed(server, creds, "POST", "/", data, service=service, headers={"Content-Type": FORM})


def error(response: RawResponse) -> tuple[int, str, str, str]:
    root = ET.fromstring(response.body)
    found = root.find("{*}Error")
    assert found is not None, response.body
    return (
        response.status,
        found.findtext("{*}Type") or "",
        found.findtext("{*}Code") or "",
        found.findtext("{*}Message") or "",
    )


def test_a_result_is_wrapped_as_aws_wraps_it(functory: LiveServer, admin: Credentials) -> None:
    response = call(functory, admin, "Action=GetUser&Version=2010-05-08")
    assert response.status == 200
    root = ET.fromstring(response.body)
    assert root.tag == "{https://iam.amazonaws.com/doc/2010-05-08/}GetUserResponse"
    assert root.findtext("iam:GetUserResult/iam:User/iam:UserName", namespaces=NS) == (
        admin.user_name
    )
    created = root.findtext("iam:GetUserResult/iam:User/iam:CreateDate", namespaces=NS) or ""
    assert created.endswith("Z") and "T" in created
    assert (
        root.findtext("iam:ResponseMetadata/iam:RequestId", namespaces=NS)
        == (response.headers["x-amzn-requestid"])
    )


def test_an_unknown_action_is_invalid_action(functory: LiveServer, admin: Credentials) -> None:
    response = call(functory, admin, "Action=StealEverything&Version=2010-05-08")
    assert error(response) == (
        400,
        "Sender",
        "InvalidAction",
        "Could not find operation StealEverything for version 2010-05-08",
    )


def test_another_version_is_invalid_action(functory: LiveServer, admin: Credentials) -> None:
    response = call(functory, admin, "Action=GetUser&Version=2099-01-01")
    assert error(response)[:3] == (400, "Sender", "InvalidAction")
    response = call(functory, admin, "Action=GetUser")
    assert error(response)[3] == "Could not find operation GetUser for version NO_VERSION_SPECIFIED"


def test_an_sts_action_signed_for_iam_is_not_an_iam_action(
    functory: LiveServer, admin: Credentials
) -> None:
    response = call(functory, admin, "Action=GetCallerIdentity&Version=2011-06-15")
    assert error(response)[2] == "InvalidAction"


def test_an_unsigned_call_is_refused(functory: LiveServer) -> None:
    response = send(
        functory,
        "POST",
        "/",
        b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": FORM},
    )
    assert error(response)[:3] == (403, "Sender", "MissingAuthenticationToken")


def test_a_bad_number_is_a_validation_error(functory: LiveServer, admin: Credentials) -> None:
    response = call(functory, admin, "Action=ListUsers&Version=2010-05-08&MaxItems=lots")
    assert error(response)[:3] == (400, "Sender", "ValidationError")
    response = call(functory, admin, "Action=ListUsers&Version=2010-05-08&MaxItems=0")
    assert error(response) == (
        400,
        "Sender",
        "ValidationError",
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    )


def test_too_many_fields_are_refused(functory: LiveServer, admin: Credentials) -> None:
    body = "Action=ListUsers&Version=2010-05-08&" + "&".join(f"f{i}=x" for i in range(2000))
    response = call(functory, admin, body)
    assert error(response)[:3] == (400, "Sender", "MalformedInput")


def test_a_body_that_is_not_utf8_is_refused(functory: LiveServer, admin: Credentials) -> None:
    response = call(functory, admin, b"Action=ListUsers&Version=2010-05-08&PathPrefix=\xff\xfe")
    assert response.status == 400
    assert error(response)[2] in {"MalformedInput", "ValidationError"}


def test_an_oversized_body_is_refused_unread(functory: LiveServer, admin: Credentials) -> None:
    body = "Action=ListUsers&Version=2010-05-08&PathPrefix=/" + "a" * (600 * 1024)
    response = call(functory, admin, body)
    assert error(response)[:3] == (413, "Sender", "RequestEntityTooLarge")


def test_list_members_past_a_hole_or_at_absurd_indexes_are_ignored(
    functory: LiveServer, admin: Credentials
) -> None:
    body = urlencode(
        {
            "Action": "CreateUser",
            "Version": "2010-05-08",
            "UserName": "holey",
            "Tags.member.1.Key": "a",
            "Tags.member.1.Value": "1",
            "Tags.member.3.Key": "c",
            "Tags.member.3.Value": "3",
            "Tags.member.99999999999999999999.Key": "z",
            "Tags.member.-1.Key": "y",
            "Tags.member.1.Key.member.1.x": "deep",
        }
    )
    response = call(functory, admin, body)
    assert response.status == 200, response.body
    tags = call(functory, admin, "Action=ListUserTags&Version=2010-05-08&UserName=holey")
    root = ET.fromstring(tags.body)
    keys = [e.text for e in root.findall("iam:ListUserTagsResult/iam:Tags/iam:member/iam:Key", NS)]
    assert keys == ["a"]


def test_a_policy_document_with_xml_in_it_comes_back_intact(
    functory: LiveServer, admin: Credentials
) -> None:
    document = (
        '{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow",'
        '"Action":"lambda:Get*","Resource":"arn:aws:lambda:*:*:function:<&>]]>"}]}'
    )
    call(
        functory,
        admin,
        urlencode({"Action": "CreateUser", "Version": "2010-05-08", "UserName": "xml"}),
    )
    put = call(
        functory,
        admin,
        urlencode(
            {
                "Action": "PutUserPolicy",
                "Version": "2010-05-08",
                "UserName": "xml",
                "PolicyName": "p",
                "PolicyDocument": document,
            }
        ),
    )
    assert put.status == 200, put.body
    got = call(
        functory,
        admin,
        "Action=GetUserPolicy&Version=2010-05-08&UserName=xml&PolicyName=p",
    )
    root = ET.fromstring(got.body)
    text = root.findtext("iam:GetUserPolicyResult/iam:PolicyDocument", namespaces=NS) or ""
    assert unquote(text) == document


def test_a_tag_with_a_control_character_is_a_validation_error(
    functory: LiveServer, admin: Credentials
) -> None:
    body = urlencode(
        {
            "Action": "CreateUser",
            "Version": "2010-05-08",
            "UserName": "nul-tag",
            "Tags.member.1.Key": "k",
            "Tags.member.1.Value": "a\x00b",
        }
    )
    status, kind, code, message = error(call(functory, admin, body))
    assert (status, kind, code) == (400, "Sender", "ValidationError")
    assert "at 'tags.1.member.value' failed to satisfy constraint" in message


def _odd_value(shape: Any, plain: bool, depth: int = 0) -> Any:
    """A value of the member's type that no operation expects: odd text and extremes, or
    (``plain``) valid-looking names of nothing that exists."""
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _odd_value(member, plain, depth + 1)
            for name, member in shape.members.items()
            if depth < 3 and name in shape.required_members
        }
    if kind == "list":
        return [_odd_value(shape.member, plain, depth + 1)]
    if kind == "map":
        return {"k": _odd_value(shape.value, plain, depth + 1)}
    if kind in {"integer", "long"}:
        return 3600 if plain else 2**40
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return "2020-01-01T00:00:00Z"
    if plain:
        return "arn:aws:iam::123456789012:role/x1" if "arn" in shape.name.lower() else "x1"
    return "arn:aws:iam::123456789012:policy/a\u00e9/../\u0000{}"


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("service", ["iam", "sts"])
def test_no_operation_answers_odd_input_with_a_server_error(
    functory: LiveServer, admin: Credentials, service: str, plain: bool
) -> None:
    model = service_model(service)
    served = api.IAM_OPERATIONS if service == "iam" else api.STS_OPERATIONS
    client = client_for(functory, admin, service, validate=False)
    for operation in sorted(served):
        shape = model.operation_model(operation).input_shape
        params = (
            {name: _odd_value(member, plain) for name, member in shape.members.items()}
            if shape is not None
            else {}
        )
        method = getattr(client, xform_name(operation))
        try:
            method(**params)
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status < 500, (operation, exc.response["Error"])


def test_a_field_name_nested_absurdly_deep_is_ignored(
    functory: LiveServer, admin: Credentials
) -> None:
    deep = "Tags" + ".member.1" * 40_000 + ".Key"
    body = urlencode({"Action": "CreateUser", "Version": "2010-05-08", "UserName": "deep"})
    response = call(functory, admin, body + "&" + deep + "=x")
    assert response.status == 200, response.body
    tags = call(functory, admin, "Action=ListUserTags&Version=2010-05-08&UserName=deep")
    assert ET.fromstring(tags.body).findall("{*}ListUserTagsResult/{*}Tags/{*}member") == []


@pytest.mark.parametrize("offset", ["9" * 40, "-5", "x"])
def test_a_marker_we_did_not_make_is_invalid_input(
    functory: LiveServer, admin: Credentials, offset: str
) -> None:
    marker = base64.urlsafe_b64encode(offset.encode()).decode()
    response = call(functory, admin, f"Action=ListUsers&Version=2010-05-08&Marker={marker}")
    assert error(response) == (400, "Sender", "InvalidInput", "Invalid Marker.")
