"""A function abuses the Runtime API's streaming response mode (issue 12).

From inside the sandbox, the handler posts a streamed ``/response`` for its own invocation
with plain sockets: floods, a stream that never ends, malformed chunks, more than the limit.
The server's memory is read from ``/proc`` while a client reads slowly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import (
    LiveServer,
    client_for,
    create_function,
    create_user,
    make_zip,
    run_server,
)
from tests.security.test_runtime_api_limits import _Sampler, _server_resources

pytestmark = [pytest.mark.live, pytest.mark.sandbox, pytest.mark.one_profile]

STREAMER = r"""
import os, socket, time

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")


def _open(context):
    s = socket.create_connection((HOST, int(PORT)))
    s.sendall(
        f"POST /2018-06-01/runtime/invocation/{context.aws_request_id}/response HTTP/1.1\r\n"
        "Host: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    return s


def _chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def flood(event, context):
    # Exactly event["bytes"], in chunks of event["piece"] bytes, as fast as the server reads.
    s = _open(context)
    pieces = event["bytes"] // event["piece"]
    per_batch = max(1, 65536 // event["piece"])
    batch = _chunk(b"f" * event["piece"]) * per_batch
    try:
        for _ in range(pieces // per_batch):
            s.sendall(batch)
        s.sendall(_chunk(b"f" * event["piece"]) * (pieces % per_batch) + b"0\r\n\r\n")
        s.recv(4096)  # the server's answer: it has read the whole stream
    except OSError:
        pass
    # Returning makes the runtime post its own answer, refused with its connection (the
    # stream answered this invocation): the environment ends, which each test allows for.
    return "flooded"


def endless(event, context):
    s = _open(context)
    s.sendall(_chunk(b"never ends"))
    time.sleep(600)


def malformed(event, context):
    s = _open(context)
    s.sendall(_chunk(b"good") + b"ZZZZ\r\n")
    time.sleep(0.5)
    return "after the malformed chunk"


def plain(event, context):
    return "still serving"
"""


def _streamer(lam: Any, name: str, handler: str, timeout: int = 30) -> None:
    create_function(
        lam,
        name,
        Handler=f"app.{handler}",
        Timeout=timeout,
        MemorySize=256,
        Code={"ZipFile": make_zip({"app.py": STREAMER})},
    )


def _read(response: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    """(bytes, chunks, InvokeComplete)."""
    total = chunks = 0
    complete: dict[str, Any] = {}
    for event in response["EventStream"]:
        if "PayloadChunk" in event:
            total += len(event["PayloadChunk"]["Payload"])
            chunks += 1
        else:
            complete = event["InvokeComplete"]
    return total, chunks, complete


def test_a_client_that_reads_slowly_costs_the_server_no_memory(
    functory: LiveServer, lam: Any
) -> None:
    _streamer(lam, "warm-up", "plain")  # the server's own first-use costs, before measuring
    _read(lam.invoke_with_response_stream(FunctionName="warm-up"))
    _streamer(lam, "flood-slow", "flood")
    _, baseline = _server_resources(functory.process.pid)
    size = 64 * 1024 * 1024
    with _Sampler(functory.process.pid) as sampler:
        response = lam.invoke_with_response_stream(
            FunctionName="flood-slow",
            Payload=json.dumps({"bytes": size, "piece": 65536}),
        )
        time.sleep(3)  # the function writes; nobody reads
        total, _, complete = _read(response)
    assert (total, complete.get("ErrorCode")) == (size, None)
    growth_mb = (sampler.peak_rss - baseline) / 1024
    assert growth_mb < 48, growth_mb


def test_a_flood_of_one_byte_chunks_arrives_whole_and_merged(lam: Any) -> None:
    _streamer(lam, "flood-bytes", "flood")
    size = 2 * 1024 * 1024
    response = lam.invoke_with_response_stream(
        FunctionName="flood-bytes", Payload=json.dumps({"bytes": size, "piece": 1})
    )
    time.sleep(2)  # behind from the start: what waits is merged, not framed byte by byte
    total, chunks, complete = _read(response)
    assert (total, complete) == (size, {})
    assert chunks < size // 100, chunks


def test_a_stream_that_never_ends_is_ended_by_the_timeout(lam: Any) -> None:
    _streamer(lam, "endless", "endless", timeout=2)
    total, _, complete = _read(lam.invoke_with_response_stream(FunctionName="endless"))
    assert total == len(b"never ends")
    assert complete["ErrorCode"] == "Sandbox.Timedout"


def test_a_malformed_chunk_ends_the_stream_and_the_environment_serves_on(lam: Any) -> None:
    _streamer(lam, "malformed", "malformed")
    total, _, complete = _read(lam.invoke_with_response_stream(FunctionName="malformed"))
    assert total == len(b"good")
    assert complete["ErrorCode"] == "Runtime.TruncatedResponse"
    lam.update_function_configuration(FunctionName="malformed", Handler="app.plain")
    lam.get_waiter("function_updated_v2").wait(FunctionName="malformed")
    _, _, complete = _read(lam.invoke_with_response_stream(FunctionName="malformed"))
    assert complete == {}


@pytest.fixture(scope="module")
def small_stream_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory, {"FUNCTORY_STREAM_MAX_BYTES": "1000000"})


def test_past_the_stream_limit_the_stream_ends_with_response_size_too_large(
    small_stream_limit: LiveServer,
) -> None:
    lam = client_for(small_stream_limit, create_user(small_stream_limit))
    _streamer(lam, "too-much", "flood")
    total, _, complete = _read(
        lam.invoke_with_response_stream(
            FunctionName="too-much", Payload=json.dumps({"bytes": 5_000_000, "piece": 1000})
        )
    )
    assert total == 1_000_000
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert complete["ErrorDetails"] == (
        "Response payload size exceeded maximum allowed payload size (1000000 bytes)."
    )
