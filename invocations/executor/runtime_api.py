"""The Lambda Runtime API (2018-06-01), served to one execution environment.

The listening socket lives inside the environment's own network namespace (see
``sandbox.py``), so the runtime reaches it at ``127.0.0.1:9001`` while it can reach nothing
else; the server itself runs on the executor's event loop. Requests are few and small, so
a compact HTTP/1.1 implementation (``runtime_http``) suffices.

The function's own code can talk to this server too, so nothing it sends may make the server
grow. Per environment:

- at most ``MAX_CONNECTIONS`` connections are open; further ones are not accepted and wait
  in the listening socket's backlog, inside the environment, costing the server nothing;
- heads and bodies are bounded in size and time (``runtime_http``); a connection idle
  between requests for ``IDLE_TIMEOUT_S`` is closed, except the runtime's own (the one that
  last fetched ``/next``), which legitimately idles while the handler runs or the
  environment is frozen;
- one body is read at a time, and only for the invocation in flight (``/response`` up to
  AWS's 6,291,556 bytes, ``/error`` and ``/init/error`` up to ``MAX_ERROR_BYTES``); a
  request that is refused has its body left unread and its connection closed.

A response sent with ``Lambda-Runtime-Function-Response-Mode: streaming`` (chunked, errors
in the ``Lambda-Runtime-Function-Error-Type``/``-Body`` trailers, as AWS's custom runtime
documentation describes) is passed on piece by piece to the invocation's
:class:`~invocations.executor.streaming.ResponseStream`, up to ``MAX_STREAMED_BYTES``; for an
invocation that is not streamed (a plain Invoke of a streaming handler) it is collected, up
to the buffered limit, as AWS does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from invocations.executor.runtime_http import (
    HEAD_TIMEOUT_S,
    MAX_HEAD_BYTES,
    BodyTooLarge,
    Head,
    HttpError,
    drain,
    read_body,
    read_head,
    stream_body,
    write_response,
)
from invocations.executor.streaming import ResponseStream

PREFIX = "/2018-06-01/runtime"
# AWS's limit for a synchronous response: "6 MB" is 6,291,556 bytes in its error message.
MAX_RESPONSE_BYTES = 6_291_556
# A streamed response: AWS documents 200 MB as the default maximum (20 MB before July 2025),
# a quota that can be raised: FUNCTORY_STREAM_MAX_BYTES in the executor's environment.
MAX_STREAMED_BYTES = int(os.environ.get("FUNCTORY_STREAM_MAX_BYTES", 200 * 1024 * 1024))
_ERROR_TRAILERS = ("lambda-runtime-function-error-type", "lambda-runtime-function-error-body")
# Error documents (/error, /init/error) are a message, a type and a stack trace.
MAX_ERROR_BYTES = 1024 * 1024
# A runtime needs one connection (two while it reconnects).
MAX_CONNECTIONS = 4
IDLE_TIMEOUT_S = 10.0
# Requests refused (4xx, malformed, superseded) and connections that carried no request are
# work a runtime never causes; past a burst, each one waits for its turn at this rate, holding
# its connection slot, so a function spamming the server costs it next to no CPU.
WASTE_PER_S = 20.0
WASTE_BURST = 50.0
# Functory's own endpoint (not AWS's): served once, before any user code has run.
ASSIGNMENT_PATH = f"{PREFIX}/functory/assignment"
_NEXT_PATH = f"{PREFIX}/invocation/next"
_INVOCATION_PREFIX = f"{PREFIX}/invocation/"
_JSON = {"Content-Type": "application/json"}

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    stream: ResponseStream | None = None  # where a streamed response goes, if streamed


@dataclass
class RuntimeOutcome:
    """What the runtime said about an invocation: a response or an error document."""

    payload: bytes
    error_type: str | None = None  # set for /error
    # Sent in streaming mode; its bytes went to the invocation's stream (if it had one)
    # rather than into ``payload``.
    streamed: bool = False


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.useful = False  # a request was answered with success
        self.status = 0  # of the last reply


class _Pacer:
    """A token bucket: ``wait()`` returns at once within the burst, later past it."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = asyncio.get_running_loop().time()

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


class RuntimeApiServer:
    """One environment's Runtime API: hands out invocations, collects their outcomes."""

    def __init__(
        self, listener: socket.socket, max_streamed_bytes: int = MAX_STREAMED_BYTES
    ) -> None:
        self._listener = listener
        self.max_streamed_bytes = max_streamed_bytes
        self._accepting: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._connections: dict[_Connection, asyncio.Task[None]] = {}
        self._waste = _Pacer(WASTE_PER_S, WASTE_BURST)
        # The connection the runtime fetched its last invocation on: never idled out.
        self._runtime_connection: _Connection | None = None
        self._queued: Invocation | None = None
        self._current: Invocation | None = None
        # The request ID (or "init") whose outcome body is being read, so only one is.
        self._reading: str | None = None
        self._waiting_next: asyncio.Future[None] | None = None
        # Set by each /next, cleared by each submit: whether the runtime came back for more
        # after its last invocation (one that ends instead is replaced, see Environment).
        self.next_asked = asyncio.Event()
        # Called once at the next /next (an idle environment freezes then, see Environment).
        self.on_next: Callable[[], None] | None = None
        self._outcome: asyncio.Future[RuntimeOutcome] | None = None
        self._outcome_of: str | None = None  # the request id ``_outcome`` waits for
        self.first_next: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A standby environment's runtime waits here for the function it will serve.
        self.assignment: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._assignment_served = False
        # Set once that runtime asks for it: its sandbox is set up and its runtime loaded.
        self.awaiting_assignment: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.init_error: asyncio.Future[RuntimeOutcome] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        self._listener.setblocking(False)
        self._accepting = asyncio.get_running_loop().create_task(self._accept_forever())
        # Closed once the task is over (even if cancelled before it ran), after asyncio has
        # stopped watching the socket.
        self._accepting.add_done_callback(lambda _task: self._listener.close())

    def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()  # its end closes the listener
        else:
            self._listener.close()
        for connection, task in list(self._connections.items()):
            connection.writer.transport.abort()
            task.cancel()
        for future in (
            self._waiting_next,
            self._outcome,
            self.first_next,
            self.init_error,
            self.assignment,
            self.awaiting_assignment,
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
        self.next_asked.clear()
        self._queued = invocation
        self._outcome = loop.create_future()
        self._outcome_of = invocation.request_id
        if self._waiting_next is not None and not self._waiting_next.done():
            self._waiting_next.set_result(None)
        return self._outcome

    # -- connections --------------------------------------------------------------------

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # No free slot, no accept: the kernel's backlog holds (or refuses) the rest.
            await self._slots.acquire()
            try:
                sock, _ = await loop.sock_accept(self._listener)
            except OSError:
                self._slots.release()
                await asyncio.sleep(0.1)
                continue
            except BaseException:
                self._slots.release()
                raise
            try:
                reader, writer = await asyncio.open_connection(sock=sock, limit=MAX_HEAD_BYTES)
            except OSError:  # e.g. reset by the peer already
                sock.close()
                self._slots.release()
                continue
            except BaseException:
                sock.close()
                self._slots.release()
                raise
            connection = _Connection(reader, writer)
            self._connections[connection] = loop.create_task(self._serve(connection))

    async def _serve(self, connection: _Connection) -> None:
        writer = connection.writer
        idle_timeout: float | None = HEAD_TIMEOUT_S  # a new connection must start at once
        try:
            while True:
                head = await read_head(connection.reader, idle_timeout)
                if head is None:
                    break
                keep_alive = await self._handle(connection, head)
                await drain(writer)
                if connection.status >= 400:
                    await self._waste.wait()
                else:
                    connection.useful = True
                if not keep_alive or head.wants_close:
                    break
                idle_timeout = None if connection is self._runtime_connection else IDLE_TIMEOUT_S
            if not connection.useful:
                await self._waste.wait()
        except HttpError as exc:
            if exc.status is not None:
                body = _document(str(exc), "InvalidRequest")
                write_response(writer, exc.status, _JSON, body, close=True)
            await self._waste.wait()
        except (ConnectionError, OSError):
            if not connection.useful:
                await self._waste.wait()
        finally:
            self._connections.pop(connection, None)
            if self._runtime_connection is connection:
                self._runtime_connection = None
            self._slots.release()
            # A peer that does not read its reply must not keep the socket open.
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()
            else:
                writer.transport.close()

    # -- routes -------------------------------------------------------------------------

    async def _handle(self, connection: _Connection, head: Head) -> bool:
        """Answer one request; whether the connection may carry another."""
        path = head.path.split("?", 1)[0]
        if head.method == "GET" and not head.has_body:
            if path == _NEXT_PATH:
                self._runtime_connection = connection
                return self._reply(connection, await self._next())
            if path == ASSIGNMENT_PATH and not self._assignment_served:
                self._assignment_served = True
                self._runtime_connection = connection
                if not self.awaiting_assignment.done():
                    self.awaiting_assignment.set_result(None)
                document = await asyncio.shield(self.assignment)
                return self._reply(connection, (200, _JSON, document))
        if head.method == "POST" and path == f"{PREFIX}/init/error":
            if self.first_next.done() or self.init_error.done() or self._reading is not None:
                return self._refuse(connection, head, 403, "InvalidStateTransition")
            return await self._init_error(connection, head)
        if head.method == "POST" and path.startswith(_INVOCATION_PREFIX):
            request_id, _, action = path[len(_INVOCATION_PREFIX) :].partition("/")
            if action in ("response", "error"):
                current = self._current
                if current is None or request_id != current.request_id or self._reading:
                    return self._refuse(connection, head, 400, "InvalidRequestID")
                return await self._outcome_posted(connection, head, action)
        return self._refuse(connection, head, 404, "NotFound")

    async def _outcome_posted(self, connection: _Connection, head: Head, action: str) -> bool:
        mode = head.headers.get("lambda-runtime-function-response-mode", "").lower()
        if action == "response" and mode == "streaming":
            return await self._streamed_response(connection, head)
        limit = MAX_RESPONSE_BYTES if action == "response" else MAX_ERROR_BYTES
        assert self._current is not None
        request_id = self._current.request_id
        try:
            body = await self._read(connection, head, limit, claim="invocation")
        except BodyTooLarge as exc:
            if action == "response":
                self._finish(request_id, _too_large_outcome())
            else:
                error_type = _header_error_type(head) or "Unhandled"
                self._finish(request_id, RuntimeOutcome(_error_too_large(error_type), error_type))
            return self._reply(connection, _too_large_reply(limit), close=not exc.drained)
        if action == "response":
            self._finish(request_id, RuntimeOutcome(body))
        else:
            error_type = _header_error_type(head) or _error_type(body) or "Unhandled"
            self._finish(request_id, RuntimeOutcome(body, error_type))
        return self._reply(connection, _accepted())

    async def _streamed_response(self, connection: _Connection, head: Head) -> bool:
        """A response in streaming mode: passed on as it arrives, or collected for an
        invocation that is not streamed.

        Once bytes have gone out the invocation cannot be answered again, so whatever stops
        the body early (the limit, a malformed chunk, a closed connection) ends it, with the
        error the caller sees in place of the rest.
        """
        assert self._current is not None
        current = self._current
        stream = current.stream
        collected = bytearray()

        async def collect(piece: bytes) -> None:
            collected.extend(piece)

        deliver: Callable[[bytes], Awaitable[None]] = collect
        limit = MAX_RESPONSE_BYTES
        if stream is not None:
            stream.begin(head.headers.get("content-type"))
            limit = self.max_streamed_bytes
            deliver = stream.write

        self._reading = "invocation"
        try:
            if head.headers.get("expect", "").lower() == "100-continue":
                connection.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await stream_body(connection.reader, head, deliver, limit, _ERROR_TRAILERS)
        except (HttpError, ConnectionError, OSError) as exc:
            self._finish(current.request_id, _truncated_outcome(str(exc)))
            raise
        finally:
            self._reading = None
        if body.over_limit:
            outcome = _too_large_outcome(limit)
            outcome.streamed = True
            self._finish(current.request_id, outcome)
            # The rest of the body is not read: the connection goes with it.
            return self._reply(connection, _too_large_reply(limit), close=True)
        error_type = body.trailers.get("lambda-runtime-function-error-type")
        if error_type:
            document = _trailer_error_body(body.trailers, error_type)
            self._finish(current.request_id, RuntimeOutcome(document, error_type, streamed=True))
        else:
            self._finish(current.request_id, RuntimeOutcome(bytes(collected), streamed=True))
        return self._reply(connection, _accepted())

    async def _init_error(self, connection: _Connection, head: Head) -> bool:
        error_type = _header_error_type(head) or "Runtime.Unknown"
        try:
            body = await self._read(connection, head, MAX_ERROR_BYTES, claim="init")
        except BodyTooLarge as exc:
            if not self.init_error.done():
                self.init_error.set_result(RuntimeOutcome(_error_too_large(error_type), error_type))
            reply = _too_large_reply(MAX_ERROR_BYTES)
            return self._reply(connection, reply, close=not exc.drained)
        if not self.init_error.done():
            self.init_error.set_result(RuntimeOutcome(body, error_type))
        return self._reply(connection, _accepted())

    async def _read(self, connection: _Connection, head: Head, limit: int, claim: str) -> bytes:
        """The body of an outcome, read by one connection at a time."""
        self._reading = claim
        try:
            if head.headers.get("expect", "").lower() == "100-continue":
                if head.length is not None and head.length > limit:
                    raise BodyTooLarge(drained=False)  # the body was not sent: nothing to drain
                # curl asks before sending large bodies (and waits a second if not answered).
                connection.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return await read_body(connection.reader, head, limit)
        finally:
            self._reading = None

    async def _next(self) -> Reply:
        self.next_asked.set()
        callback, self.on_next = self.on_next, None
        if callback is not None:
            callback()
        if not self.first_next.done():
            self.first_next.set_result(None)
        while self._queued is None:
            previous = self._waiting_next
            if previous is not None and not previous.done():
                # A newer /next replaces an older one (whose runtime gave up on it).
                previous.set_exception(HttpError(None, "superseded by a newer /next"))
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

    def _reply(self, connection: _Connection, reply: Reply, *, close: bool = False) -> bool:
        status, headers, body = reply
        connection.status = status
        if connection.writer.is_closing():
            # The runtime hung up while its request was being handled (e.g. after a
            # streamed response): nobody is left to answer, and uvloop refuses the write.
            return False
        write_response(connection.writer, status, headers, body, close=close)
        return not close

    def _refuse(self, connection: _Connection, head: Head, status: int, error_type: str) -> bool:
        """An error reply; a body the request came with is left unread, with the connection."""
        message = {
            400: "Invalid request ID",
            403: "Init errors can only be posted once, before the first /next",
            404: "Not found",
        }[status]
        reply = (status, _JSON, _document(message, error_type))
        return self._reply(connection, reply, close=head.has_body)

    def _finish(self, request_id: str, outcome: RuntimeOutcome) -> None:
        self._current = None
        # Only the invocation it answers: a late answer to an abandoned invocation must never
        # become the outcome of the one submitted after it.
        if request_id != self._outcome_of:
            return
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)


def _too_large_outcome(limit: int = MAX_RESPONSE_BYTES) -> RuntimeOutcome:
    # AWS's words for a synchronous invoke.
    return RuntimeOutcome(
        _document(
            f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
            "Function.ResponseSizeTooLarge",
        ),
        "Function.ResponseSizeTooLarge",
    )


def _truncated_outcome(reason: str) -> RuntimeOutcome:
    return RuntimeOutcome(
        _document(
            f"The runtime's streamed response ended before it was complete: {reason}",
            "Runtime.TruncatedResponse",
        ),
        "Runtime.TruncatedResponse",
        streamed=True,
    )


def _trailer_error_body(trailers: dict[str, str], error_type: str) -> bytes:
    """The error document of a streamed response's trailers (its body is base64 JSON)."""
    encoded = trailers.get("lambda-runtime-function-error-body", "")
    with contextlib.suppress(binascii.Error, ValueError, RecursionError):
        document: Any = json.loads(base64.b64decode(encoded, validate=True))
        if isinstance(document, dict):
            return json.dumps(document).encode()
    return _document("", error_type)


def _error_too_large(error_type: str) -> bytes:
    return _document(
        f"Error payload size exceeded maximum allowed payload size ({MAX_ERROR_BYTES} bytes).",
        error_type,
    )


def _too_large_reply(limit: int) -> Reply:
    message = f"Payload size exceeded maximum allowed payload size ({limit} bytes)."
    return 413, _JSON, _document(message, "RequestEntityTooLarge")


def _accepted() -> Reply:
    return 202, _JSON, b'{"status":"OK"}'


def _document(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _header_error_type(head: Head) -> str | None:
    return head.headers.get("lambda-runtime-function-error-type") or None


def _error_type(body: bytes) -> str | None:
    # The function's bytes: anything, 10,000 levels deep too.
    with contextlib.suppress(ValueError, RecursionError):
        document: Any = json.loads(body)
        if isinstance(document, dict):
            return str(document.get("errorType"))
    return None
