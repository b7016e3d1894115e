"""RESPONSE_STREAM function URLs over a live server, with a real HTTP client: the body is
sent chunked as the function writes it (its first line arrives before its last is written),
``HttpResponseStream.from`` sets the status, headers and cookies, a failure before the first
byte is a 502 and one after it cuts the response off, and a Python (non-streaming) function
still answers as a buffered URL would."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from conftest import create_function, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

NODE = r"""
const { pipeline } = require("stream/promises");
const { Readable } = require("stream");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

exports.ticks = awslambda.streamifyResponse(async (event, responseStream) => {
  for (let n = 1; n <= 3; n++) {
    if (n > 1) await sleep(400);
    responseStream.write(JSON.stringify({ n, at: Date.now() }) + "\n");
  }
  responseStream.end();
});

exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "content-type": "text/plain", "x-kind": "streamed" },
    cookies: ["a=1; Path=/", "b=2"],
  });
  await pipeline(Readable.from(["path=", event.rawPath]), responseStream);
});

exports.injects = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "x-a": "1\r\nset-cookie: injected=1" },
  });
  responseStream.end("x");
});

exports.throwsFirst = awslambda.streamifyResponse(async () => {
  throw new RangeError("nothing written");
});

exports.breaks = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("before the error ");
  await sleep(100);
  throw new TypeError("broke mid-stream");
});
"""

PYTHON = """
def handler(event, context):
    return {"statusCode": 202, "headers": {"x-python": "yes"}, "body": event["rawPath"]}
"""


def _public_url(lam: Any, name: str, *, cors: dict[str, Any] | None = None) -> str:
    extra = {"Cors": cors} if cors else {}
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM", **extra
    )["FunctionUrl"]
    lam.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    return str(url)


def _node(lam: Any, name: str, handler: str) -> str:
    create_function(
        lam,
        name,
        Runtime="nodejs20.x",
        Handler=f"index.{handler}",
        Timeout=30,
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    return _public_url(lam, name)


def test_lines_arrive_as_the_function_writes_them(lam):
    url = _node(lam, "url-ticks", "ticks")
    received: list[tuple[float, dict[str, Any]]] = []
    with httpx.stream("GET", url, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers.get("transfer-encoding") == "chunked"
        for line in response.iter_lines():
            if line:
                received.append((time.time() * 1000, json.loads(line)))
    assert [entry["n"] for _, entry in received] == [1, 2, 3]
    # The first line was in the client's hands before the function wrote its last one.
    assert received[0][0] < received[-1][1]["at"]


def test_the_prelude_sets_status_headers_and_cookies(lam):
    url = _node(lam, "url-http", "http")
    response = httpx.get(url + "some/path", timeout=60)
    assert response.status_code == 201
    assert response.text == "path=/some/path"
    assert response.headers["x-kind"] == "streamed"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]


def test_a_prelude_that_would_split_the_response_is_a_502(lam):
    url = _node(lam, "url-injects", "injects")
    response = httpx.get(url, timeout=60)
    assert response.status_code == 502
    assert "injected" not in response.headers.get("set-cookie", "")


def test_a_failure_before_the_first_byte_is_a_502(lam):
    url = _node(lam, "url-throws", "throwsFirst")
    response = httpx.get(url, timeout=60)
    assert (response.status_code, response.text) == (502, "Internal Server Error")


def test_a_failure_mid_stream_cuts_the_response_off(lam):
    url = _node(lam, "url-breaks", "breaks")
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", url, timeout=60) as response,
    ):
        assert response.status_code == 200
        for piece in response.iter_bytes():
            received += piece
    assert received == b"before the error "


def test_a_python_function_answers_as_a_buffered_url_would(lam):
    create_function(lam, "url-python", Code={"ZipFile": make_zip({"app.py": PYTHON})})
    url = _public_url(lam, "url-python", cors={"AllowOrigins": ["https://site.example"]})
    response = httpx.get(url + "p", headers={"Origin": "https://site.example"}, timeout=60)
    assert (response.status_code, response.text) == (202, "/p")
    assert response.headers["x-python"] == "yes"
    assert response.headers["access-control-allow-origin"] == "https://site.example"
