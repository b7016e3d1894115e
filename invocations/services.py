"""Running invocations: the one place that turns an Invoke into an environment call.

Used by the Invoke API and, later, by the console's Test button and asynchronous workers.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings

from awsapi import strictjson
from awsapi.apiview import INVOKE_MAX_BYTES
from awsapi.errors import AWSError, InvalidParameterValue, InvalidRequestContent
from iam.models import Account
from invocations import concurrency, runner, selectors
from invocations.executor.catalog import RuntimeUnavailable
from invocations.executor.environment import tail
from invocations.executor.spec import InvokeRequest, InvokeResult
from monitoring.metrics.recorder import SeriesKey, series_keys
from monitoring.metrics.recorder import recorder as metrics

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


async def invoke_sync(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
) -> SyncInvocation:
    """Run one RequestResponse invocation (alias weights applied) and wait for it."""
    chosen = target.choose()
    series = metrics_series(target)
    lease = await concurrency_acquire(target, series)
    if lease is None:
        metrics.throttle(series)
        raise throttled(target)
    metrics.invocation_started(series, running=lease.running)
    try:
        result = await runner.pool().invoke(
            chosen.spec,
            InvokeRequest(
                request_id=request_id,
                payload=payload,
                invoked_arn=target.invoked_arn,
                client_context=client_context,
            ),
        )
    except RuntimeUnavailable as exc:
        raise AWSError(str(exc), code="InvalidRuntimeException", status=502) from exc
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
    return SyncInvocation(
        result=result, executed_version=chosen.version, log_tail=tail(result.log_lines)
    )
