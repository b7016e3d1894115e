"""The Runtime API server's per-environment limits, in process (no sandbox): fast checks of
what ``tests/security/test_runtime_api_limits.py`` attacks from inside a real sandbox."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from invocations.executor import runtime_api, runtime_http
from invocations.executor.runtime_api import (
    MAX_CONNECTIONS,
    MAX_RESPONSE_BYTES,
    Invocation,
    RuntimeApiServer,
)

pytestmark = pytest.mark.one_profile

PREFIX = "/2018-06-01/runtime"
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _run(scenario: Callable[[RuntimeApiServer, int], Awaitable[None]]) -> None:
    async def main() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        server = RuntimeApiServer(listener)
        await server.start()
        try:
            await asyncio.wait_for(scenario(server, port), 30)
        finally:
            server.close()

    asyncio.run(main())


async def _connect(port: int) -> Streams:
    return await asyncio.open_connection("127.0.0.1", port)


async def _request(streams: Streams, head: str, body: bytes = b"") -> None:
    streams[1].write(head.encode() + b"\r\n\r\n" + body)
    await streams[1].drain()


async def _reply(streams: Streams) -> tuple[int, dict[str, str], bytes]:
    head = await streams[0].readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await streams[0].readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split(" ")[1]), headers, body


async def _closed(streams: Streams) -> bool:
    """Whether the server closes the connection (EOF or reset), waiting as long as needed."""
    try:
        while await streams[0].read(65536):
            pass
    except ConnectionError:
        pass
    return True


async def _invocation(server: RuntimeApiServer, port: int) -> tuple[Streams, Any]:
    """A runtime connection that has fetched invocation ``r1``; and the outcome future."""
    outcome = server.submit(Invocation("r1", b"{}", 0, "arn", "trace"))
    runtime = await _connect(port)
    await _request(runtime, f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x")
    status, headers, _ = await _reply(runtime)
    assert status == 200 and headers["lambda-runtime-aws-request-id"] == "r1"
    return runtime, outcome


def _post(path: str, length: int) -> str:
    return f"POST {PREFIX}{path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}"


def test_it_serves_at_most_four_connections_at_once() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        held = [await _connect(port) for _ in range(MAX_CONNECTIONS + 2)]
        for streams in held:
            await _request(streams, "GET /nothing HTTP/1.1\r\nHost: x")
        for streams in held[:MAX_CONNECTIONS]:
            assert (await _reply(streams))[0] == 404
        # The fifth waits in the backlog, unaccepted, until a slot is free.
        waiting = asyncio.ensure_future(_reply(held[MAX_CONNECTIONS]))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        held[0][1].close()
        assert (await waiting)[0] == 404

    _run(scenario)


def test_a_response_at_the_limit_is_taken_and_one_byte_more_is_too_large() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port)
        await _request(
            runtime, _post("/invocation/r1/response", MAX_RESPONSE_BYTES), b"x" * MAX_RESPONSE_BYTES
        )
        assert (await _reply(runtime))[0] == 202
        assert len((await outcome).payload) == MAX_RESPONSE_BYTES

        outcome = server.submit(Invocation("r2", b"{}", 0, "arn", "trace"))
        await _request(runtime, f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x")
        await _reply(runtime)
        size = MAX_RESPONSE_BYTES + 1
        await _request(runtime, _post("/invocation/r2/response", size), b"x" * size)
        # Slightly over: read to its end and thrown away, so the connection stays usable.
        assert (await _reply(runtime))[0] == 413
        result = await outcome
        assert result.error_type == "Function.ResponseSizeTooLarge"
        assert json.loads(result.payload)["errorMessage"] == (
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        )
        await _request(runtime, "GET /nothing HTTP/1.1\r\nHost: x")
        assert (await _reply(runtime))[0] == 404

    _run(scenario)


def test_a_far_too_large_body_is_refused_unread() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port)
        await _request(runtime, _post("/invocation/r1/response", 10**12))  # never sent
        status, headers, _ = await _reply(runtime)
        assert status == 413 and headers["connection"] == "close"
        assert (await outcome).error_type == "Function.ResponseSizeTooLarge"
        assert await _closed(runtime)

    _run(scenario)


def test_a_chunked_stream_is_cut_off_past_the_limit() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port)
        runtime[1].write(
            f"POST {PREFIX}/invocation/r1/response HTTP/1.1\r\nHost: x\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"%x\r\n" % (1 << 20) + b"y" * (1 << 20) + b"\r\n"
        sent = 0
        with pytest.raises(ConnectionError):
            for sent in range(1, 1000):  # noqa: B007
                runtime[1].write(chunk)
                await runtime[1].drain()
        assert (await outcome).error_type == "Function.ResponseSizeTooLarge"
        assert sent < 100

    _run(scenario)


def test_bodies_of_refused_requests_are_not_read() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        _runtime, outcome = await _invocation(server, port)
        for path in ("/invocation/other/response", "/init/error", "/invocation/next", "/x"):
            other = await _connect(port)
            await _request(other, _post(path, 5_000_000))  # body never sent
            status, headers, _ = await _reply(other)
            assert status in (400, 403, 404) and headers["connection"] == "close"
            assert await _closed(other)
        assert not outcome.done()

    _run(scenario)


def test_slow_heads_stalled_bodies_and_idle_connections_are_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_http, "HEAD_TIMEOUT_S", 0.2)
    monkeypatch.setattr(runtime_api, "HEAD_TIMEOUT_S", 0.2)
    monkeypatch.setattr(runtime_http, "STALL_TIMEOUT_S", 0.2)
    monkeypatch.setattr(runtime_api, "IDLE_TIMEOUT_S", 0.2)

    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, outcome = await _invocation(server, port)
        silent = await _connect(port)
        partial = await _connect(port)
        partial[1].write(b"GET /nothing HTTP/1.1\r\n")
        idle = await _connect(port)
        await _request(idle, "GET /nothing HTTP/1.1\r\nHost: x")
        assert (await _reply(idle))[0] == 404
        for streams in (silent, partial, idle):
            assert await _closed(streams)
        stalled = await _connect(port)
        await _request(stalled, _post("/invocation/r1/error", 100), b"0123456789")
        assert await _closed(stalled)
        lines = await _connect(port)
        await _request(lines, "GET /nothing HTTP/1.1" + "\r\nX: y" * 101)
        assert (await _reply(lines))[0] == 431
        # The runtime's own connection idles as long as its handler runs, and is still served.
        await asyncio.sleep(0.5)
        await _request(runtime, _post("/invocation/r1/response", 2), b"42")
        assert (await _reply(runtime))[0] == 202
        assert (await outcome).payload == b"42"

    _run(scenario)


def test_refused_requests_past_a_burst_are_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_api, "WASTE_PER_S", 1.0)
    monkeypatch.setattr(runtime_api, "WASTE_BURST", 3.0)

    async def scenario(server: RuntimeApiServer, port: int) -> None:
        spammer = await _connect(port)
        await _request(spammer, "\r\n\r\n".join(["GET /nothing HTTP/1.1\r\nHost: x"] * 6))
        for _ in range(4):  # the burst, and the one that found it spent
            assert (await _reply(spammer))[0] == 404
        paced = asyncio.ensure_future(_reply(spammer))
        await asyncio.sleep(0.3)
        assert not paced.done()
        assert (await paced)[0] == 404

    _run(scenario)


def test_a_late_response_to_an_abandoned_invocation_does_not_answer_the_next() -> None:
    async def scenario(server: RuntimeApiServer, port: int) -> None:
        runtime, _abandoned = await _invocation(server, port)
        # The executor gave up on r1 (its caller went away) and submitted r2 before the
        # runtime, still busy with r1, answered it.
        outcome = server.submit(Invocation("r2", b'{"n": 2}', 0, "arn", "trace"))
        await _request(runtime, _post("/invocation/r1/response", 2), b"r1")
        assert (await _reply(runtime))[0] == 202
        assert not outcome.done()
        await _request(runtime, f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x")
        status, headers, body = await _reply(runtime)
        assert (status, headers["lambda-runtime-aws-request-id"], body) == (200, "r2", b'{"n": 2}')
        await _request(runtime, _post("/invocation/r2/response", 2), b"r2")
        assert (await _reply(runtime))[0] == 202
        assert (await outcome).payload == b"r2"

    _run(scenario)
