"""Crafted input (issue 10, item 11): every API answers garbage with its own 4xx, never a 500.

A tenant holding an access key sends what no SDK would: 10,000 nested brackets, ``NaN``,
bad UTF-8, a forged pagination token, an Invoke declaring 80 MB, a multipart body where
JSON is expected. Each gets the service's error shape and status; the server's log shows no
traceback. The fuzz tests walk the URLconf, so a route added later is covered too.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from django.test import Client
from django.urls import URLPattern, URLResolver

from conftest import Credentials, LiveServer, client_error, create_function, make_zip
from console.tests.raw_http import RawResponse, send, sign

DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
LOGS_TARGET = "Logs_20140328"
METRICS_TARGET = "GraniteServiceVersion20100801"

# What no SDK sends: each must be refused with a 4xx (or accepted), never a 500.
GARBAGE: list[tuple[str, bytes]] = [
    ("application/json", DEEP),
    ("application/json", DEEP_OBJECT),
    ("application/json", b"\xff\xfe\x00\x81not utf-8"),
    ("application/json", b'{"MemorySize": 1e999, "Timeout": NaN, "Description": Infinity}'),
    ("application/json", b'{"MemorySize": 123456789012345678901234567890, "Timeout": -1}'),
    ("application/json", b'{"Limit": ' + b"9" * 5000 + b"}"),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b'"just a string"'),
    (
        "application/json",
        b'{"Code": [], "Environment": "x", "Tags": [1], "Layers": {"a": 1}, "Name": {},'
        b' "FunctionVersion": [], "RoutingConfig": 5, "logGroupName": [], "limit": "x",'
        b' "nextToken": {}, "startTime": "y", "logStreamNames": "z", "Statistics": 1}',
    ),
    ("application/json", b""),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="a"'),
    ("application/x-www-form-urlencoded", b"a=1&b=%ff"),
    ("text/plain", b"\x00\x01\x02"),
]
QUERY_GARBAGE = "?Marker=ImFiYyI%3D&MaxItems=abc&Qualifier=%ff%fe&FunctionVersion=%00"


def _call(
    server: LiveServer,
    creds: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    service: str = "lambda",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    signed = sign(server, creds, method, path, body, service=service, headers=headers)
    return send(server, method, path, body, signed)


def _logs(
    server: LiveServer, creds: Credentials, operation: str, body: bytes, target: str = LOGS_TARGET
) -> RawResponse:
    service = "monitoring" if target == METRICS_TARGET else "logs"
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{target}.{operation}",
    }
    return _call(server, creds, "POST", "/", body, service=service, headers=headers)


def _tracebacks(server: LiveServer) -> str:
    """What the server logged about unhandled errors so far."""
    log = Path(server.env["FUNCTORY_DATA_DIR"]) / f"server-{urlsplit(server.url).port}.log"
    text = log.read_text(errors="replace")
    return "\n".join(line for line in text.splitlines() if "Traceback" in line)


# ---- the specific holes --------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_is_invalid_request_content_on_the_lambda_api(
    functory: LiveServer, credentials: Credentials, body: bytes
) -> None:
    response = _call(functory, credentials, "POST", "/2015-03-31/functions", body)
    assert (response.status, response.error_type) == (400, "InvalidRequestContentException")
    assert response.json()["message"].startswith("Could not parse request body into json")


def test_nan_and_infinity_are_not_json(functory: LiveServer, credentials: Credentials) -> None:
    for body in (b'{"FunctionName": "f", "MemorySize": NaN}', b'{"MemorySize": 1e999}'):
        response = _call(functory, credentials, "POST", "/2015-03-31/functions", body)
        assert (response.status, response.error_type) == (400, "InvalidRequestContentException")


def test_deep_json_is_a_serialization_error_on_logs_and_cloudwatch(
    functory: LiveServer, credentials: Credentials
) -> None:
    for operation in ("CreateLogGroup", "DescribeLogGroups", "FilterLogEvents"):
        response = _logs(functory, credentials, operation, DEEP_OBJECT)
        assert (response.status, response.error_type) == (400, "SerializationException")
    response = _logs(functory, credentials, "GetMetricStatistics", DEEP, METRICS_TARGET)
    assert (response.status, response.error_type) == (400, "SerializationException")


def test_a_deep_invoke_payload_is_invalid_request_content(lam: Any, raw_lam: Any) -> None:
    name = f"deep-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    with pytest.raises(raw_lam.exceptions.InvalidRequestContentException) as excinfo:
        raw_lam.invoke(FunctionName=name, Payload=DEEP)
    assert client_error(excinfo)[2] == 400


@pytest.mark.parametrize(
    "path",
    [
        "/2015-03-31/functions",
        "/2015-03-31/functions/{name}/versions",
        "/2015-03-31/functions/{name}/aliases",
        "/2018-10-31/layers",
        "/2018-10-31/layers/{name}/versions",
        "/2019-09-25/functions/{name}/event-invoke-config/list",
    ],
)
@pytest.mark.parametrize(
    "marker",
    [
        "ImFiYyI=",  # the JSON string "abc" where a position object is expected
        base64.urlsafe_b64encode(b'{"n": 99999999999999999999999999}').decode(),
        base64.urlsafe_b64encode(b"[1e999, null]").decode(),
        base64.urlsafe_b64encode(b"12345678901234567890123").decode(),
        "%%%not-base64",
    ],
)
def test_a_crafted_marker_is_an_invalid_parameter(
    functory: LiveServer, credentials: Credentials, lam: Any, path: str, marker: str
) -> None:
    name = f"mark-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip()})
    query = "?Marker=" + marker.replace("%", "%25").replace("=", "%3D")
    response = _call(functory, credentials, "GET", path.format(name=name) + query)
    assert (response.status, response.error_type) == (400, "InvalidParameterValueException")


def test_a_marker_from_one_list_is_refused_by_another(lam: Any, raw_lam: Any) -> None:
    names = [f"page-{uuid.uuid4().hex[:8]}-{i}" for i in range(2)]
    for name in names:
        create_function(lam, name)
    lam.create_alias(FunctionName=names[0], Name="a1", FunctionVersion="$LATEST")
    lam.create_alias(FunctionName=names[0], Name="a2", FunctionVersion="$LATEST")
    alias_marker = lam.list_aliases(FunctionName=names[0], MaxItems=1)["NextMarker"]
    with pytest.raises(raw_lam.exceptions.InvalidParameterValueException):
        raw_lam.list_versions_by_function(FunctionName=names[0], Marker=alias_marker)


@pytest.mark.parametrize(
    "token",
    [
        "ImFiYyI=",
        base64.urlsafe_b64encode(b'{"k": "streams", "t": "x", "i": []}').decode(),
        base64.urlsafe_b64encode(b'{"k": "events", "d": "f", "t": 1e999}').decode(),
        base64.urlsafe_b64encode(b'{"k": "groups", "n": {"a": 1}}').decode(),
        "f/" + "9" * 56,
        "b/" + "٣" * 56,
    ],
)
def test_a_crafted_next_token_is_an_invalid_parameter(
    functory: LiveServer, credentials: Credentials, token: str
) -> None:
    group = f"/crafted/{uuid.uuid4().hex[:8]}"
    assert _logs(functory, credentials, "CreateLogGroup", _j(logGroupName=group)).status == 200
    stream = {"logGroupName": group, "logStreamName": "s"}
    assert _logs(functory, credentials, "CreateLogStream", _j(**stream)).status == 200
    for operation, params in (
        ("DescribeLogGroups", {}),
        ("DescribeLogStreams", {"logGroupName": group}),
        ("DescribeLogStreams", {"logGroupName": group, "orderBy": "LastEventTime"}),
        ("FilterLogEvents", {"logGroupName": group}),
        ("GetLogEvents", stream),
    ):
        response = _logs(functory, credentials, operation, _j(nextToken=token, **params))
        assert (response.status, response.error_type) == (400, "InvalidParameterException"), (
            operation,
            response.body,
        )
        assert response.json()["message"] == "The specified nextToken is invalid."


def _j(**params: Any) -> bytes:
    return json.dumps(params).encode()


def test_an_invoke_declaring_80_mb_is_refused_before_the_body_is_read(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    name = f"huge-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    path = f"/2015-03-31/functions/{name}/invocations"
    for invocation_type in ("RequestResponse", "Event"):
        headers = {"X-Amz-Invocation-Type": invocation_type}
        signed = sign(functory, credentials, "POST", path, b"{}", headers=headers)
        # Nothing of the declared 80 MB is sent: an answer at all proves it was not awaited.
        response = send(functory, "POST", path, b"", signed, content_length=80 * 1024 * 1024)
        assert (response.status, response.error_type) == (413, "RequestEntityTooLargeException")
        assert b"6291456 bytes for the InvokeFunction operation" in response.body


def test_an_event_payload_over_1_mb_is_refused(lam: Any) -> None:
    name = f"event-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    fits = json.dumps({"data": "x" * (1024 * 1024 - 20)})
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=fits)["StatusCode"] == 202
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=fits + " " * 100)
    code, message, status = client_error(excinfo)
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert message.endswith(
        "byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )


# ---- the console's JSON endpoints (in-process, with a session) -------------------------


def _console_client(account_id: str) -> tuple[Client, str]:
    from functions.services import functions as function_services
    from iam import services

    account = services.account_get_or_create(account_id)
    user = f"fuzz{uuid.uuid4().hex[:6]}"
    password = f"Pw-{uuid.uuid4().hex}"
    services.user_create(username=user, account=account, password=password)
    function_services.function_create(
        account=account,
        name="fuzzed",
        params={
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": "arn:aws:iam::111111111111:role/r",
            "Code": {"ZipFile": base64.b64encode(make_zip()).decode()},
        },
    )
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user, password=password)
    client.get("/functions/new/")
    return client, client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_a_multipart_body_to_a_json_console_endpoint_is_an_unsupported_media_type() -> None:
    client, csrf = _console_client("210000000001")
    response = client.post(
        "/_console/functions/fuzzed/runtime",
        {"runtime": "python3.12", "file": b"data"},
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 415
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["code"] == "UnsupportedMediaTypeException"


def _console_paths() -> list[str]:
    """Every console route, its parameters filled in with the fuzzed function's names."""
    from console.pages.urls import urlpatterns

    values = {"name": "fuzzed", "number": "1", "username": "nobody", "key_id": "AKIAX"}
    paths = []
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        paths.append(
            "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "x"), route)
        )
    return paths


@pytest.mark.django_db(transaction=True)
def test_no_console_endpoint_answers_garbage_with_a_500() -> None:
    client, csrf = _console_client("210000000002")
    failures = []
    for path in _console_paths():
        for method in ("post", "put", "delete"):
            for content_type, body in GARBAGE:
                response = getattr(client, method)(
                    path, body, content_type=content_type, HTTP_X_CSRFTOKEN=csrf
                )
                if response.status_code >= 500:
                    failures.append((method, path, content_type, body[:40]))
        if client.get(path + QUERY_GARBAGE).status_code >= 500:
            failures.append(("get", path, "", b""))
    assert failures == []


# ---- every AWS route, from the URLconf -------------------------------------------------


def _api_routes() -> list[tuple[str, list[str]]]:
    """(path regex, methods) of every Lambda API route, from the URLconf."""
    from functions.urls import urlpatterns as function_routes
    from invocations.urls import urlpatterns as invocation_routes

    routes = []
    for pattern in [*function_routes, *invocation_routes]:
        if isinstance(pattern, URLResolver) or not isinstance(pattern, URLPattern):
            continue
        regex = str(pattern.pattern)
        closure = inspect.getclosurevars(inspect.unwrap(pattern.callback)).nonlocals
        views = closure.get("views")
        methods = list(views) if isinstance(views, dict) else ["POST", "GET"]
        routes.append((regex, methods))
    return routes


def _fill(regex: str, name: str) -> str:
    values = {
        "function_name": name,
        "layer_name": name,
        "version_number": "1",
        "statement_id": "sid",
        "name": "alias",
        "resource": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        "token": "x",
    }
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "x"), regex)
    path = path.removeprefix("^").removesuffix("$").removesuffix("/?")
    path = path.replace("<str:token>", "x")
    return "/" + path.lstrip("/")


def test_no_lambda_route_answers_garbage_with_a_500(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip()})
    failures = []
    for regex, methods in _api_routes():
        path = _fill(regex, name)
        for method in methods:
            for content_type, body in GARBAGE:
                headers = {"Content-Type": content_type}
                response = _call(functory, credentials, method, path, body, headers=headers)
                if response.status >= 500:
                    failures.append((method, path, content_type, body[:40], response.body[:200]))
            response = _call(functory, credentials, method, path + QUERY_GARBAGE)
            if response.status >= 500:
                failures.append((method, path + QUERY_GARBAGE, "", b"", response.body[:200]))
    assert failures == []
    assert _tracebacks(functory) == ""


def test_no_logs_or_cloudwatch_operation_answers_garbage_with_a_500(
    functory: LiveServer, credentials: Credentials
) -> None:
    from monitoring.metrics.cloudwatch import OPERATIONS as METRIC_OPERATIONS

    logs_operations = _logs_operations()
    failures = []
    for target, operations in ((LOGS_TARGET, logs_operations), (METRICS_TARGET, METRIC_OPERATIONS)):
        for operation in operations:
            for _content_type, body in GARBAGE:
                response = _logs(functory, credentials, operation, body, target)
                if response.status >= 500:
                    failures.append((operation, body[:40], response.body[:200]))
    assert failures == []
    assert _tracebacks(functory) == ""


def _logs_operations() -> list[str]:
    from monitoring import api

    closure = inspect.getclosurevars(inspect.unwrap(api.dispatch)).nonlocals
    operations: dict[str, Any] = closure["operations"]
    return list(operations)


# ---- what a function returns is crafted input too ---------------------------------------


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT, b"NaN", b'{"a": Infinity}'])
def test_a_crafted_function_result_is_shown_as_text(payload: bytes) -> None:
    """A function can answer the Runtime API with any bytes; the console's test result and
    the destination record show them as text instead of failing on them."""
    from console.pages.testing import _result
    from invocations.destinations import _json_or_text
    from invocations.executor.runtime_api import _error_type
    from invocations.executor.spec import InvokeResult
    from invocations.services import SyncInvocation

    assert _json_or_text(payload) == payload.decode()
    done = SyncInvocation(InvokeResult(request_id="r", payload=payload), "$LATEST", "")
    shown = _result("r", done)
    json.dumps(shown, allow_nan=False)
    assert shown["response"] == payload.decode()
    _error_type(payload)  # no RecursionError out of the Runtime API
