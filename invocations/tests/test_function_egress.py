"""Functions reach the network and this platform's API, as on AWS (issue 14, item 4).

A function connects out over TCP and UDP (to a test host in a network namespace of its
own, standing in for the internet), finds the platform's API at ``AWS_ENDPOINT_URL`` and
invokes another function there with SigV4; a ``VpcConfig`` naming the documented subnet
``subnet-noegress`` takes the network away; no pasta outlives its environment.
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import pytest

from conftest import Credentials, make_zip
from invocations.executor.egress import NO_EGRESS_SUBNET
from invocations.tests.helpers import invoke
from invocations.tests.outside import PROBE, OutsideHost, outside_host

pytestmark = [pytest.mark.live]
__all__ = ["outside_host"]  # the fixture, used by name

# Calls the platform from inside: unsigned first, then signed (SigV4 by hand: the runtime
# has no boto3) with the keys passed in the event.
CALLER = r"""
import datetime, hashlib, hmac, json, os, urllib.error, urllib.request

def call(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            error_type = response.headers.get("x-amzn-ErrorType")
            return response.status, error_type, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("x-amzn-ErrorType"), exc.read().decode()

def sign(url, body, key, secret, region):
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    signed = "host;x-amz-content-sha256;x-amz-date"
    canonical = "\n".join(["POST", path, "", f"host:{host}", f"x-amz-content-sha256:{payload}",
                           f"x-amz-date:{stamp}", "", signed, payload])
    scope = f"{day}/{region}/lambda/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, digest])
    k = ("AWS4" + secret).encode()
    for part in (day, region, "lambda", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"x-amz-date": stamp, "x-amz-content-sha256": payload,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
                             f"SignedHeaders={signed}, Signature={signature}"}

def handler(event, context):
    endpoint = os.environ["AWS_ENDPOINT_URL_LAMBDA"]
    url = f"{endpoint}/2015-03-31/functions/{event['target']}/invocations"
    body = json.dumps({"from": "inside"}).encode()
    unsigned = call(url, body, {})
    headers = sign(url, body, event["key"], event["secret"], os.environ["AWS_REGION"])
    signed = call(url, body, headers)
    return {"endpoint": endpoint, "unsigned": unsigned, "signed": signed}
"""

ECHO = "def handler(event, context):\n    return {'echoed': event}\n"


def _probe_function(lam: Any, name: str, **overrides: Any) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": PROBE})},
        Timeout=30,
        **overrides,
    )


def test_a_function_reaches_an_outside_host_over_tcp_and_udp(
    lam: Any, outside_host: OutsideHost
) -> None:
    _probe_function(lam, "egress-out")
    body = invoke(
        lam,
        "egress-out",
        {"targets": [[outside_host.address, 80]], "udp": outside_host.address},
    )["Body"]
    answer = body["results"][f"{outside_host.address}|80"]
    assert answer.startswith("open:HTTP/1.0 200"), body
    assert body["udp"] == "echo:ping"
    assert body["resolv"].startswith("nameserver 169.254.1.1")


def test_a_function_with_the_no_egress_subnet_has_no_network(
    lam: Any, outside_host: OutsideHost
) -> None:
    _probe_function(
        lam, "egress-off", VpcConfig={"SubnetIds": [NO_EGRESS_SUBNET], "SecurityGroupIds": []}
    )
    body = invoke(
        lam, "egress-off", {"targets": [[outside_host.address, 80]], "udp": outside_host.address}
    )["Body"]
    assert body["results"][f"{outside_host.address}|80"].startswith("closed:"), body
    assert body["udp"].startswith("closed:")
    assert body["endpoint"] is None
    assert body["gateway"] is None  # no route at all: only the loopback
    # Turned back on by configuration: the retired environment's replacement has a network.
    lam.update_function_configuration(
        FunctionName="egress-off", VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="egress-off")
    body = invoke(lam, "egress-off", {"targets": [[outside_host.address, 80]]})["Body"]
    assert body["results"][f"{outside_host.address}|80"].startswith("open:HTTP/1.0 200"), body


def test_a_function_calls_the_platform_api_at_its_endpoint(
    lam: Any, credentials: Credentials
) -> None:
    lam.create_function(
        FunctionName="egress-caller",
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": CALLER})},
        Timeout=60,
    )
    lam.create_function(
        FunctionName="egress-callee",
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": ECHO})},
    )
    body = invoke(
        lam,
        "egress-caller",
        {
            "target": "egress-callee",
            "key": credentials.access_key_id,
            "secret": credentials.secret_access_key,
        },
    )["Body"]
    assert isinstance(body, dict) and "endpoint" in body, body
    assert body["endpoint"] == "http://127.0.0.1:9002"
    status, error_type, _ = body["unsigned"]
    assert (status, error_type) == (403, "MissingAuthenticationTokenException"), body
    status, _, answer = body["signed"]
    assert status == 200, body
    assert answer == '{"echoed": {"from": "inside"}}'


def _processes_of(uid: int) -> list[str]:
    out = subprocess.run(
        ["ps", "-o", "pid=,comm=", "-u", str(uid)], capture_output=True, text=True
    ).stdout
    return [line.split(None, 1)[1] for line in out.splitlines() if line.strip()]


def test_no_pasta_outlives_its_environment(lam: Any, outside_host: OutsideHost) -> None:
    _probe_function(lam, "egress-reaped")
    uid = invoke(lam, "egress-reaped", {})["Body"]["uid"]
    assert any(name.startswith("pas") for name in _processes_of(uid)), _processes_of(uid)
    lam.delete_function(FunctionName="egress-reaped")  # retires its environments
    deadline = time.monotonic() + 30
    while _processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_of(uid) == []


RESOLVE = """
import socket

def handler(event, context):
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(event["name"], 443)})
    except OSError as exc:
        return type(exc).__name__
"""


def test_a_function_resolves_names_through_the_hosts_resolver(lam: Any) -> None:
    name = "deb.debian.org"  # Debian's own mirror name: the package setup resolves it
    try:
        host_answer = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    except OSError:
        pytest.skip("this host resolves no names")
    lam.create_function(
        FunctionName="egress-dns",
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": RESOLVE})},
        Timeout=30,
    )
    answer = invoke(lam, "egress-dns", {"name": name})["Body"]
    assert isinstance(answer, list) and answer, answer
    assert set(answer) & host_answer
