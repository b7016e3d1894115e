"""InvokeWithResponseStream read by the AWS SDK for JavaScript v3 (``@aws-sdk/client-lambda``
from npm, installed from ``tests/js``'s lockfile by ``scripts/sdk-clients.sh``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import Credentials, LiveServer, create_function, make_zip
from invocations.tests.test_invoke_streaming import NODE

pytestmark = [pytest.mark.live, pytest.mark.sandbox, pytest.mark.one_profile]

CLIENTS = Path(__file__).resolve().parents[2] / "tests" / "js"


def _run(server: LiveServer, creds: Credentials, name: str, payload: Any) -> list[dict[str, Any]]:
    if not (CLIENTS / "node_modules" / "@aws-sdk" / "client-lambda").is_dir():
        pytest.fail("the JS SDK is not installed: run scripts/sdk-clients.sh")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=creds.access_key_id,
        AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
        AWS_REGION="us-east-1",
    )
    done = subprocess.run(
        ["node", str(CLIENTS / "invoke_stream.mjs"), server.url, name, json.dumps(payload)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_js_sdk_reads_chunks_as_the_function_writes_them(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    create_function(
        lam,
        "js-ticks",
        Runtime="nodejs20.x",
        Handler="index.ticks",
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    events = _run(functory, credentials, "js-ticks", {"lines": 3, "pause": 700})
    assert events[0] == {
        "kind": "response",
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "contentType": "application/vnd.amazon.eventstream",
    }
    chunks = [event for event in events if event["kind"] == "chunk"]
    lines = [json.loads(line) for line in "".join(c["data"] for c in chunks).splitlines()]
    assert [line["n"] for line in lines] == [1, 2, 3]
    assert chunks[0]["at"] < lines[1]["at"] < lines[2]["at"]
    assert events[-1]["kind"] == "complete" and "ErrorCode" not in events[-1]
    assert events[-1]["LogResult"]


def test_the_js_sdk_sees_a_mid_stream_error(
    functory: LiveServer, credentials: Credentials, lam: Any
) -> None:
    create_function(
        lam,
        "js-breaks",
        Runtime="nodejs20.x",
        Handler="index.breaks",
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    events = _run(functory, credentials, "js-breaks", {})
    assert [e["data"] for e in events if e["kind"] == "chunk"] == ["before the error "]
    assert events[-1]["ErrorCode"] == "TypeError"
    assert events[-1]["ErrorDetails"] == "broke mid-stream"
