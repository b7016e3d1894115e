"""InvokeWithResponseStream over a live server with real sandboxes, read by boto3: chunks
arrive as the function writes them, errors end the stream, a plain Invoke of a streaming
handler buffers, a Python function answers in one chunk."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import create_function, make_zip
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

NODE = r"""
const { pipeline } = require("stream/promises");
const { Readable } = require("stream");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Each line carries the moment it was written.
exports.ticks = awslambda.streamifyResponse(async (event, responseStream, context) => {
  for (let n = 1; n <= event.lines; n++) {
    if (n > 1) await sleep(event.pause);
    responseStream.write(JSON.stringify({ n, at: Date.now() }) + "\n");
  }
  console.log("ticked", event.lines);
  responseStream.end();
});

// AWS's documented shape: HttpResponseStream.from, then pipeline from a readable.
exports.piped = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "x-kind": "piped" },
    cookies: ["a=1"],
  });
  await pipeline(Readable.from(["al", "pha", "bet"]), responseStream);
});

exports.breaks = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("before the error ");
  await sleep(50);
  throw new TypeError("broke mid-stream");
});

exports.throwsFirst = awslambda.streamifyResponse(async () => {
  throw new RangeError("nothing written");
});

exports.stalls = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("started");
  await sleep(60000);
});

exports.plain = async (event) => ({ plain: true });
"""

PYTHON = """
def handler(event, context):
    return {"python": event}

def fails(event, context):
    raise ValueError("no streaming here")
"""


def _node(lam: Any, name: str, handler: str, timeout: int = 30) -> None:
    create_function(
        lam,
        name,
        Runtime="nodejs20.x",
        Handler=f"index.{handler}",
        Timeout=timeout,
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )


def _read(response: dict[str, Any]) -> tuple[list[tuple[float, bytes]], dict[str, Any]]:
    """The payload chunks, each with the moment (ms since the epoch) it was received, and the
    InvokeComplete event."""
    chunks: list[tuple[float, bytes]] = []
    complete: dict[str, Any] | None = None
    for event in response["EventStream"]:
        if "PayloadChunk" in event:
            assert complete is None
            chunks.append((time.time() * 1000, event["PayloadChunk"]["Payload"]))
        else:
            complete = event["InvokeComplete"]
    assert complete is not None
    return chunks, complete


def test_the_first_chunk_arrives_before_the_handler_writes_its_last(lam: Any) -> None:
    _node(lam, "ticks", "ticks")
    response = lam.invoke_with_response_stream(
        FunctionName="ticks", Payload=json.dumps({"lines": 3, "pause": 700}), LogType="Tail"
    )
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    chunks, complete = _read(response)
    lines = [json.loads(line) for line in b"".join(data for _, data in chunks).splitlines()]
    assert [line["n"] for line in lines] == [1, 2, 3]
    first_received = chunks[0][0]
    # Received before the function even wrote its second line: nothing was held back.
    assert first_received < lines[1]["at"] < lines[2]["at"]
    assert len(chunks) >= 3
    assert "ErrorCode" not in complete
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "START RequestId:" in log and "\tINFO\tticked 3" in log and "REPORT RequestId:" in log


def test_a_plain_invoke_of_a_streaming_handler_returns_the_whole_body(lam: Any) -> None:
    _node(lam, "buffered", "ticks")
    response = invoke(lam, "buffered", {"lines": 2, "pause": 10})
    assert "FunctionError" not in response
    assert [json.loads(line)["n"] for line in response["Raw"].splitlines()] == [1, 2]


def test_http_response_stream_from_sends_the_prelude_then_the_piped_body(lam: Any) -> None:
    _node(lam, "piped", "piped")
    chunks, complete = _read(lam.invoke_with_response_stream(FunctionName="piped"))
    raw = b"".join(data for _, data in chunks)
    prelude, delimiter, body = raw.partition(b"\0" * 8)
    assert json.loads(prelude) == {
        "statusCode": 201,
        "headers": {"x-kind": "piped"},
        "cookies": ["a=1"],
    }
    assert delimiter and body == b"alphabet"
    assert "ErrorCode" not in complete
    # Through Invoke the bytes are the same, prelude included.
    assert invoke(lam, "piped")["Raw"] == raw


def test_an_error_mid_stream_ends_it_with_the_error_in_invoke_complete(lam: Any) -> None:
    _node(lam, "breaks", "breaks")
    chunks, complete = _read(lam.invoke_with_response_stream(FunctionName="breaks"))
    assert b"".join(data for _, data in chunks) == b"before the error "
    assert complete["ErrorCode"] == "TypeError"
    assert complete["ErrorDetails"] == "broke mid-stream"
    buffered = invoke(lam, "breaks")
    assert buffered["FunctionError"] == "Unhandled"
    assert buffered["Body"]["errorType"] == "TypeError"
    assert buffered["Body"]["errorMessage"] == "broke mid-stream"


def test_an_error_before_any_write_ends_the_stream_without_chunks(lam: Any) -> None:
    _node(lam, "throws-first", "throwsFirst")
    chunks, complete = _read(lam.invoke_with_response_stream(FunctionName="throws-first"))
    assert chunks == []
    assert (complete["ErrorCode"], complete["ErrorDetails"]) == ("RangeError", "nothing written")


def test_a_stream_past_the_timeout_ends_as_timed_out(lam: Any) -> None:
    _node(lam, "stalls", "stalls", timeout=2)
    chunks, complete = _read(lam.invoke_with_response_stream(FunctionName="stalls"))
    assert b"".join(data for _, data in chunks) == b"started"
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in complete["ErrorDetails"]
    # The environment was replaced: the next call runs.
    chunks, complete = _read(lam.invoke_with_response_stream(FunctionName="stalls"))
    assert complete["ErrorCode"] == "Sandbox.Timedout"


def test_a_function_that_does_not_stream_answers_in_one_chunk(lam: Any) -> None:
    create_function(lam, "py", Code={"ZipFile": make_zip({"app.py": PYTHON})})
    chunks, complete = _read(
        lam.invoke_with_response_stream(FunctionName="py", Payload=b'{"k": [1, 2]}')
    )
    assert [json.loads(data) for _, data in chunks] == [{"python": {"k": [1, 2]}}]
    assert complete == {}
    _node(lam, "node-plain", "plain")
    chunks, _ = _read(lam.invoke_with_response_stream(FunctionName="node-plain"))
    assert [json.loads(data) for _, data in chunks] == [{"plain": True}]


def test_a_python_error_is_reported_in_invoke_complete_without_chunks(lam: Any) -> None:
    create_function(
        lam, "py-fails", Handler="app.fails", Code={"ZipFile": make_zip({"app.py": PYTHON})}
    )
    chunks, complete = _read(lam.invoke_with_response_stream(FunctionName="py-fails"))
    assert chunks == []
    assert complete["ErrorCode"] == "ValueError"
    assert complete["ErrorDetails"] == "no streaming here"


def test_errors_before_the_stream_are_ordinary_api_errors(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.invoke_with_response_stream(FunctionName="missing")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    _node(lam, "dry", "ticks")
    dry = lam.invoke_with_response_stream(FunctionName="dry", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        lam.invoke_with_response_stream(FunctionName="dry", Payload=b"{not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_a_stream_counts_against_concurrency_like_any_invocation(lam: Any) -> None:
    _node(lam, "limited", "ticks")
    lam.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke_with_response_stream(FunctionName="limited", Payload=b'{"lines": 1}')
    assert excinfo.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_a_client_that_hangs_up_mid_stream_frees_the_functions_concurrency(lam: Any) -> None:
    _node(lam, "hangup", "stalls", timeout=60)
    lam.put_function_concurrency(FunctionName="hangup", ReservedConcurrentExecutions=1)
    response = lam.invoke_with_response_stream(FunctionName="hangup")
    stream = response["EventStream"]
    first = next(iter(stream))
    assert first["PayloadChunk"]["Payload"] == b"started"
    stream.close()  # gone while the handler still runs (it would for 60 s)
    # The one slot comes back once the server sees the client leave; until then a call is
    # throttled, never longer.
    deadline = time.monotonic() + 30
    while True:
        try:
            response = lam.invoke_with_response_stream(FunctionName="hangup")
            break
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TooManyRequestsException"
            assert time.monotonic() < deadline, "the abandoned stream kept its concurrency"
            time.sleep(0.2)
    first = next(iter(response["EventStream"]))
    assert first["PayloadChunk"]["Payload"] == b"started"
    response["EventStream"].close()
