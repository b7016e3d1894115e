"""Asynchronous invocation: accept an event, run it in a worker, retry it, give it up.

The Invoke API stores the event (:func:`event_accept`) and hands its id to Celery once the
row is committed. A worker claims the row (:func:`async_invocation_claim`: a conditional
UPDATE that takes a lease), runs it through the same executor path as a synchronous invoke,
and records the outcome only if it still holds the lease. Function errors are retried up to
the function's ``MaximumRetryAttempts`` (default 2), throttles and system errors with
growing delays, never past ``MaximumEventAgeInSeconds`` (default 6 h). The periodic
:func:`async_invocations_sweep` hands out again whatever a dead worker or a lost broker
message left behind, so an accepted event runs at least once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from console.errors import AWSError
from functions.models import EventInvokeConfig, FunctionVersion
from invocations import eventloop, selectors, services
from invocations.models import AsyncInvocation
from monitoring.ingest import ingestor

logger = logging.getLogger(__name__)

MAX_EVENT_PAYLOAD_BYTES = 256 * 1024
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 6 * 60 * 60

Status = AsyncInvocation.Status
WAITING = (Status.QUEUED, Status.RETRYING)


def check_event_payload(body: bytes) -> None:
    """Event invokes take at most 256 KB (the synchronous limit is checked first)."""
    if len(body) > MAX_EVENT_PAYLOAD_BYTES:
        raise AWSError(
            f"{len(body)} byte payload is too large for the Event invocation type "
            f"(limit {MAX_EVENT_PAYLOAD_BYTES} bytes)",
            code="RequestTooLargeException",
            status=413,
        )


def _invoked_qualifier(target: selectors.InvokeTarget) -> str:
    parts = target.invoked_arn.split(":")
    return parts[7] if len(parts) > 7 else ""


def enqueue(invocation_id: int, countdown: float | None = None) -> None:
    from invocations.tasks import async_invocation_run

    if countdown:
        async_invocation_run.apply_async((invocation_id,), countdown=countdown)
    else:
        async_invocation_run.delay(invocation_id)


def async_invocation_create(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
) -> AsyncInvocation:
    """Store an accepted event and hand it to a worker once it is committed."""
    now = timezone.now()
    with transaction.atomic():
        invocation = AsyncInvocation.objects.create(
            account_id=target.account_id,
            function_name=target.function_name,
            qualifier=_invoked_qualifier(target),
            payload=payload,
            client_context=client_context or "",
            request_id=request_id,
            next_attempt_at=now,
            created=now,
        )
        transaction.on_commit(lambda: enqueue(invocation.pk))
    return invocation


async def event_accept(
    target: selectors.InvokeTarget,
    *,
    request_id: str,
    payload: bytes,
    client_context: str | None = None,
) -> AsyncInvocation:
    """:func:`async_invocation_create` from the (async) Invoke API."""
    create = sync_to_async(async_invocation_create, thread_sensitive=False)
    invocation: AsyncInvocation = await create(
        target, request_id=request_id, payload=payload, client_context=client_context
    )
    return invocation


def event_invoke_settings(invocation: AsyncInvocation) -> tuple[int, int]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds) for the qualifier as invoked."""
    config = EventInvokeConfig.objects.filter(
        function__account_id=invocation.account_id,
        function__name=invocation.function_name,
        qualifier=invocation.qualifier or FunctionVersion.LATEST,
    ).first()
    retries = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    age = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS
    if config is not None:
        if config.maximum_retry_attempts is not None:
            retries = config.maximum_retry_attempts
        if config.maximum_event_age is not None:
            age = config.maximum_event_age
    return retries, age


def async_invocation_claim(
    invocation_id: int, now: datetime | None = None
) -> AsyncInvocation | None:
    """Take the event for one attempt, or None when it isn't due or someone else holds it.

    The lease (``claimed_until``) is what makes a killed worker's event run again; the
    attempt number the claim sets is the token that later writes are conditional on.
    """
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.FUNCTORY_ASYNC_LEASE_SECONDS)
    claimable = Q(status__in=WAITING, next_attempt_at__lte=now) | Q(
        status=Status.RUNNING, claimed_until__lt=now
    )
    claimed = AsyncInvocation.objects.filter(claimable, pk=invocation_id).update(
        status=Status.RUNNING, claimed_until=lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return AsyncInvocation.objects.select_related("account").get(pk=invocation_id)


def _record(invocation: AsyncInvocation, **fields: object) -> bool:
    """Write an attempt's outcome, only while this attempt still holds the event."""
    updated = AsyncInvocation.objects.filter(
        pk=invocation.pk, status=Status.RUNNING, attempts=invocation.attempts
    ).update(**fields)
    if not updated:
        logger.warning("async invocation %s: lost its claim before recording", invocation)
    return bool(updated)


def _fail(invocation: AsyncInvocation, error: str, now: datetime, **fields: object) -> str:
    if _record(
        invocation,
        status=Status.FAILED,
        last_error=error,
        finished=now,
        claimed_until=None,
        **fields,
    ):
        on_failure(invocation.pk)
    return Status.FAILED


def _retry(invocation: AsyncInvocation, error: str, delay: float, **fields: object) -> str:
    if _record(
        invocation,
        status=Status.RETRYING,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        claimed_until=None,
        **fields,
    ):
        transaction.on_commit(lambda: enqueue(invocation.pk, countdown=delay))
    return Status.RETRYING


def async_invocation_run(invocation_id: int) -> str:
    """One attempt of an asynchronous invocation (safe to run twice: the claim decides)."""
    invocation = async_invocation_claim(invocation_id)
    if invocation is None:
        return "skipped"
    max_retries, max_age = event_invoke_settings(invocation)
    expires = invocation.created + timedelta(seconds=max_age)
    if timezone.now() >= expires:
        return _fail(
            invocation,
            "EventAgeExceeded",
            timezone.now(),
            attempts=F("attempts") - 1,
        )
    try:
        target = eventloop.run(
            services.invoke_target(
                invocation.account, invocation.function_name, invocation.qualifier or None
            )
        )
        # The lease must outlive the function's timeout, whichever version runs.
        timeouts = [target.primary.spec.timeout_s]
        if target.secondary is not None:
            timeouts.append(target.secondary[0].spec.timeout_s)
        lease = max(timeouts) + settings.FUNCTORY_ASYNC_LEASE_SECONDS
        _record(invocation, claimed_until=timezone.now() + timedelta(seconds=lease))
        done = eventloop.run(
            services.invoke_sync(
                target,
                request_id=invocation.request_id,
                payload=bytes(invocation.payload),
                client_context=invocation.client_context or None,
            )
        )
    except Exception as exc:
        return _system_error(invocation, exc, expires)
    # The attempt's log lines are stored before the attempt is: a worker killed in between
    # leaves the event to be run again rather than done without its logs.
    ingestor.flush()
    now = timezone.now()
    if done.result.function_error is None:
        if _record(
            invocation,
            status=Status.SUCCEEDED,
            executed_version=done.executed_version,
            last_error="",
            finished=now,
            claimed_until=None,
        ):
            on_success(invocation.pk)
        return Status.SUCCEEDED
    body = bytes(done.result.payload)[:1000].decode(errors="replace")
    error = f"{done.result.function_error}: {body}"
    errors = invocation.function_errors + 1
    fields: dict[str, object] = {
        "function_errors": errors,
        "executed_version": done.executed_version,
    }
    # AWS waits about one minute before the second attempt and two before the third.
    delay = settings.FUNCTORY_ASYNC_RETRY_BASE_SECONDS * 2 ** (errors - 1)
    if errors > max_retries or now + timedelta(seconds=delay) >= expires:
        return _fail(invocation, error, now, **fields)
    return _retry(invocation, error, delay, **fields)


def _system_error(invocation: AsyncInvocation, exc: Exception, expires: datetime) -> str:
    """Throttles and system errors: retried with growing delays until the event expires;
    errors of the request itself (e.g. the function is gone) give the event up."""
    now = timezone.now()
    if isinstance(exc, AWSError):
        error = f"{exc.code}: {exc}"
        retriable = exc.status == 429 or exc.status >= 500
    else:
        logger.exception("async invocation %s: system error", invocation)
        error = f"ServiceException: {type(exc).__name__}"
        retriable = True
    system_errors = invocation.attempts - invocation.function_errors
    delay = min(
        settings.FUNCTORY_ASYNC_SYSTEM_RETRY_BASE_SECONDS * 2 ** (system_errors - 1),
        settings.FUNCTORY_ASYNC_SYSTEM_RETRY_MAX_SECONDS,
    )
    if not retriable or now + timedelta(seconds=delay) >= expires:
        return _fail(invocation, error, now)
    return _retry(invocation, error, delay)


def async_invocations_sweep(now: datetime | None = None, limit: int = 1000) -> int:
    """Hand out again what was left behind (periodic; safe to run twice).

    - an expired claim: the worker died (or hung) mid-attempt;
    - an event due for a while that nobody took: its broker message was lost.
    """
    now = now or timezone.now()
    recovered: list[int] = []
    expired = AsyncInvocation.objects.filter(status=Status.RUNNING, claimed_until__lt=now)
    for pk in expired.values_list("pk", flat=True)[:limit]:
        if expired.filter(pk=pk).update(
            status=Status.RETRYING,
            claimed_until=None,
            next_attempt_at=now,
            last_error="ServiceException: the attempt's worker stopped before finishing",
        ):
            recovered.append(pk)
    stale = now - timedelta(seconds=settings.FUNCTORY_ASYNC_REQUEUE_AFTER_SECONDS)
    lost = AsyncInvocation.objects.filter(status__in=WAITING, next_attempt_at__lte=stale)
    for pk in lost.values_list("pk", flat=True)[:limit]:
        # Bumping next_attempt_at keeps the next sweep from sending it again right away.
        if lost.filter(pk=pk).update(next_attempt_at=now):
            recovered.append(pk)
    for pk in recovered:
        enqueue(pk)
    return len(recovered)


# Hooks for the event's end (issue 6 item 3: DeadLetterConfig and OnSuccess/OnFailure
# destinations deliver from here). Called once per event, after its final state is stored.


def on_success(invocation_id: int) -> None:
    """The event's function returned without an error."""


def on_failure(invocation_id: int) -> None:
    """The event was given up (retries exhausted, too old, or a non-retriable error)."""
