"""Streamed responses on the Runtime API, in process (no sandbox): pieces passed on as they
arrive, the error trailers, the limits, and what a broken stream ends as."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from invocations.executor.runtime_api import MAX_RESPONSE_BYTES, Invocation, RuntimeApiServer
from invocations.executor.streaming import ResponseStream

pytestmark = pytest.mark.one_profile

PREFIX = "/2018-06-01/runtime"
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
STREAMING_HEAD = (
    f"POST {PREFIX}/invocation/r1/response HTTP/1.1\r\nHost: x\r\n"
    "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
    "Content-Type: text/plain\r\n\r\n"
)


def _run(
    scenario: Callable[[RuntimeApiServer, int], Awaitable[None]], max_streamed: int = 1 << 20
) -> None:
    async def main() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        server = RuntimeApiServer(listener, max_streamed_bytes=max_streamed)
        await server.start()
        try:
            await asyncio.wait_for(scenario(server, listener.getsockname()[1]), 30)
        finally:
            server.close()

    asyncio.run(main())


async def _reply(streams: Streams) -> tuple[int, bytes]:
    head = await streams[0].readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next(
        int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")
    )
    return int(lines[0].split(" ")[1]), await streams[0].readexactly(length)


async def _invocation(
    server: RuntimeApiServer, port: int, stream: ResponseStream | None
) -> tuple[Streams, Any]:
    outcome = server.submit(Invocation("r1", b"{}", 0, "arn", "trace", stream=stream))
    runtime = await asyncio.open_connection("127.0.0.1", port)
    runtime[1].write(f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (await _reply(runtime))[0] == 200
    return runtime, outcome


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_each_chunk_reaches_the_stream_before_the_next_is_written() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        stream = ResponseStream()
        runtime, outcome = await _invocation(server, port, stream)
        runtime[1].write(STREAMING_HEAD.encode() + _chunk(b"first "))
        # The runtime has sent nothing more: the first piece is already there.
        assert await stream.next_piece() == b"first "
        assert stream.content_type == "text/plain"
        runtime[1].write(_chunk(b"second") + b"0\r\n\r\n")
        assert await stream.next_piece() == b"second"
        assert (await _reply(runtime))[0] == 202
        result = await outcome
        assert result.streamed and result.error_type is None and result.payload == b""

    _run(scenario)


def test_the_error_trailers_end_the_stream_with_the_functions_error() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        stream = ResponseStream()
        runtime, outcome = await _invocation(server, port, stream)
        document = {"errorType": "TypeError", "errorMessage": "boom", "trace": []}
        runtime[1].write(
            STREAMING_HEAD.encode()
            + _chunk(b"partial")
            + b"0\r\nLambda-Runtime-Function-Error-Type: TypeError\r\n"
            + b"Lambda-Runtime-Function-Error-Body: "
            + base64.b64encode(json.dumps(document).encode())
            + b"\r\n\r\n"
        )
        assert await stream.next_piece() == b"partial"
        result = await outcome
        assert result.error_type == "TypeError"
        assert json.loads(result.payload) == document

    _run(scenario)


def test_an_undecodable_error_body_still_reports_the_error_type() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port, ResponseStream())
        runtime[1].write(
            STREAMING_HEAD.encode() + b"0\r\nLambda-Runtime-Function-Error-Type: Oops\r\n"
            b"Lambda-Runtime-Function-Error-Body: !!not base64!!\r\n\r\n"
        )
        result = await outcome
        assert result.error_type == "Oops"
        assert json.loads(result.payload) == {"errorMessage": "", "errorType": "Oops"}

    _run(scenario)


def test_a_streamed_response_to_a_buffered_invoke_is_collected_up_to_6291556_bytes() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port, None)
        runtime[1].write(
            STREAMING_HEAD.encode() + _chunk(b"a" * 1000) + _chunk(b"b") + b"0\r\n\r\n"
        )
        result = await outcome
        assert result.payload == b"a" * 1000 + b"b" and result.error_type is None

        outcome = server.submit(Invocation("r2", b"{}", 0, "arn", "trace"))
        runtime[1].write(f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await _reply(runtime))[0] == 202  # the first response's
        assert (await _reply(runtime))[0] == 200
        piece = b"x" * 65536
        runtime[1].write(STREAMING_HEAD.replace("r1", "r2").encode())
        for _ in range(MAX_RESPONSE_BYTES // len(piece) + 1):
            runtime[1].write(_chunk(piece))
        result = await outcome
        assert result.error_type == "Function.ResponseSizeTooLarge"

    _run(scenario)


def test_past_the_streaming_limit_the_stream_ends_with_response_size_too_large() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        stream = ResponseStream(max_pending=1000)
        runtime, outcome = await _invocation(server, port, stream)
        runtime[1].write(STREAMING_HEAD.encode())
        for _ in range(40):
            runtime[1].write(_chunk(b"y" * 1000))
        result = await outcome
        assert result.error_type == "Function.ResponseSizeTooLarge"
        assert json.loads(result.payload)["errorMessage"] == (
            "Response payload size exceeded maximum allowed payload size (10000 bytes)."
        )
        assert stream.written == 10000  # nothing past the limit was passed on
        status, _ = await _reply(runtime)
        assert status == 413
        assert await runtime[0].read() == b""  # and the connection is closed

    _run(scenario, max_streamed=10000)


def test_a_malformed_chunk_ends_the_invocation_as_truncated() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        stream = ResponseStream()
        runtime, outcome = await _invocation(server, port, stream)
        runtime[1].write(STREAMING_HEAD.encode() + _chunk(b"ok") + b"zz-not-hex\r\n")
        assert await stream.next_piece() == b"ok"
        result = await outcome
        assert result.error_type == "Runtime.TruncatedResponse"
        assert (await _reply(runtime))[0] == 400

    _run(scenario)


def test_oversized_or_endless_trailers_end_the_invocation_as_truncated() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port, ResponseStream())
        line = b"Lambda-Runtime-Function-Error-Body: " + b"A" * 70000 + b"\r\n\r\n"
        runtime[1].write(STREAMING_HEAD.encode() + b"0\r\n" + line)
        assert (await outcome).error_type == "Runtime.TruncatedResponse"

        outcome = server.submit(Invocation("r2", b"{}", 0, "arn", "trace", stream=ResponseStream()))
        runtime = await asyncio.open_connection("127.0.0.1", port)
        runtime[1].write(f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await _reply(runtime))[0] == 200
        runtime[1].write(
            STREAMING_HEAD.replace("r1", "r2").encode() + b"0\r\n" + b"X-Pad: y\r\n" * 200
        )
        assert (await outcome).error_type == "Runtime.TruncatedResponse"

    _run(scenario)


def test_a_runtime_that_hangs_up_mid_stream_ends_the_invocation() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port, ResponseStream())
        runtime[1].write(STREAMING_HEAD.encode() + b"100\r\nshort")
        await runtime[1].drain()
        runtime[1].close()
        result = await outcome
        assert result.error_type == "Runtime.TruncatedResponse"

    _run(scenario)


def test_a_slow_reader_holds_the_runtime_back_instead_of_buffering() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        stream = ResponseStream(max_pending=2)
        runtime, outcome = await _invocation(server, port, stream)
        runtime[1].write(STREAMING_HEAD.encode())
        piece = b"z" * 65536
        sent = 0
        # Nobody reads the stream: the runtime's writes stop going through, well before 64 MB.
        while sent < 64 * 1024 * 1024:
            runtime[1].write(_chunk(piece))
            try:
                await asyncio.wait_for(runtime[1].drain(), 2)
            except TimeoutError:
                break
            sent += len(piece)
        assert sent < 64 * 1024 * 1024
        assert stream.written <= sent
        assert not outcome.done()
        assert len(await stream.next_piece()) == 65536

    _run(scenario)


def test_small_pieces_written_while_the_reader_is_behind_are_merged() -> None:
    async def main() -> None:
        stream = ResponseStream()
        for byte in b"abcdef":
            await stream.write(bytes([byte]))
        assert await stream.next_piece() == b"abcdef"

    asyncio.run(main())
