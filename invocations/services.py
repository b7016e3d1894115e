"""Running invocations: the one place that turns an Invoke into an environment call.

Used by the Invoke API and, later, by the console's Test button and asynchronous workers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings

from awsapi import strictjson
from awsapi.apiview import INVOKE_MAX_BYTES
from awsapi.errors import AWSError, InvalidParameterValue, InvalidRequestContent
from iam.models import Account
from invocations import concurrency, runner, selectors
from invocations.executor import xray
from invocations.executor.catalog import RuntimeUnavailable
from invocations.executor.environment import tail
from invocations.executor.ephemeral import EphemeralStorageExhausted
from invocations.executor.spec import EnvironmentSpec, InvokeRequest, InvokeResult
from invocations.executor.streaming import ResponseStream
from invocations.executor.xray import TraceContext
from monitoring.metrics.recorder import SeriesKey, series_keys
from monitoring.metrics.recorder import recorder as metrics
from monitoring.traces.ingest import ingestor as traces

MAX_PAYLOAD_BYTES = INVOKE_MAX_BYTES
MAX_CLIENT_CONTEXT_BYTES = 3583


@dataclass(frozen=True)
class SyncInvocation:
    result: InvokeResult
    executed_version: str
    log_tail: str


def payload_too_large() -> AWSError:
    return AWSError(
        f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
        code="RequestEntityTooLargeException",
        status=413,
    )


def check_payload(body: bytes) -> bytes:
    """The event, as Lambda accepts it: JSON of at most 6 MB (empty means ``{}``)."""
    if len(body) > MAX_PAYLOAD_BYTES:
        raise payload_too_large()
    if not body.strip():
        return b"{}"
    try:
        # Only checked, never walked here: the depth limit is the parser's own.
        strictjson.loads(body, max_depth=None)
    except strictjson.JSONError as exc:
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from exc
    return body


def decode_client_context(value: str | None) -> str | None:
    """``X-Amz-Client-Context`` (base64 JSON) as the runtime receives it (JSON)."""
    if value is None:
        return None
    if len(value) > MAX_CLIENT_CONTEXT_BYTES:
        raise InvalidParameterValue(
            f"Client context must be less than or equal to {MAX_CLIENT_CONTEXT_BYTES} bytes."
        )
    try:
        decoded = base64.b64decode(value, validate=True).decode()
        strictjson.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object."
        ) from exc
    return decoded


async def invoke_target(
    account: Account, function_name: str, qualifier: str | None
) -> selectors.InvokeTarget:
    """What Invoke runs: from the per-process cache, else resolved in a thread."""
    cached = selectors.invoke_target_cached(account.id, function_name, qualifier)
    if cached is not None:
        return cached
    # Checked around the call (a connection PostgreSQL dropped is replaced, not reused).
    resolve = database_sync_to_async(selectors.invoke_target_resolve, thread_sensitive=False)
    target: selectors.InvokeTarget = await resolve(account, function_name, qualifier)
    return target


def metrics_series(target: selectors.InvokeTarget) -> tuple[SeriesKey, ...]:
    """The metric series an invocation of ``target`` counts towards (qualifier as invoked)."""
    parts = target.invoked_arn.split(":")
    qualifier = parts[7] if len(parts) > 7 else None
    return series_keys(target.account_id, target.function_name, qualifier)


def throttled(target: selectors.InvokeTarget) -> AWSError:
    """The 429 a synchronous invoke beyond its concurrency limit answers."""
    return AWSError(
        "Rate Exceeded.",
        code="TooManyRequestsException",
        status=429,
        Reason=concurrency.throttle_reason(target.reserved_concurrency),
    )


async def concurrency_acquire(
    target: selectors.InvokeTarget, series: tuple[SeriesKey, ...] = ()
) -> concurrency.Lease | None:
    """A concurrency slot for one invocation of ``target`` (``None``: throttled)."""
    pool = target.unreserved_concurrency
    return await concurrency.acquire(
        target.account_id,
        target.function_name,
        target.reserved_concurrency,
        int(settings.FUNCTORY_ACCOUNT_CONCURRENCY) if pool is None else pool,
        timeout_s=target.timeout_s,
        series=series,
    )


async def _run_leased(
    spec: EnvironmentSpec,
    request: InvokeRequest,
    series: tuple[SeriesKey, ...],
    lease: concurrency.Lease,
) -> InvokeResult:
    """Run ``request`` in the pool under its concurrency ``lease`` (released after, however
    it ends) and record it in the function's metrics."""
    try:
        result = await runner.pool().invoke(spec, request)
    except RuntimeUnavailable as exc:
        raise AWSError(str(exc), code="InvalidRuntimeException", status=502) from exc
    except EphemeralStorageExhausted as exc:
        # Every environment's /tmp is busy (idle ones were stopped to make room): a capacity
        # throttle, which callers retry (the asynchronous queue with its system back-off).
        raise AWSError(
            "Rate Exceeded: no ephemeral storage is free for a new environment.",
            code="TooManyRequestsException",
            status=429,
        ) from exc
    finally:
        metrics.invocation_finished(series)
        await concurrency.release(lease)
    metrics.invocation(
        series,
        duration_ms=result.duration_ms,
        error=result.function_error is not None,
        cold=result.cold,
        init_duration_ms=result.init_duration_ms,
    )
    return result


@dataclass(frozen=True)
class Queued:
    """An asynchronous attempt's place in its trace: when the event was queued, which try."""

    at: float  # epoch seconds
    attempt: int


def trace_for(spec: EnvironmentSpec, trace_header: str | None) -> TraceContext | None:
    """The invocation's X-Ray trace; None (nothing to do, nothing to record) for a function
    without Active tracing that was given no trace header."""
    if spec.tracing_mode != "Active" and not trace_header:
        return None
    return xray.decide(spec.tracing_mode, trace_header)


def _record_trace(
    trace: TraceContext | None,
    target: selectors.InvokeTarget,
    request_id: str,
    started: float,
    result: InvokeResult | None,
    *,
    status: int = 200,
    queued: Queued | None = None,
) -> None:
    """Hand the platform's segments of a recorded trace to the trace store (a list append)."""
    if trace is None or not trace.record:
        return
    documents = [
        xray.service_segment(
            trace,
            name=target.function_name,
            resource_arn=target.invoked_arn,
            request_id=request_id,
            start=started,
            end=time.time(),
            status=status,
            throttle=status == 429,
            queued_at=queued.at if queued is not None else None,
            attempt=queued.attempt if queued is not None else None,
        )
    ]
    if result is not None:
        documents += result.segments
    traces.submit(target.account_id, target.function_name, documents)


async def invoke_sync(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
    trace_header: str | None = None,
    queued: Queued | None = None,
) -> SyncInvocation:
    """Run one RequestResponse invocation (alias weights applied) and wait for it.

    ``trace_header``: the caller's ``X-Amzn-Trace-Id`` (or an asynchronous event's stored one).
    """
    started = time.time()
    chosen = target.choose()
    trace = trace_for(chosen.spec, trace_header)
    series = metrics_series(target)
    lease = await concurrency_acquire(target, series)
    if lease is None:
        metrics.throttle(series)
        _record_trace(trace, target, request_id, started, None, status=429, queued=queued)
        raise throttled(target)
    metrics.invocation_started(series, running=lease.running)
    request = InvokeRequest(
        request_id=request_id,
        payload=payload,
        invoked_arn=target.invoked_arn,
        client_context=client_context,
        trace=trace,
    )
    result = await _run_leased(chosen.spec, request, series, lease)
    _record_trace(trace, target, request_id, started, result, queued=queued)
    return SyncInvocation(
        result=result, executed_version=chosen.version, log_tail=tail(result.log_lines)
    )


# The Content-Type of a response written through ``awslambda.HttpResponseStream.from``: a
# JSON prelude (statusCode, headers, cookies), eight null bytes, then the body.
HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8
# AWS reads the prelude from the first 16 KB of the stream.
MAX_PRELUDE_BYTES = 16 * 1024


@dataclass(frozen=True)
class HttpPrelude:
    """What ``HttpResponseStream.from`` said about the HTTP response to come."""

    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StreamOutcome:
    """How a streamed invocation ended (after its last chunk)."""

    result: InvokeResult
    log_tail: str

    @property
    def error_type(self) -> str | None:
        return self.result.error_type

    @property
    def error_message(self) -> str | None:
        """The error document's ``errorMessage`` (or the document itself)."""
        if self.result.error_type is None:
            return None
        with contextlib.suppress(ValueError, RecursionError):
            document = json.loads(self.result.payload)
            if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
                return str(document["errorMessage"])
        return self.result.payload.decode("utf-8", "replace")


class StreamInvocation:
    """One running invocation whose response is read as the function writes it.

    ``async for item in it`` yields an :class:`HttpPrelude` first when one was asked for and
    the function wrote one, then ``bytes`` chunks; ``outcome`` is set once they end. A
    function that does not stream (any Python function) has its whole response as one chunk.
    Leaving the loop early (or ``aclose()``) abandons the invocation: its environment is
    stopped, its concurrency released. ``streamed`` tells, from the first item on, whether
    the function streams (else that one chunk is its whole, buffered, response).
    """

    def __init__(
        self,
        task: asyncio.Task[InvokeResult],
        stream: ResponseStream,
        executed_version: str,
        *,
        http_prelude: bool,
    ) -> None:
        self._task = task
        self._stream = stream
        self.executed_version = executed_version
        self._http_prelude = http_prelude
        self.outcome: StreamOutcome | None = None

    async def _pieces(self) -> AsyncIterator[bytes]:
        """The stream's pieces as they come, then the result's (when not streamed)."""
        while True:
            piece = asyncio.ensure_future(self._stream.next_piece())
            try:
                await asyncio.wait({piece, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not piece.done():
                    piece.cancel()
            if piece.done() and not piece.cancelled():
                yield piece.result()
                continue
            break
        for rest in self._stream.pending():
            yield rest
        result = self._task.result()
        self.outcome = StreamOutcome(result, tail(result.log_lines))
        if not result.streamed and result.error_type is None and result.payload:
            yield result.payload

    async def __aiter__(self) -> AsyncIterator[HttpPrelude | bytes]:
        try:
            pieces = self._pieces()
            if self._http_prelude:
                async for item in _split_prelude(pieces, self._stream):
                    yield item
            else:
                async for piece in pieces:
                    yield piece
        finally:
            await self.aclose()

    @property
    def streamed(self) -> bool:
        return self._stream.started

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


async def _split_prelude(
    pieces: AsyncIterator[bytes], stream: ResponseStream
) -> AsyncIterator[HttpPrelude | bytes]:
    """The prelude of an ``HttpResponseStream.from`` response, then the body as it comes.

    A response of another type, or one whose prelude does not end (delimiter) within
    ``MAX_PRELUDE_BYTES`` or is not a JSON object, is passed on as it is.
    """
    head = bytearray()
    split = False
    async for piece in pieces:
        if split or stream.content_type != HTTP_INTEGRATION_TYPE:
            yield piece
            continue
        head += piece
        end = head.find(PRELUDE_DELIMITER)
        if end < 0 and len(head) <= MAX_PRELUDE_BYTES:
            continue
        split = True
        prelude = _parse_prelude(bytes(head[:end])) if 0 <= end <= MAX_PRELUDE_BYTES else None
        if prelude is None:
            yield bytes(head)
        else:
            yield prelude
            if len(head) > end + len(PRELUDE_DELIMITER):
                yield bytes(head[end + len(PRELUDE_DELIMITER) :])
    if head and not split:
        yield bytes(head)


def _parse_prelude(raw: bytes) -> HttpPrelude | None:
    try:
        document = strictjson.loads(raw)
    except strictjson.JSONError:
        return None
    if not isinstance(document, dict):
        return None
    status = document.get("statusCode", 200)
    headers = document.get("headers")
    cookies = document.get("cookies")
    headers = {} if headers is None else headers
    cookies = [] if cookies is None else cookies
    if not isinstance(status, int) or isinstance(status, bool) or not isinstance(headers, dict):
        return None
    if not isinstance(cookies, list):
        return None
    return HttpPrelude(
        status_code=status,
        headers={str(name): str(value) for name, value in headers.items()},
        cookies=[str(cookie) for cookie in cookies],
    )


async def invoke_stream(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
    http_prelude: bool = False,
    trace_header: str | None = None,
) -> StreamInvocation:
    """Start one invocation whose response is streamed (InvokeWithResponseStream, a
    RESPONSE_STREAM function URL), with ``invoke_sync``'s accounting: concurrency (a throttle
    raises before anything is sent), metrics, START/END/REPORT and live logs.

    ``http_prelude``: parse an ``HttpResponseStream.from`` prelude (for function URLs).
    """
    started = time.time()
    chosen = target.choose()
    trace = trace_for(chosen.spec, trace_header)
    series = metrics_series(target)
    lease = await concurrency_acquire(target, series)
    if lease is None:
        metrics.throttle(series)
        _record_trace(trace, target, request_id, started, None, status=429)
        raise throttled(target)
    metrics.invocation_started(series, running=lease.running)
    stream = ResponseStream()
    request = InvokeRequest(
        request_id=request_id,
        payload=payload,
        invoked_arn=target.invoked_arn,
        client_context=client_context,
        stream=stream,
        trace=trace,
    )

    task = asyncio.get_running_loop().create_task(_run_leased(chosen.spec, request, series, lease))
    if trace is not None and trace.record:

        def recorded(done: asyncio.Task[InvokeResult]) -> None:
            if not done.cancelled() and done.exception() is None:
                _record_trace(trace, target, request_id, started, done.result())

        task.add_done_callback(recorded)
    return StreamInvocation(task, stream, chosen.version, http_prelude=http_prelude)
