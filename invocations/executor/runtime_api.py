"""The Lambda Runtime API (2018-06-01), served to one execution environment.

The listening socket lives inside the environment's own network namespace (see
``sandbox.py``), so the runtime reaches it at ``127.0.0.1:9001`` while it can reach nothing
else; the server itself runs on the executor's event loop. Requests are few and small, so
a compact HTTP/1.1 implementation (keep-alive, Content-Length and chunked bodies) suffices.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from typing import Any

PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# Functory's own endpoint (not AWS's): served once, before any user code has run.
ASSIGNMENT_PATH = f"{PREFIX}/functory/assignment"
_MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None


@dataclass
class RuntimeOutcome:
    """What the runtime said about an invocation: a response or an error document."""

    payload: bytes
    error_type: str | None = None  # set for /error


class RuntimeApiServer:
    """One environment's Runtime API: hands out invocations, collects their outcomes."""

    def __init__(self, listener: socket.socket) -> None:
        self._listener = listener
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._queued: Invocation | None = None
        self._current: Invocation | None = None
        self._waiting_next: asyncio.Future[None] | None = None
        self._outcome: asyncio.Future[RuntimeOutcome] | None = None
        self.first_next: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A standby environment's runtime waits here for the function it will serve.
        self.assignment: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._assignment_served = False
        self.init_error: asyncio.Future[RuntimeOutcome] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        self._listener.setblocking(False)
        self._server = await asyncio.start_server(self._serve, sock=self._listener)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        else:
            self._listener.close()
        for writer in list(self._writers):
            writer.close()
        for future in (
            self._waiting_next,
            self._outcome,
            self.first_next,
            self.init_error,
            self.assignment,
        ):
            if future is not None and not future.done():
                future.cancel()

    def assign(self, document: bytes) -> None:
        """Hand a standby runtime its function (environment variables and handler)."""
        if not self.assignment.done():
            self.assignment.set_result(document)

    def submit(self, invocation: Invocation) -> asyncio.Future[RuntimeOutcome]:
        """Queue an invocation for the runtime's next ``/next`` and return its outcome."""
        loop = asyncio.get_running_loop()
        self._queued = invocation
        self._outcome = loop.create_future()
        if self._waiting_next is not None and not self._waiting_next.done():
            self._waiting_next.set_result(None)
        return self._outcome

    # -- HTTP ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader, writer)
                if request is None:
                    break
                method, path, headers, body = request
                status, reply_headers, reply = await self._route(method, path, headers, body)
                _write_response(writer, status, reply_headers, reply)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except _BodyTooLarge:
            self._finish(_too_large_outcome())
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path = path.split("?", 1)[0]
        if method == "GET" and path == f"{PREFIX}/invocation/next":
            return await self._next()
        if method == "GET" and path == ASSIGNMENT_PATH and not self._assignment_served:
            self._assignment_served = True
            document = await asyncio.shield(self.assignment)
            return 200, {"Content-Type": "application/json"}, document
        if method == "POST" and path == f"{PREFIX}/init/error":
            outcome = RuntimeOutcome(
                body, headers.get("lambda-runtime-function-error-type") or "Runtime.Unknown"
            )
            if not self.init_error.done():
                self.init_error.set_result(outcome)
            return _accepted()
        if method == "POST" and path.startswith(f"{PREFIX}/invocation/"):
            rest = path[len(f"{PREFIX}/invocation/") :]
            request_id, _, action = rest.partition("/")
            current = self._current
            if current is None or request_id != current.request_id:
                return _error(400, "InvalidRequestID", "Invalid request ID")
            if action == "response":
                if len(body) > MAX_RESPONSE_BYTES:
                    self._finish(_too_large_outcome())
                    return _error(
                        413, "RequestEntityTooLarge", "Response payload size exceeded maximum"
                    )
                self._finish(RuntimeOutcome(body))
                return _accepted()
            if action == "error":
                error_type = headers.get("lambda-runtime-function-error-type") or _error_type(body)
                self._finish(RuntimeOutcome(body, error_type or "Unhandled"))
                return _accepted()
        return _error(404, "NotFound", "Not found")

    async def _next(self) -> tuple[int, dict[str, str], bytes]:
        if not self.first_next.done():
            self.first_next.set_result(None)
        while self._queued is None:
            self._waiting_next = asyncio.get_running_loop().create_future()
            await self._waiting_next
        invocation, self._queued = self._queued, None
        self._current = invocation
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        return 200, headers, invocation.payload

    def _finish(self, outcome: RuntimeOutcome) -> None:
        self._current = None
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)


class _BodyTooLarge(ValueError):
    """A runtime tried to post more than a response may hold."""


def _too_large_outcome() -> RuntimeOutcome:
    return RuntimeOutcome(
        _error_document(
            f"Response payload size exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes).",
            "Function.ResponseSizeTooLarge",
        ),
        "Function.ResponseSizeTooLarge",
    )


def _accepted() -> tuple[int, dict[str, str], bytes]:
    return 202, {"Content-Type": "application/json"}, b'{"status":"OK"}'


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, _error_document(message, error_type)


def _error_document(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _error_type(body: bytes) -> str | None:
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):  # the function's bytes: anything, 10,000 deep too
        return None
    return str(document.get("errorType")) if isinstance(document, dict) else None


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    except asyncio.LimitOverrunError as exc:
        raise ValueError("header too large") from exc
    if len(head) > _MAX_HEADER_BYTES:
        raise ValueError("header too large")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("expect", "").lower() == "100-continue":
        # curl asks before sending large bodies (and waits a second if not answered).
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            total += size
            if total > MAX_RESPONSE_BYTES + 1024 * 1024:
                raise _BodyTooLarge()
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_RESPONSE_BYTES + 1024 * 1024:
            raise _BodyTooLarge()
        body = await reader.readexactly(length)
    return method, path, headers, body


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 413: "Too Large"}


def _write_response(
    writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
) -> None:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
