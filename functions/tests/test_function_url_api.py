"""The function URL API (Create/Get/Update/Delete/ListFunctionUrlConfig(s)) against the live
server, with boto3 and the AWS CLI: AWS's statuses, members and messages."""

from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
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
    create_user,
)
from console.tests.raw_http import signed
from functions.tests.test_cli_smoke import Cli

pytestmark = pytest.mark.live

QUALIFIER_PATTERN = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
RESOURCE_MISSING = "The resource you requested does not exist."
FUNCTION_MISSING = "Function does not exist"


def _url_re(server: LiveServer) -> re.Pattern[str]:
    return re.compile(re.escape(server.url) + r"/lambda-url/([a-z0-9]{32})/")


def _with_alias(lam: Any, name: str, alias: str = "live") -> str:
    arn = str(create_function(lam, name)["FunctionArn"])
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    return arn


def _fails(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return client_error(excinfo)


def test_it_creates_gets_updates_and_deletes_a_url(functory: LiveServer, lam: Any) -> None:
    arn = str(create_function(lam, "web")["FunctionArn"])
    created = lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    body = {k: v for k, v in created.items() if k != "ResponseMetadata"}
    # Create answers without LastModifiedTime, and without InvokeMode when none was given.
    assert set(body) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime"}
    assert body["FunctionArn"] == arn
    assert body["AuthType"] == "NONE"
    assert _url_re(functory).fullmatch(body["FunctionUrl"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["CreationTime"])

    assert _fails(lam.create_function_url_config, FunctionName="web", AuthType="AWS_IAM") == (
        "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {arn}]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function",
        409,
    )

    got = lam.get_function_url_config(FunctionName="web")
    assert got["FunctionUrl"] == body["FunctionUrl"]
    assert got["InvokeMode"] == "BUFFERED"
    assert got["CreationTime"] == body["CreationTime"]
    assert got["LastModifiedTime"] >= got["CreationTime"]
    assert "Cors" not in got

    cors = {
        "AllowOrigins": ["https://app.example.com", "http://localhost:8080"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["x-request-id"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    with_cors = lam.update_function_url_config(FunctionName="web", Cors=cors)
    assert with_cors["Cors"] == cors
    assert with_cors["AuthType"] == "NONE"
    assert "InvokeMode" not in with_cors

    # Only the members given change: the auth type leaves CORS and the URL alone.
    updated = lam.update_function_url_config(
        FunctionName="web", AuthType="AWS_IAM", InvokeMode="RESPONSE_STREAM"
    )
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == cors
    assert updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["FunctionUrl"] == body["FunctionUrl"]
    assert updated["CreationTime"] == body["CreationTime"]
    assert updated["LastModifiedTime"] >= with_cors["LastModifiedTime"]

    # A given Cors replaces the whole structure.
    replaced = lam.update_function_url_config(FunctionName="web", Cors={"AllowOrigins": ["*"]})
    assert replaced["Cors"] == {"AllowOrigins": ["*"]}
    assert lam.get_function_url_config(FunctionName="web")["InvokeMode"] == "RESPONSE_STREAM"

    deleted = lam.delete_function_url_config(FunctionName="web")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (lam.get_function_url_config, lam.delete_function_url_config):
        assert _fails(call, FunctionName="web") == (
            "ResourceNotFoundException",
            RESOURCE_MISSING,
            404,
        )
    assert _fails(lam.update_function_url_config, FunctionName="web", AuthType="NONE") == (
        "ResourceNotFoundException",
        RESOURCE_MISSING,
        404,
    )


def test_a_url_belongs_to_latest_or_an_alias_one_each(functory: LiveServer, lam: Any) -> None:
    arn = _with_alias(lam, "aliased")
    latest = lam.create_function_url_config(FunctionName="aliased", AuthType="NONE")
    by_alias = lam.create_function_url_config(
        FunctionName="aliased", Qualifier="live", AuthType="AWS_IAM", InvokeMode="BUFFERED"
    )
    assert by_alias["FunctionArn"] == f"{arn}:live"
    assert by_alias["InvokeMode"] == "BUFFERED"
    assert by_alias["FunctionUrl"] != latest["FunctionUrl"]
    # The alias in the name is the same as the Qualifier member.
    assert lam.get_function_url_config(FunctionName="aliased:live")["AuthType"] == "AWS_IAM"
    assert lam.get_function_url_config(FunctionName=arn)["AuthType"] == "NONE"
    conflict = _fails(lam.create_function_url_config, FunctionName=f"{arn}:live", AuthType="NONE")
    assert conflict[0] == "ResourceConflictException"
    assert f"[functionArn = {arn}:live]" in conflict[1]


def test_a_version_or_latest_qualifier_is_refused_as_aws_does(lam: Any) -> None:
    _with_alias(lam, "quals")
    for qualifier in ("1", "2", "$LATEST"):
        expected = (
            "ValidationException",
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
            f"satisfy constraint: Member must satisfy regular expression pattern: "
            f"{QUALIFIER_PATTERN}",
            400,
        )
        for call, extra in (
            (lam.create_function_url_config, {"AuthType": "NONE"}),
            (lam.get_function_url_config, {}),
            (lam.update_function_url_config, {"AuthType": "NONE"}),
            (lam.delete_function_url_config, {}),
        ):
            assert _fails(call, FunctionName="quals", Qualifier=qualifier, **extra) == expected


def test_missing_functions_and_aliases_get_each_operations_text(lam: Any) -> None:
    _with_alias(lam, "present")
    for name, qualifier in (("absent", None), ("present", "nosuch")):
        target: dict[str, Any] = {"FunctionName": name}
        if qualifier:
            target["Qualifier"] = qualifier
        assert _fails(lam.create_function_url_config, AuthType="NONE", **target) == (
            "ResourceNotFoundException",
            FUNCTION_MISSING,
            404,
        )
        assert _fails(lam.update_function_url_config, AuthType="NONE", **target) == (
            "ResourceNotFoundException",
            FUNCTION_MISSING,
            404,
        )
        for call in (lam.get_function_url_config, lam.delete_function_url_config):
            assert _fails(call, **target) == ("ResourceNotFoundException", RESOURCE_MISSING, 404)
    assert _fails(lam.list_function_url_configs, FunctionName="absent") == (
        "ResourceNotFoundException",
        FUNCTION_MISSING,
        404,
    )
    assert _fails(lam.get_function_url_config, FunctionName="present:live", Qualifier="other") == (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
        400,
    )


def test_another_accounts_function_is_not_found(functory: LiveServer, lam: Any) -> None:
    arn = str(create_function(lam, "mine")["FunctionArn"])
    lam.create_function_url_config(FunctionName="mine", AuthType="NONE")
    other = client_for(functory, create_user(functory))
    # Refused before anything is looked up: the function's policy grants the caller nothing.
    refused = _fails(other.create_function_url_config, FunctionName=arn, AuthType="NONE")
    assert (refused[0], refused[2]) == ("AccessDeniedException", 403)
    for call in (other.get_function_url_config, other.delete_function_url_config):
        assert _fails(call, FunctionName=arn)[2] == 403
    assert _fails(other.update_function_url_config, FunctionName=arn, AuthType="AWS_IAM")[2] == 403
    assert _fails(other.list_function_url_configs, FunctionName=arn)[2] == 403
    assert lam.get_function_url_config(FunctionName="mine")["AuthType"] == "NONE"


def test_it_lists_urls_page_by_page(lam: Any) -> None:
    create_function(lam, "many")
    lam.publish_version(FunctionName="many")
    expected = {"$LATEST"}
    lam.create_function_url_config(FunctionName="many", AuthType="NONE")
    for alias in ("a", "b", "c"):
        lam.create_alias(FunctionName="many", Name=alias, FunctionVersion="1")
        lam.create_function_url_config(FunctionName="many", Qualifier=alias, AuthType="NONE")
        expected.add(alias)
    everything = lam.list_function_url_configs(FunctionName="many")
    assert "NextMarker" not in everything
    assert len(everything["FunctionUrlConfigs"]) == 4
    assert all(c["InvokeMode"] == "BUFFERED" for c in everything["FunctionUrlConfigs"])
    seen: list[str] = []
    marker = None
    while True:
        page = lam.list_function_url_configs(
            FunctionName="many", MaxItems=1, **({"Marker": marker} if marker else {})
        )
        assert len(page["FunctionUrlConfigs"]) == 1
        seen += [c["FunctionArn"] for c in page["FunctionUrlConfigs"]]
        marker = page.get("NextMarker")
        if marker is None:
            break
    assert sorted(seen) == sorted(c["FunctionArn"] for c in everything["FunctionUrlConfigs"])
    paginated = [
        c["FunctionUrl"]
        for page in lam.get_paginator("list_function_url_configs").paginate(
            FunctionName="many", PaginationConfig={"PageSize": 3}
        )
        for c in page["FunctionUrlConfigs"]
    ]
    assert len(set(paginated)) == 4
    assert _fails(lam.list_function_url_configs, FunctionName="many", Marker="forged")[0] == (
        "InvalidParameterValueException"
    )
    assert _fails(lam.list_function_url_configs, FunctionName="many", MaxItems=51)[0] == (
        "ValidationException"
    )


def test_deleting_an_alias_or_the_function_removes_its_urls(lam: Any) -> None:
    _with_alias(lam, "gone")
    lam.create_function_url_config(FunctionName="gone", AuthType="NONE")
    lam.create_function_url_config(FunctionName="gone", Qualifier="live", AuthType="NONE")
    lam.delete_alias(FunctionName="gone", Name="live")
    remaining = lam.list_function_url_configs(FunctionName="gone")["FunctionUrlConfigs"]
    assert [c["FunctionArn"].split(":")[-1] for c in remaining] == ["gone"]
    # An alias made again under the old name has no URL of its own.
    lam.create_alias(FunctionName="gone", Name="live", FunctionVersion="1")
    assert _fails(lam.get_function_url_config, FunctionName="gone", Qualifier="live")[2] == 404

    lam.delete_function(FunctionName="gone")
    create_function(lam, "gone")
    assert lam.list_function_url_configs(FunctionName="gone")["FunctionUrlConfigs"] == []


def test_auth_type_and_invoke_mode_are_checked_against_the_model(raw_lam: Any) -> None:
    create_function(raw_lam, "enums")
    assert _fails(raw_lam.create_function_url_config, FunctionName="enums", AuthType="OPEN") == (
        "ValidationException",
        "1 validation error detected: Value 'OPEN' at 'authType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [NONE, AWS_IAM]",
        400,
    )
    assert _fails(
        raw_lam.create_function_url_config, FunctionName="enums", AuthType="NONE", InvokeMode="X"
    ) == (
        "ValidationException",
        "1 validation error detected: Value 'X' at 'invokeMode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]",
        400,
    )
    assert _fails(raw_lam.create_function_url_config, FunctionName="enums")[:2] == (
        "ValidationException",
        "1 validation error detected: Value null at 'authType' failed to satisfy constraint: "
        "Member must not be null",
    )
    assert raw_lam.list_function_url_configs(FunctionName="enums")["FunctionUrlConfigs"] == []


@pytest.mark.parametrize(
    ("cors", "code", "text"),
    [
        (
            {"AllowOrigins": [f"https://o{i}.example.com" for i in range(101)]},
            "ValidationException",
            "at 'cors.allowOrigins' failed to satisfy constraint: Member must have length less "
            "than or equal to 100",
        ),
        (
            {"AllowHeaders": ["x"] * 101, "ExposeHeaders": ["y"] * 101},
            "ValidationException",
            "2 validation errors detected",
        ),
        (
            {"AllowMethods": ["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"]},
            "ValidationException",
            "at 'cors.allowMethods' failed to satisfy constraint: Member must have length less "
            "than or equal to 6",
        ),
        (
            {"AllowOrigins": ["https://" + "a" * 250]},
            "ValidationException",
            "at 'cors.allowOrigins.1.member' failed to satisfy constraint: Member must have "
            "length less than or equal to 253",
        ),
        ({"MaxAge": 86401}, "ValidationException", "less than or equal to 86400"),
        ({"MaxAge": -1}, "ValidationException", "greater than or equal to 0"),
        ({"AllowOrigins": ["example.com"]}, "InvalidParameterValueException", "example.com"),
        ({"AllowOrigins": ["https://a.example/path"]}, "InvalidParameterValueException", "/path"),
        ({"AllowOrigins": ["javascript:alert(1)"]}, "InvalidParameterValueException", "origin"),
        # A line break fails the model's '.*' already (Java's '.' matches none either).
        (
            {"AllowOrigins": ["https://a.example\r\nSet-Cookie: x=1"]},
            "ValidationException",
            "Member must satisfy regular expression pattern: .*",
        ),
        ({"AllowMethods": ["TRACE"]}, "InvalidParameterValueException", "TRACE"),
        ({"AllowMethods": ["get"]}, "InvalidParameterValueException", "method get"),
        (
            {"AllowHeaders": ["x-ok", "bad\r\nheader"]},
            "ValidationException",
            "at 'cors.allowHeaders.2.member' failed to satisfy constraint",
        ),
        ({"AllowHeaders": ["x-ok", "bad:header"]}, "InvalidParameterValueException", "bad:"),
        ({"ExposeHeaders": [""]}, "InvalidParameterValueException", "ExposeHeaders"),
        ({"ExposeHeaders": ["a b"]}, "InvalidParameterValueException", "ExposeHeaders"),
    ],
)
def test_hostile_cors_is_refused_and_changes_nothing(
    raw_lam: Any, cors: dict[str, Any], code: str, text: str
) -> None:
    name = f"cors-{uuid.uuid4().hex[:8]}"
    create_function(raw_lam, name)
    code_got, message, status = _fails(
        raw_lam.create_function_url_config, FunctionName=name, AuthType="NONE", Cors=cors
    )
    assert (code_got, status) == (code, 400)
    assert text in message
    assert raw_lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    raw_lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors={"MaxAge": 5})
    assert _fails(raw_lam.update_function_url_config, FunctionName=name, Cors=cors)[0] == code
    assert raw_lam.get_function_url_config(FunctionName=name)["Cors"] == {"MaxAge": 5}


def test_wildcards_and_ipv6_origins_are_accepted(lam: Any) -> None:
    create_function(lam, "wild")
    cors = {
        "AllowOrigins": ["*", "http://[::1]:3000", "https://sub.domain-1.example.org"],
        "AllowMethods": ["*"],
        "AllowHeaders": ["*", "Content-Type", "X-Amz-Date"],
        "ExposeHeaders": ["*"],
    }
    created = lam.create_function_url_config(FunctionName="wild", AuthType="NONE", Cors=cors)
    assert created["Cors"] == cors


def test_crafted_bodies_get_a_4xx(functory: LiveServer, credentials: Credentials, lam: Any) -> None:
    create_function(lam, "crafted")
    path = "/2021-10-31/functions/crafted/url"
    bodies = [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"AuthType": "NONE", "Cors": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001,
        json.dumps({"AuthType": "NONE", "Cors": {"AllowOrigins": [[["*"]]]}}).encode(),
        json.dumps({"AuthType": "NONE", "Cors": {"MaxAge": "300"}}).encode(),
        json.dumps({"AuthType": "NONE", "Cors": ["*"]}).encode(),
        json.dumps({"AuthType": ["NONE"]}).encode(),
        b'{"AuthType": "NONE", "Cors": {"MaxAge": 1e999}}',
    ]
    for body in bodies:
        response = signed(functory, credentials, "POST", path, body)
        assert 400 <= response.status < 500, (body[:60], response.status, response.body[:200])
        assert response.error_type
    assert lam.list_function_url_configs(FunctionName="crafted")["FunctionUrlConfigs"] == []


def test_the_aws_cli_manages_a_url(
    functory: LiveServer, credentials: Credentials, tmp_path: Path, lam: Any
) -> None:
    create_function(lam, "clifn")
    cli = Cli(functory, credentials, tmp_path)
    created = cli.json(
        "create-function-url-config",
        "--function-name",
        "clifn",
        "--auth-type",
        "NONE",
        "--cors",
        "AllowOrigins=https://example.com,AllowMethods=GET,MaxAge=60",
    )
    assert _url_re(functory).fullmatch(created["FunctionUrl"])
    assert created["Cors"] == {
        "AllowOrigins": ["https://example.com"],
        "AllowMethods": ["GET"],
        "MaxAge": 60,
    }
    updated = cli.json(
        "update-function-url-config",
        "--function-name",
        "clifn",
        "--auth-type",
        "AWS_IAM",
        "--invoke-mode",
        "RESPONSE_STREAM",
    )
    assert (updated["AuthType"], updated["InvokeMode"]) == ("AWS_IAM", "RESPONSE_STREAM")
    listed = cli.json("list-function-url-configs", "--function-name", "clifn")
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
    assert cli.json("delete-function-url-config", "--function-name", "clifn") is None
    missing = cli.run("get-function-url-config", "--function-name", "clifn")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert RESOURCE_MISSING in missing.stderr


def test_concurrent_creates_make_exactly_one_url(functory: LiveServer, lam: Any) -> None:
    create_function(lam, "racy")

    def create(_: int) -> str:
        try:
            lam.create_function_url_config(FunctionName="racy", AuthType="NONE")
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(create, range(8)))
    assert outcomes == ["ResourceConflictException"] * 7 + ["created"]
    assert len(lam.list_function_url_configs(FunctionName="racy")["FunctionUrlConfigs"]) == 1
