"""Accepting an asynchronous event: check its size, store it, hand it to a worker.

The Invoke API accepts events here (:func:`event_accept`), and so do function destinations
(:mod:`invocations.destinations`); :mod:`invocations.asynchronous` then runs, retries and
ends them.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from awsapi.errors import AWSError
from invocations import selectors, taskqueue
from invocations.executor import xray
from invocations.models import AsyncInvocation
from monitoring.metrics.recorder import recorder as metrics
from monitoring.metrics.recorder import series_keys

# Raised from 256 KB to 1 MB by AWS in October 2025.
MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024


def check_event_payload(body: bytes) -> None:
    """Event invokes take at most 1 MB (the synchronous limit is checked first)."""
    if len(body) > MAX_EVENT_PAYLOAD_BYTES:
        raise AWSError(
            f"{len(body)} byte payload is too large for the Event invocation type "
            f"(limit {MAX_EVENT_PAYLOAD_BYTES} bytes)",
            code="RequestEntityTooLargeException",
            status=413,
        )


def _invoked_qualifier(target: selectors.InvokeTarget) -> str:
    parts = target.invoked_arn.split(":")
    return parts[7] if len(parts) > 7 else ""


def async_invocation_create(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
    trace_header: str | None = None,
) -> AsyncInvocation:
    """Store an accepted event and hand it to a worker once it is committed.

    Its trace header (the caller's, else a new sampled root when the function traces
    actively) is stored with it: every attempt continues that one trace."""
    now = timezone.now()
    with transaction.atomic():
        invocation = AsyncInvocation.objects.create(
            account_id=target.account_id,
            function_name=target.function_name,
            qualifier=_invoked_qualifier(target),
            payload=payload,
            client_context=client_context or "",
            trace_header=event_trace_header(target, trace_header),
            request_id=request_id,
            next_attempt_at=now,
            created=now,
        )
        transaction.on_commit(lambda: taskqueue.enqueue(invocation.pk))
    metrics.async_event_received(
        series_keys(invocation.account_id, invocation.function_name, invocation.qualifier)
    )
    return invocation


def event_trace_header(target: selectors.InvokeTarget, given: str | None) -> str:
    header = xray.parse_header(given)
    if header is None and target.primary.spec.tracing_mode == "Active":
        header = xray.TraceHeader(xray.new_root(), None, "1")
    return header.render() if header is not None else ""


async def event_accept(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
    trace_header: str | None = None,
) -> AsyncInvocation:
    """:func:`async_invocation_create` from the (async) Invoke API."""
    create = database_sync_to_async(async_invocation_create, thread_sensitive=False)
    invocation: AsyncInvocation = await create(
        target,
        request_id=request_id,
        payload=payload,
        client_context=client_context,
        trace_header=trace_header,
    )
    return invocation
