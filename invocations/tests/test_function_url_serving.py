"""Function URLs served as AWS serves them, driven with real HTTP clients (httpx and curl).

One server with a wildcard URL domain, so both the host form (``Host:
<id>.lambda-url.us-east-1.fn.test``) and the path form (``/lambda-url/<id>/``) are tried.
URL configurations are made with the ORM in a ``manage.py shell`` child until the
control-plane API lands (then: ``create_function_url_config`` with boto3).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from conftest import (
    ROOT,
    Credentials,
    LiveServer,
    client_for,
    create_function,
    create_user,
    make_zip,
)
from conftest import run_server as start_server

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

DOMAIN = "fn.test"
REGION = "us-east-1"

APP = r"""
import json, time

def echo(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}

def plain_string(event, context):
    return "Hello, world!"

def plain_dict(event, context):
    return {"message": "Hello, world!"}

def custom(event, context):
    return {"statusCode": 201,
            "headers": {"Content-Type": "text/plain", "My-Custom-Header": "Custom Value",
                        "Access-Control-Allow-Origin": "https://evil.example"},
            "cookies": ["Cookie_1=Value1; Max-Age=60", "Cookie_2=Value2"],
            "body": "created"}

def binary(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
            "isBase64Encoded": True, "body": event.get("body", "")}

def boom(event, context):
    raise ValueError("nope")

def sleepy(event, context):
    time.sleep(5)

def bad_status(event, context):
    return {"statusCode": "teapot"}

def console_cookies(event, context):
    return {"statusCode": 200, "body": "ok",
            "cookies": ["sessionid=planted; Path=/", "CSRFtoken=x; Path=/", "theme=dark"]}

def split_header(event, context):
    return {"statusCode": 200, "headers": {"x-a": "1\r\nset-cookie: injected=1"}}
"""

_MAKE_URL = r"""
import json, secrets, string, sys
import django
django.setup()
from django.utils import timezone
from functions import arns
from functions.models import Function, FunctionUrlConfig, PolicyStatement
from functions.services.policies import build_statement
spec = json.loads(sys.argv[1])
function = Function.objects.get(account_id=spec["account"], name=spec["function"])
alphabet = string.ascii_lowercase + string.digits
url_id = "".join(secrets.choice(alphabet) for _ in range(32))
now = timezone.now()
FunctionUrlConfig.objects.create(
    function=function, qualifier=spec["qualifier"], url_id=url_id, auth_type=spec["auth"],
    cors=spec["cors"], created=now, last_modified=now)
qualifier = "" if spec["qualifier"] == "$LATEST" else spec["qualifier"]
resource = arns.function_arn(function.account_id, function.name, qualifier or None)
for n, (principal, action, extra) in enumerate(spec["grants"]):
    params = {"StatementId": f"s{n}", "Principal": principal, "Action": action, **extra}
    PolicyStatement.objects.create(function=function, qualifier=qualifier, sid=f"s{n}",
                                   statement=build_statement(resource, params))
for n, statement in enumerate(spec["statements"]):
    # Statements AddPermission never writes (a Deny, other conditions), stored as given.
    sid = f"raw{n}"
    statement = {"Sid": sid, "Resource": resource, **statement}
    PolicyStatement.objects.create(function=function, qualifier=qualifier, sid=sid,
                                   statement=statement)
print(url_id)
"""


def public_grants(auth: str = "NONE", principal: str = "*") -> list[Any]:
    """The two statements AWS requires of a URL since October 2025."""
    return [
        (principal, "lambda:InvokeFunctionUrl", {"FunctionUrlAuthType": auth}),
        (principal, "lambda:InvokeFunction", {"InvokedViaFunctionUrl": True}),
    ]


def make_url(
    server: LiveServer,
    account: str,
    function: str,
    *,
    auth: str = "NONE",
    qualifier: str = "$LATEST",
    cors: dict[str, Any] | None = None,
    grants: list[Any] | None = None,
    statements: list[dict[str, Any]] | None = None,
) -> str:
    spec = {
        "account": account,
        "function": function,
        "auth": auth,
        "qualifier": qualifier,
        "cors": cors or {},
        "grants": public_grants(auth) if grants is None else grants,
        "statements": statements or [],
    }
    made = subprocess.run(
        [sys.executable, "-c", _MAKE_URL, json.dumps(spec)],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from start_server(
        tmp_path_factory, {"FUNCTORY_URL_DOMAIN": DOMAIN, "FUNCTORY_URL_SCHEME": "http"}
    )


@pytest.fixture(scope="module")
def owner(server: LiveServer) -> Credentials:
    return create_user(server)


@pytest.fixture(scope="module")
def fns(server: LiveServer, owner: Credentials) -> dict[str, str]:
    """Every handler of APP as a function with a public URL: name -> url id."""
    lam = client_for(server, owner)
    code = make_zip({"app.py": APP})
    urls = {}
    for handler in (
        "echo",
        "plain_string",
        "plain_dict",
        "custom",
        "binary",
        "boom",
        "sleepy",
        "bad_status",
        "split_header",
        "console_cookies",
    ):
        create_function(lam, handler, Handler=f"app.{handler}", Code={"ZipFile": code}, Timeout=2)
        urls[handler] = make_url(server, owner.account_id, handler)
    return urls


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def host(url_id: str) -> str:
    return f"{url_id}.lambda-url.{REGION}.{DOMAIN}"


def path_url(url_id: str, rest: str = "/") -> str:
    return f"/lambda-url/{url_id}{rest}"


def echo_event(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    event: dict[str, Any] = json.loads(response.content)
    return event


# -- the event ------------------------------------------------------------------------------


def test_the_host_form_builds_the_payload_format_2_event(http, fns, owner):
    url_id = fns["echo"]
    response = http.post(
        "/some/path%20x/y?b=2&a=1&a=%2F3",
        headers={
            "Host": host(url_id),
            "Content-Type": "application/json",
            "X-Repeat": "one",
            "User-Agent": "tester/1.0",
            "Cookie": "c1=v1; c2=v2",
        },
        content=b'{"k": "v"}',
    )
    event = echo_event(response)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path%20x/y"
    assert event["rawQueryString"] == "b=2&a=1&a=%2F3"
    assert event["queryStringParameters"] == {"b": "2", "a": "1,/3"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-repeat"] == "one"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"k": "v"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["apiId"] == url_id
    assert context["domainName"] == host(url_id)
    assert context["domainPrefix"] == url_id
    assert context["http"] == {
        "method": "POST",
        "path": "/some/path%20x/y",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tester/1.0",
    }
    assert context["requestId"] == response.headers["x-amzn-requestid"]
    assert context["stage"] == "$default" and context["routeKey"] == "$default"
    assert isinstance(context["timeEpoch"], int)
    assert context["time"].endswith(" +0000") and len(context["time"]) == 26
    assert "authorizer" not in context
    assert context["accountId"] == "anonymous"


def test_the_path_form_gives_the_function_the_rest_of_the_path(http, fns):
    url_id = fns["echo"]
    assert echo_event(http.get(path_url(url_id, "/x/y?q=1")))["rawPath"] == "/x/y"
    assert echo_event(http.get(path_url(url_id, "")))["rawPath"] == "/"
    event = echo_event(http.get(path_url(url_id, "/")))
    assert event["rawPath"] == "/"
    assert "queryStringParameters" not in event and "cookies" not in event
    assert "body" not in event


def test_repeated_headers_are_comma_joined(server, fns):
    raw = subprocess.run(
        [
            "curl",
            "-s",
            "-H",
            "X-Multi: a",
            "-H",
            "X-Multi: b",
            f"{server.url}{path_url(fns['echo'], '/h')}",
        ],
        capture_output=True,
        check=True,
    )
    assert json.loads(raw.stdout)["headers"]["x-multi"] == "a,b"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method_reaches_the_function(http, fns, method):
    response = http.request(method, path_url(fns["echo"], "/m"))
    assert echo_event(response)["requestContext"]["http"]["method"] == method


def test_a_binary_body_is_base64_both_ways(http, fns):
    data = bytes(range(256)) * 10
    event = echo_event(
        http.post(
            path_url(fns["echo"]),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data
    back = http.post(path_url(fns["binary"]), content=data, headers={"Content-Type": "image/png"})
    assert back.status_code == 200
    assert back.content == data
    assert back.headers["content-type"] == "application/octet-stream"


def test_a_text_body_that_is_not_utf8_is_base64(http, fns):
    event = echo_event(
        http.post(
            path_url(fns["echo"]), content=b"\xff\xfe", headers={"Content-Type": "text/plain"}
        )
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


# -- the response ---------------------------------------------------------------------------


def test_a_string_result_is_a_json_body(http, fns):
    response = http.get(path_url(fns["plain_string"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'"Hello, world!"'


def test_an_object_without_status_code_is_a_json_body(http, fns):
    response = http.get(path_url(fns["plain_dict"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"message": "Hello, world!"}


def test_a_structured_result_sets_status_headers_and_cookies(http, fns):
    response = http.get(path_url(fns["custom"]))
    assert response.status_code == 201
    assert response.text == "created"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["my-custom-header"] == "Custom Value"
    assert response.headers.get_list("set-cookie") == [
        "Cookie_1=Value1; Max-Age=60",
        "Cookie_2=Value2",
    ]


@pytest.mark.parametrize("handler", ["boom", "sleepy", "bad_status", "split_header"])
def test_a_failed_or_unusable_result_is_a_502(http, fns, handler):
    response = http.get(path_url(fns[handler]))
    assert response.status_code == 502
    assert response.text == "Internal Server Error"
    assert "set-cookie" not in response.headers
    assert "x-a" not in response.headers


def test_a_url_of_a_function_with_no_concurrency_is_throttled(server, http, owner):
    lam = client_for(server, owner)
    create_function(
        lam, "stopped", Handler="app.plain_dict", Code={"ZipFile": make_zip({"app.py": APP})}
    )
    url_id = make_url(server, owner.account_id, "stopped")
    assert http.get(path_url(url_id)).status_code == 200
    # AWS's way to deactivate a URL: reserved concurrency 0 answers 429.
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    response = http.get(path_url(url_id))
    assert response.status_code == 429
    assert response.headers["x-amzn-errortype"] == "TooManyRequestsException"


# -- CORS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cors_url(server, owner, fns) -> str:
    cors = {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["my-custom-header"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    lam = client_for(server, owner)
    create_function(lam, "cors", Handler="app.custom", Code={"ZipFile": make_zip({"app.py": APP})})
    return make_url(server, owner.account_id, "cors", cors=cors)


def test_a_preflight_is_answered_by_the_platform(http, cors_url):
    response = http.options(
        path_url(cors_url),
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Custom",
        },
    )
    assert response.status_code == 200
    assert response.content == b""  # the function (which answers 201 "created") never ran
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-methods"] == "GET,POST"
    assert response.headers["access-control-allow-headers"] == "x-custom"
    assert response.headers["access-control-max-age"] == "300"
    assert response.headers["access-control-allow-credentials"] == "true"


def test_a_preflight_from_another_origin_gets_no_grant(http, cors_url):
    response = http.options(
        path_url(cors_url),
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_an_actual_request_gets_the_configured_cors_headers_over_the_functions(http, cors_url):
    response = http.get(path_url(cors_url), headers={"Origin": "https://app.example"})
    assert response.status_code == 201
    assert response.headers.get_list("access-control-allow-origin") == ["https://app.example"]
    assert response.headers["access-control-expose-headers"] == "my-custom-header"
    assert response.headers["access-control-allow-credentials"] == "true"


# -- authorisation --------------------------------------------------------------------------


def _signed(creds: Credentials, method: str, url: str, body: bytes = b"") -> httpx.Request:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(
        BotoCredentials(creds.access_key_id, creds.secret_access_key), "lambda", REGION
    ).add_auth(request)
    return httpx.Request(method, url, content=body, headers=dict(request.headers.items()))


@pytest.fixture(scope="module")
def iam_url(server, owner, fns) -> str:
    return make_url(server, owner.account_id, "echo", qualifier="live", auth="AWS_IAM", grants=[])


@pytest.fixture(scope="module", autouse=True)
def _live_alias(server, owner, fns) -> None:
    lam = client_for(server, owner)
    version = lam.publish_version(FunctionName="echo")["Version"]
    lam.create_alias(FunctionName="echo", Name="live", FunctionVersion=version)


def test_an_iam_url_takes_a_request_signed_by_the_owner(server, http, owner, iam_url):
    response = http.send(
        _signed(owner, "POST", f"{server.url}{path_url(iam_url, '/s?x=1')}", b"hi")
    )
    event = echo_event(response)
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == owner.access_key_id
    assert iam["accountId"] == owner.account_id
    assert iam["userArn"] == f"arn:aws:iam::{owner.account_id}:user/{owner.user_name}"
    assert event["requestContext"]["accountId"] == owner.account_id


def test_an_iam_url_takes_a_signed_request_in_the_host_form(server, http, owner, iam_url):
    signed = _signed(owner, "PUT", f"http://{host(iam_url)}/a/b?z=1&y=2", b"body")
    request = httpx.Request(
        "PUT", f"{server.url}/a/b?z=1&y=2", content=b"body", headers=signed.headers
    )
    event = echo_event(http.send(request))
    assert event["rawPath"] == "/a/b"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == owner.access_key_id


def test_an_iam_url_refuses_unsigned_and_badly_signed_requests(server, http, owner, iam_url):
    unsigned = http.get(path_url(iam_url))
    assert unsigned.status_code == 403
    assert unsigned.json()["Message"].startswith("Forbidden")
    assert unsigned.headers["x-amzn-errortype"] == "AccessDeniedException"
    request = _signed(owner, "POST", f"{server.url}{path_url(iam_url)}", b"one body")
    tampered = httpx.Request("POST", request.url, content=b"another", headers=request.headers)
    tampered.headers["content-length"] = str(len(b"another"))
    assert http.send(tampered).status_code == 403


def test_an_iam_url_refuses_another_account_unless_the_policy_allows_it(server, http, owner):
    other = create_user(server)
    lam = client_for(server, owner)
    for name in ("closed", "shared"):
        create_function(
            lam, name, Handler="app.plain_dict", Code={"ZipFile": make_zip({"app.py": APP})}
        )
    closed = make_url(server, owner.account_id, "closed", auth="AWS_IAM", grants=[])
    response = http.send(_signed(other, "GET", f"{server.url}{path_url(closed)}"))
    assert response.status_code == 403
    shared = make_url(
        server,
        owner.account_id,
        "shared",
        auth="AWS_IAM",
        grants=public_grants("AWS_IAM", principal=other.account_id),
    )
    assert http.send(_signed(other, "GET", f"{server.url}{path_url(shared)}")).status_code == 200
    third = create_user(server)
    assert http.send(_signed(third, "GET", f"{server.url}{path_url(shared)}")).status_code == 403


def test_a_none_url_needs_both_public_statements(server, http, owner):
    lam = client_for(server, owner)
    create_function(
        lam, "half", Handler="app.plain_dict", Code={"ZipFile": make_zip({"app.py": APP})}
    )
    only_url_action = make_url(server, owner.account_id, "half", grants=public_grants("NONE")[:1])
    assert http.get(path_url(only_url_action)).status_code == 403


def test_a_statement_for_the_other_auth_type_does_not_open_a_url(server, http, owner):
    lam = client_for(server, owner)
    create_function(
        lam, "mismatch", Handler="app.plain_dict", Code={"ZipFile": make_zip({"app.py": APP})}
    )
    url_id = make_url(server, owner.account_id, "mismatch", grants=public_grants("AWS_IAM"))
    assert http.get(path_url(url_id)).status_code == 403


def test_a_deny_in_the_function_policy_refuses_even_the_owner(server, http, owner):
    lam = client_for(server, owner)
    for name in ("denied", "denied-public"):
        create_function(
            lam, name, Handler="app.plain_dict", Code={"ZipFile": make_zip({"app.py": APP})}
        )
    deny = {"Effect": "Deny", "Principal": "*", "Action": "lambda:InvokeFunction"}
    url_id = make_url(server, owner.account_id, "denied", auth="AWS_IAM", statements=[deny])
    assert http.send(_signed(owner, "GET", f"{server.url}{path_url(url_id)}")).status_code == 403
    # A public URL: the Deny wins over the two statements that open it.
    public = make_url(server, owner.account_id, "denied-public", statements=[deny])
    assert http.get(path_url(public)).status_code == 403


def test_a_public_url_s_policy_may_limit_the_source_address(server, http, owner):
    lam = client_for(server, owner)
    for name in ("office", "elsewhere"):
        create_function(
            lam, name, Handler="app.plain_dict", Code={"ZipFile": make_zip({"app.py": APP})}
        )

    def from_(network: str) -> list[dict[str, Any]]:
        return [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
                "Condition": {"IpAddress": {"aws:SourceIp": network}},
            }
        ]

    here = make_url(server, owner.account_id, "office", grants=[], statements=from_("127.0.0.0/8"))
    assert http.get(path_url(here)).status_code == 200
    away = from_("203.0.113.0/24")
    elsewhere = make_url(server, owner.account_id, "elsewhere", grants=[], statements=away)
    assert http.get(path_url(elsewhere)).status_code == 403


# -- hostile input --------------------------------------------------------------------------


def test_unknown_and_malformed_url_ids_are_refused(http, fns):
    for url_id in ("0" * 32, "short", fns["echo"].upper(), "%2e%2e", ""):
        response = http.get(path_url(url_id, "/x"))
        assert response.status_code == 403, url_id
    response = http.get("/", headers={"Host": host("0" * 32)})
    assert response.status_code == 403


def test_host_tricks_never_reach_the_console_or_another_url(http, fns):
    url_id = fns["echo"]
    # Host names are case-insensitive: a mixed-case host is the same URL.
    mixed = host(url_id).upper()
    assert echo_event(http.get("/", headers={"Host": mixed}))["requestContext"]["apiId"] == url_id
    # Extra labels, or another tenant's id hidden in the path, are not that URL.
    for bad_host in (f"x.{host(url_id)}", f"{url_id}.x.lambda-url.{REGION}.{DOMAIN}"):
        response = http.get("/2015-03-31/functions", headers={"Host": bad_host})
        assert response.status_code == 403, bad_host
    # A console path under a URL host is the function's path, not the console.
    event = echo_event(http.get("/accounts/login/", headers={"Host": host(url_id)}))
    assert event["rawPath"] == "/accounts/login/"
    other = fns["plain_dict"]
    event = echo_event(http.get(f"/lambda-url/{other}/", headers={"Host": host(url_id)}))
    assert event["requestContext"]["apiId"] == url_id


def test_path_traversal_stays_inside_the_url(server, fns):
    other = fns["plain_dict"]
    raw = subprocess.run(
        [
            "curl",
            "-s",
            "--path-as-is",
            f"{server.url}/lambda-url/{fns['echo']}/../{other}/../../etc/passwd",
        ],
        capture_output=True,
        check=True,
    )
    event = json.loads(raw.stdout)
    assert event["requestContext"]["apiId"] == fns["echo"]
    assert event["rawPath"] == f"/../{other}/../../etc/passwd"


def test_a_body_over_6_mb_is_refused_unread(http, fns):
    response = http.post(path_url(fns["echo"]), content=b"x" * (6 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"


def test_many_cookies_and_big_headers_arrive_intact(http, fns):
    cookies = "; ".join(f"c{i}=v{i}" for i in range(300))
    event = echo_event(
        http.get(path_url(fns["echo"]), headers={"Cookie": cookies, "X-Big": "y" * 6000})
    )
    assert len(event["cookies"]) == 300
    assert event["headers"]["x-big"] == "y" * 6000


def test_a_huge_query_string_is_refused(server, fns):
    raw = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            f"{server.url}{path_url(fns['echo'], '/q?' + 'a=1&' * 25_000)}",
        ],
        capture_output=True,
        check=False,
    )
    # Refused before the function is called (by the URL server, or the HTTP server).
    assert raw.stdout.decode() in ("400", "414")


def test_a_huge_header_is_refused_by_the_server(server, fns, tmp_path):
    headers = tmp_path / "headers"
    headers.write_text("X-Huge: " + "z" * 200_000 + "\n")
    raw = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            f"@{headers}",
            f"{server.url}{path_url(fns['echo'])}",
        ],
        capture_output=True,
        check=False,
    )
    # Refused before the function is called (by the URL server, or the HTTP server).
    assert raw.stdout.decode() in ("400", "431", "000")


def test_a_url_request_is_an_invocation_with_url_metrics(server, http, owner):
    lam = client_for(server, owner)
    create_function(lam, "metered", Handler="app.boom", Code={"ZipFile": make_zip({"app.py": APP})})
    url_id = make_url(server, owner.account_id, "metered")
    assert http.get(path_url(url_id)).status_code == 502
    cloudwatch = client_for(server, owner, "cloudwatch")
    now = dt.datetime.now(dt.UTC)

    def total(metric: str) -> float:
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=[{"Name": "FunctionName", "Value": "metered"}],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=5),
            Period=60,
            Statistics=["Sum"],
        )
        return sum(point["Sum"] for point in stats["Datapoints"])

    assert total("Invocations") == 1
    assert total("Errors") == 1
    assert total("Url5xxCount") == 1
    assert total("Url4xxCount") == 0
    logs = client_for(server, owner, "logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/metered")["logStreams"]
    messages = [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(
            logGroupName="/aws/lambda/metered", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert any(message.startswith("REPORT RequestId:") for message in messages)


# -- the path form shares the console's origin --------------------------------------------


def test_the_path_form_passes_no_console_cookie_to_the_function(http, fns):
    cookies = "sessionid=victims-session; theme=dark; csrftoken=victims-token"
    on_console = echo_event(http.get(path_url(fns["echo"]), headers={"Cookie": cookies}))
    assert on_console["cookies"] == ["theme=dark"]
    assert "victims" not in json.dumps(on_console)
    only_console = echo_event(http.get(path_url(fns["echo"]), headers={"Cookie": "sessionid=s"}))
    assert "cookies" not in only_console
    # On a host of its own a URL is not the console's origin: its cookies are its own.
    own_host = echo_event(http.get("/", headers={"Host": host(fns["echo"]), "Cookie": cookies}))
    assert own_host["cookies"] == [
        "sessionid=victims-session",
        "theme=dark",
        "csrftoken=victims-token",
    ]


def test_the_path_form_sets_no_console_cookie_and_is_sandboxed(http, fns):
    response = http.get(path_url(fns["console_cookies"]))
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == ["theme=dark"]
    assert response.headers["content-security-policy"].startswith("sandbox ")
    assert "allow-same-origin" not in response.headers["content-security-policy"]
    own_host = http.get("/", headers={"Host": host(fns["console_cookies"])})
    assert len(own_host.headers.get_list("set-cookie")) == 3
    assert "content-security-policy" not in own_host.headers
