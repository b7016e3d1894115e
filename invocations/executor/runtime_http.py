"""The bounded HTTP/1.1 the Runtime API speaks: heads, bodies and replies with hard limits.

Whatever a function sends, one connection costs the server at most one head (64 KiB) and
the one body its route allows; bodies are read in pieces as they arrive, never past the limit,
and a peer that stops sending is dropped instead of waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# A request head (request line and headers): size, lines, and the time to send it whole.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_LINES = 100
HEAD_TIMEOUT_S = 5.0
# A body (or a reply being written) that makes no progress for this long is abandoned.
STALL_TIMEOUT_S = 10.0
# Past a body's limit, up to this much more is read and thrown away, so that a runtime that
# wrote a slightly oversized response still reads our 413; anything larger closes the socket.
DISCARD_BYTES = 1024 * 1024
_PIECE = 64 * 1024


class HttpError(Exception):
    """The peer broke the protocol or a limit: answer (if ``status``) and close."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class BodyTooLarge(Exception):
    """The body is over its limit; ``drained`` tells whether it was read to its end."""

    def __init__(self, drained: bool) -> None:
        super().__init__("body too large")
        self.drained = drained


@dataclass
class Head:
    method: str
    path: str
    headers: dict[str, str]
    length: int | None  # Content-Length, or None when chunked
    chunked: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.length)

    @property
    def wants_close(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


async def read_head(reader: asyncio.StreamReader, idle_timeout: float | None) -> Head | None:
    """The next request head; ``None`` when the peer closed or stayed idle too long.

    The first byte may take ``idle_timeout`` (``None``: forever); the rest of the head must
    follow within ``HEAD_TIMEOUT_S``. The reader's limit must be ``MAX_HEAD_BYTES``.
    """
    try:
        first = await asyncio.wait_for(reader.read(1), idle_timeout)
    except TimeoutError:
        return None
    if not first:
        return None
    try:
        rest = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
    except TimeoutError:
        raise HttpError(None, "request head too slow") from None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    except asyncio.IncompleteReadError:
        raise HttpError(None, "connection closed in the request head") from None
    raw = first + rest
    if len(raw) > MAX_HEAD_BYTES:
        raise HttpError(431, "request head too large")
    lines = raw[:-4].decode("latin-1").split("\r\n")
    if len(lines) - 1 > MAX_HEADER_LINES:
        raise HttpError(431, "too many header lines")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise HttpError(400, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length: int | None = None
    if not chunked:
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or len(declared) > 18:
            raise HttpError(400, "bad Content-Length")
        length = int(declared)
    return Head(parts[0], parts[1], headers, length, chunked)


async def read_body(reader: asyncio.StreamReader, head: Head, limit: int) -> bytes:
    """The request body, read as it arrives; ``BodyTooLarge`` past ``limit`` bytes."""
    if head.length is not None:
        if head.length > limit:
            drained = head.length <= limit + DISCARD_BYTES
            if drained:
                await _discard(reader, head.length)
            raise BodyTooLarge(drained)
        return await _read_exactly(reader, head.length)
    return await _read_chunked(reader, limit)


async def _read_exactly(reader: asyncio.StreamReader, length: int) -> bytes:
    body = bytearray()
    while len(body) < length:
        piece = await _read_piece(reader, min(_PIECE, length - len(body)))
        body += piece
    return bytes(body)


async def _discard(reader: asyncio.StreamReader, length: int) -> None:
    while length > 0:
        length -= len(await _read_piece(reader, min(_PIECE, length)))


async def _read_piece(
    reader: asyncio.StreamReader, size: int, stall_s: float | None = STALL_TIMEOUT_S
) -> bytes:
    try:
        piece = await asyncio.wait_for(reader.read(size), stall_s)
    except TimeoutError:
        raise HttpError(None, "request body stalled") from None
    if not piece:
        raise HttpError(None, "connection closed in the request body")
    return piece


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    total = 0
    while True:
        size = await _chunk_size(reader)
        if size == 0:
            break
        total += size
        if total > limit + DISCARD_BYTES:
            raise BodyTooLarge(drained=False)
        if total > limit:
            body = bytearray()  # over the limit: drop what we hold, count the rest
            await _discard(reader, size)
        else:
            body += await _read_exactly(reader, size)
        if await _read_line(reader) != b"\r\n":
            raise HttpError(400, "malformed chunk")
    # Trailers, if any, up to the empty line.
    for _ in range(MAX_HEADER_LINES):
        if await _read_line(reader) == b"\r\n":
            break
    else:
        raise HttpError(400, "too many trailer lines")
    if total > limit:
        raise BodyTooLarge(drained=True)
    return bytes(body)


async def _chunk_size(reader: asyncio.StreamReader, stall_s: float | None = STALL_TIMEOUT_S) -> int:
    line = await _read_line(reader, stall_s)
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > 15:
        raise HttpError(400, "malformed chunk size")
    try:
        return int(digits, 16)
    except ValueError:
        raise HttpError(400, "malformed chunk size") from None


async def _read_line(
    reader: asyncio.StreamReader, stall_s: float | None = STALL_TIMEOUT_S
) -> bytes:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), stall_s)
    except TimeoutError:
        raise HttpError(None, "request body stalled") from None
    except asyncio.LimitOverrunError:
        raise HttpError(400, "chunk line too long") from None
    except asyncio.IncompleteReadError:
        raise HttpError(None, "connection closed in the request body") from None


@dataclass
class StreamedBody:
    """How a body passed on piece by piece ended."""

    total: int = 0  # bytes passed on
    over_limit: bool = False  # stopped at the limit, the rest unread
    trailers: dict[str, str] = field(default_factory=dict)  # only those asked for


async def stream_body(
    reader: asyncio.StreamReader,
    head: Head,
    deliver: Callable[[bytes], Awaitable[None]],
    limit: int,
    trailers: tuple[str, ...] = (),
) -> StreamedBody:
    """Pass the body on as it arrives, each piece as soon as it is read.

    A streamed response may legitimately pause for as long as its handler runs, so no stall
    timeout applies here: the caller bounds the whole (the invocation's timeout). Nothing
    accumulates: past ``limit`` bytes reading stops and ``over_limit`` is set. Of a chunked
    body's trailers, only the (lower-case) names in ``trailers`` are kept.
    """
    outcome = StreamedBody()
    if head.length is not None:
        remaining = head.length
        while remaining > 0:
            piece = await _read_piece(reader, min(_PIECE, remaining), None)
            remaining -= len(piece)
            if not await _pass_on(outcome, piece, deliver, limit):
                return outcome
        return outcome
    while True:
        size = await _chunk_size(reader, None)
        if size == 0:
            break
        remaining = size
        while remaining > 0:
            piece = await _read_piece(reader, min(_PIECE, remaining), None)
            remaining -= len(piece)
            if not await _pass_on(outcome, piece, deliver, limit):
                return outcome
        if await _read_line(reader, None) != b"\r\n":
            raise HttpError(400, "malformed chunk")
    for _ in range(MAX_HEADER_LINES):
        line = await _read_line(reader, STALL_TIMEOUT_S)
        if line == b"\r\n":
            return outcome
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise HttpError(400, "malformed trailer line")
        name = name.strip().lower()
        if name in trailers:
            outcome.trailers[name] = value.strip()
    raise HttpError(400, "too many trailer lines")


async def _pass_on(
    outcome: StreamedBody, piece: bytes, deliver: Callable[[bytes], Awaitable[None]], limit: int
) -> bool:
    if outcome.total + len(piece) > limit:
        outcome.over_limit = True
        return False
    outcome.total += len(piece)
    await deliver(piece)
    return True


_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
}


def write_response(
    writer: asyncio.StreamWriter,
    status: int,
    headers: dict[str, str],
    body: bytes,
    *,
    close: bool = False,
) -> None:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    if close:
        head.append("Connection: close")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


async def drain(writer: asyncio.StreamWriter) -> None:
    """Wait for a reply to go out; a peer that stops reading is dropped, not waited for."""
    try:
        await asyncio.wait_for(writer.drain(), STALL_TIMEOUT_S)
    except TimeoutError:
        raise HttpError(None, "peer stopped reading") from None
