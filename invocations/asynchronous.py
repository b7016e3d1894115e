"""Asynchronous invocation: run an accepted event in a worker, retry it, give it up.

The Invoke API stores the event (:mod:`invocations.acceptance`) and hands its id to Celery
once the row is committed. A worker claims the row (:func:`async_invocation_claim`: a
conditional UPDATE that takes a lease), runs it through the same executor path as a
synchronous invoke, and records the outcome only if it still holds the lease. Function
errors are retried up to the function's ``MaximumRetryAttempts`` (default 2), throttles and
system errors with growing delays, never past ``MaximumEventAgeInSeconds`` (default 6 h).
The periodic :func:`async_invocations_sweep` hands out again whatever a dead worker or a
lost broker message left behind, so an accepted event runs at least once.

An event that ends owes records to its dead-letter queue and destinations: they are stored
with its final state and sent by :mod:`invocations.destinations` (by the sweeper's worker
if the first one died before sending them all).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from awsapi.errors import AWSError
from awsapi.transactions import commit_without_waiting_for_disk
from functions.models import EventInvokeConfig, FunctionVersion
from invocations import destinations, eventloop, remote, selectors, services, taskqueue
from invocations.models import AsyncInvocation
from monitoring.ingest import ingestor
from monitoring.metrics.recorder import recorder as metrics
from monitoring.metrics.recorder import series_keys

logger = logging.getLogger(__name__)

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = EventInvokeConfig.DEFAULT_MAXIMUM_RETRY_ATTEMPTS
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = EventInvokeConfig.DEFAULT_MAXIMUM_EVENT_AGE_SECONDS
# What an attempt may take beyond its function's timeout (cold start, logs, bookkeeping).
LEASE_MARGIN_SECONDS = 30.0

Status = AsyncInvocation.Status
WAITING = (Status.QUEUED, Status.RETRYING)

# Events this process ended (their final state committed), newest last: their messages,
# which mostly come after a batch ran them, are dropped without a query. An ended event
# never waits again, so this only ever answers what the database would.
ENDED_HERE_LIMIT = 65536
_ended_here: dict[int, None] = {}
_ended_here_lock = threading.Lock()  # a worker may run tasks in threads


def _ended_here_many(invocation_ids: list[int]) -> None:
    for invocation_id in invocation_ids:
        _ended_here_add(invocation_id)


def _ended_here_add(invocation_id: int) -> None:
    with _ended_here_lock:
        _ended_here[invocation_id] = None
        if len(_ended_here) > ENDED_HERE_LIMIT:
            del _ended_here[next(iter(_ended_here))]


def retry_delay(retry: int, *, base: float, cap: float = math.inf) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first): ``base``, doubled
    for each retry before it, never more than ``cap``.

    AWS waits about one minute before an event's second attempt and two before its third
    (``base`` 60); throttles and system errors back off the same way from their own base,
    up to a ceiling.
    """
    return min(base * 2 ** (retry - 1), cap)


def _series(invocation: AsyncInvocation) -> tuple[tuple[str, str, str], ...]:
    return series_keys(invocation.account_id, invocation.function_name, invocation.qualifier)


@dataclass(frozen=True)
class EventSettings:
    """The asynchronous-invocation settings of the qualifier as invoked."""

    config: EventInvokeConfig | None
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age: int = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS


def event_invoke_settings(invocation: AsyncInvocation) -> EventSettings:
    config = EventInvokeConfig.objects.filter(
        function__account_id=invocation.account_id,
        function__name=invocation.function_name,
        qualifier=invocation.qualifier or FunctionVersion.LATEST,
    ).first()
    if config is None:
        return EventSettings(None)
    return EventSettings(config, config.retry_attempts, config.event_age)


def _claimable(now: datetime) -> Q:
    """Due and waiting, or running under a claim that expired (its worker died or hung)."""
    return Q(status__in=WAITING, next_attempt_at__lte=now) | Q(
        status=Status.RUNNING, claimed_until__lt=now
    )


def async_invocation_claim(
    invocation_id: int, now: datetime | None = None
) -> AsyncInvocation | None:
    """Take the event for one attempt, or None when it isn't due or someone else holds it.

    The lease (``claimed_until``) is what makes a killed worker's event run again; the
    attempt number the claim sets is the token that later writes are conditional on.
    """
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.FUNCTORY_ASYNC_LEASE_SECONDS)
    # Most messages of batched events find them taken: a read tells, without the write
    # lock SQLite's claim would take (and hold up the Invoke API's inserts with).
    if not AsyncInvocation.objects.filter(_claimable(now), pk=invocation_id).exists():
        return None
    with transaction.atomic():
        # A claim lost in a database crash only means the event is claimed again.
        commit_without_waiting_for_disk()
        claimed = AsyncInvocation.objects.filter(_claimable(now), pk=invocation_id).update(
            status=Status.RUNNING, claimed_until=lease, attempts=F("attempts") + 1
        )
    if not claimed:
        return None
    return AsyncInvocation.objects.select_related("account").get(pk=invocation_id)


def async_invocations_claim_more(
    head: AsyncInvocation, limit: int, now: datetime | None = None
) -> list[AsyncInvocation]:
    """Claim up to ``limit`` further claimable events of ``head``'s function and qualifier
    (the oldest first), to run beside it: one transaction for the lot.

    Each is claimed as :func:`async_invocation_claim` claims one (same lease, same attempt
    token), so a killed worker's whole batch runs again. Two workers never take the same
    event: PostgreSQL skips rows another claim has locked, SQLite's write lock serialises
    the claims, and the UPDATE checks every row is still claimable either way; what this
    claim took is read back by its lease, a timestamp no other claim shares.
    """
    if limit <= 0:
        return []
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.FUNCTORY_ASYNC_LEASE_SECONDS)
    claimable = AsyncInvocation.objects.filter(
        _claimable(now),
        account_id=head.account_id,
        function_name=head.function_name,
        qualifier=head.qualifier,
    ).exclude(pk=head.pk)
    with transaction.atomic():
        commit_without_waiting_for_disk()  # as a single claim: a lost one is claimed again
        due = list(
            claimable.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not due or not claimable.filter(pk__in=due).update(
            status=Status.RUNNING, claimed_until=lease, attempts=F("attempts") + 1
        ):
            return []
        return list(
            AsyncInvocation.objects.select_related("account")
            .filter(pk__in=due, status=Status.RUNNING, claimed_until=lease)
            .order_by("next_attempt_at", "pk")
        )


def _record(invocation: AsyncInvocation, attempt: int | None = None, **fields: object) -> bool:
    """Write an attempt's outcome, only while this attempt still holds the event."""
    updated = AsyncInvocation.objects.filter(
        pk=invocation.pk,
        status=Status.RUNNING,
        attempts=invocation.attempts if attempt is None else attempt,
    ).update(**fields)
    if not updated:
        logger.warning("async invocation %s: lost its claim before recording", invocation)
    return bool(updated)


def _end(
    invocation: AsyncInvocation,
    status: str,
    condition: str,
    event: EventSettings,
    response: bytes | None,
    *,
    sends: list[int] | None = None,
    **fields: Any,
) -> str:
    """Store the event's final state with the records it owes, then send them (or, given
    ``sends``, add the event to it: the caller sends them once its transaction commits)."""
    now = timezone.now()
    attempt = invocation.attempts  # the claim's token, before ``fields`` may change it
    for name, value in fields.items():
        setattr(invocation, name, value)
    invocation.status, invocation.condition, invocation.finished = status, condition, now
    plan = destinations.delivery_plan(
        invocation, succeeded=status == Status.SUCCEEDED, config=event.config
    )
    lease = now + destinations.delivery_lease()
    ended = _record(
        invocation,
        attempt,
        status=status,
        condition=condition,
        finished=now,
        deliveries=plan,
        delivery_pending=bool(plan),
        # The records are this worker's to send; the sweeper takes them if it dies.
        claimed_until=lease if plan else None,
        response_payload=response if plan else None,
        **fields,
    )
    if ended:
        pk = invocation.pk
        transaction.on_commit(lambda: _ended_here_add(pk))
    if ended and status == Status.FAILED:
        metrics.async_event_dropped(_series(invocation))
    if ended and plan:
        if sends is None:
            destinations.deliveries_send(invocation.pk)
        else:
            sends.append(invocation.pk)  # sent once the batch's outcomes are committed
    return status


def _fail(
    invocation: AsyncInvocation,
    error: str,
    event: EventSettings,
    *,
    condition: str = destinations.RETRIES_EXHAUSTED,
    response: bytes | None = None,
    sends: list[int] | None = None,
    **fields: Any,
) -> str:
    return _end(
        invocation,
        Status.FAILED,
        condition,
        event,
        response,
        sends=sends,
        last_error=error,
        **fields,
    )


def _retry(invocation: AsyncInvocation, error: str, delay: float, **fields: Any) -> str:
    if _record(
        invocation,
        status=Status.RETRYING,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        claimed_until=None,
        **fields,
    ):
        transaction.on_commit(lambda: taskqueue.enqueue(invocation.pk, countdown=delay))
    return Status.RETRYING


def async_invocation_run(invocation_id: int) -> str:
    """One attempt of an asynchronous invocation (safe to run twice: the claim decides),
    with a batch of its function's other due events beside it (``FUNCTORY_ASYNC_BATCH``).

    The batch's attempts run side by side; their log lines are stored with one flush, their
    outcomes with one transaction. Returns the status this event's attempt left it in.
    """
    if invocation_id in _ended_here:
        return "skipped"
    invocation = async_invocation_claim(invocation_id)
    if invocation is None:
        return "skipped"
    event = event_invoke_settings(invocation)
    try:
        target: selectors.InvokeTarget | None = eventloop.run(
            services.invoke_target(
                invocation.account, invocation.function_name, invocation.qualifier or None
            )
        )
        error: Exception | None = None
    except Exception as exc:
        target, error = None, exc
    batch = [invocation]
    if target is not None:
        batch += async_invocations_claim_more(invocation, _batch_size(target) - 1)
    ended: dict[int, str] = {}
    runnable: list[AsyncInvocation] = []
    budget = _budget_s(target, len(batch))
    for claimed in batch:
        status = _before_attempt(claimed, event, target, error, budget)
        if status is None:
            runnable.append(claimed)
        else:
            ended[claimed.pk] = status
    if runnable:
        assert target is not None  # an event runs only once its target is known
        started = timezone.now()
        outcomes = _attempts(runnable, target, _budget_s(target, len(runnable)))
        sends: list[int] = []
        with transaction.atomic():
            # One commit (on disk: these are the events' outcomes) for the whole batch.
            owes_nothing = event.config is None or not event.config.on_success
            succeeded = [
                (claimed, outcome)
                for claimed, outcome in zip(runnable, outcomes, strict=True)
                if owes_nothing
                and isinstance(outcome, remote.Attempt)
                and outcome.function_error is None
            ]
            ended.update(_end_succeeded(succeeded, started))
            for claimed, outcome in zip(runnable, outcomes, strict=True):
                if claimed.pk not in ended:
                    ended[claimed.pk] = _after_attempt(claimed, event, outcome, started, sends)
        for pk in sends:
            try:
                destinations.deliveries_send(pk)
            except Exception:  # the row keeps delivery_pending: the sweeper sends it later
                logger.exception("async invocation %s: sending its records failed", pk)
    return ended[invocation.pk]


def _end_succeeded(
    done: list[tuple[AsyncInvocation, remote.Attempt]], started: datetime
) -> dict[int, str]:
    """Record a batch's successes that owe no records as :func:`_end` would, in one UPDATE
    per version run, conditional on each event's attempt token as :func:`_record` is."""
    now = timezone.now()
    versions: dict[str, list[AsyncInvocation]] = {}
    for invocation, outcome in done:
        versions.setdefault(outcome.executed_version, []).append(invocation)
        # AsyncEventAge: from acceptance to this attempt, counted once the function ran.
        age_ms = (started - invocation.created).total_seconds() * 1000
        metrics.async_event_age(_series(invocation), age_ms)
    for version, group in versions.items():
        held = Q()
        for invocation in group:
            held |= Q(pk=invocation.pk, attempts=invocation.attempts)
        updated = AsyncInvocation.objects.filter(held, status=Status.RUNNING).update(
            status=Status.SUCCEEDED,
            condition=destinations.SUCCESS,
            finished=now,
            deliveries=[],
            delivery_pending=False,
            claimed_until=None,
            response_payload=None,
            executed_version=version,
            last_error="",
            error_code=200,
            function_error="",
        )
        recorded = [invocation.pk for invocation in group]
        if updated != len(group):
            # Some lost their claim (it expired and another attempt took them): ``finished``
            # tells which were recorded here.
            recorded = list(
                AsyncInvocation.objects.filter(
                    pk__in=recorded, status=Status.SUCCEEDED, finished=now
                ).values_list("pk", flat=True)
            )
            logger.warning(
                "async invocations %s: lost their claims before recording",
                sorted({invocation.pk for invocation in group} - set(recorded)),
            )
        transaction.on_commit(partial(_ended_here_many, recorded))
    return {invocation.pk: Status.SUCCEEDED for invocation, _ in done}


def _batch_size(target: selectors.InvokeTarget) -> int:
    """How many events of ``target`` one worker takes at once: FUNCTORY_ASYNC_BATCH, no
    more than its reserved concurrency (beyond it they would be throttled), and no more
    rounds of FUNCTORY_ASYNC_BATCH_CONCURRENCY than fit in the claim's lease: a short
    function's batch needs no lease extension, a killed worker's batch runs again no later
    than one event of a long-running function would."""
    width = settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY
    usable = settings.FUNCTORY_ASYNC_LEASE_SECONDS - LEASE_MARGIN_SECONDS
    rounds = max(1, int(usable // max(target.timeout_s, 1.0)))
    size = min(settings.FUNCTORY_ASYNC_BATCH, width * rounds)
    if target.reserved_concurrency is not None:
        size = min(size, target.reserved_concurrency)
    return max(size, 1)


def _budget_s(target: selectors.InvokeTarget | None, size: int) -> float:
    """The longest a batch of ``size`` attempts may run: the function's timeout for each
    round of FUNCTORY_ASYNC_BATCH_CONCURRENCY attempts side by side."""
    if target is None:
        return 0.0
    return -(-size // settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY) * target.timeout_s


def _expires(invocation: AsyncInvocation, event: EventSettings) -> datetime:
    return invocation.created + timedelta(seconds=event.maximum_event_age)


def _before_attempt(
    invocation: AsyncInvocation,
    event: EventSettings,
    target: selectors.InvokeTarget | None,
    error: Exception | None,
    budget_s: float,
) -> str | None:
    """The status a claimed event ends its turn in without running, or None to run it."""
    expires = _expires(invocation, event)
    if timezone.now() >= expires:
        return _fail(
            invocation,
            "EventAgeExceeded",
            event,
            condition=destinations.EVENT_AGE_EXCEEDED,
            attempts=invocation.attempts - 1,
        )
    try:
        if target is None:
            raise error or RuntimeError("no invoke target")
        # The lease must outlive the batch's run (the function's timeout, whichever version
        # runs, per round of the batch): the claim's own lease covers short functions and
        # small batches; others get theirs extended (one UPDATE).
        needed = budget_s + LEASE_MARGIN_SECONDS
        if needed > settings.FUNCTORY_ASYNC_LEASE_SECONDS:
            lease = budget_s + settings.FUNCTORY_ASYNC_LEASE_SECONDS
            _record(invocation, claimed_until=timezone.now() + timedelta(seconds=lease))
    except Exception as exc:
        return _system_error(invocation, exc, expires, event)
    if target.reserved_concurrency == 0:
        return _stopped(invocation, event)
    return None


def _after_attempt(
    invocation: AsyncInvocation,
    event: EventSettings,
    outcome: remote.Attempt | Exception,
    started: datetime,
    sends: list[int],
) -> str:
    """Record how the attempt went: done, failed for good, or to be retried (the records
    an ended event owes are added to ``sends``)."""
    expires = _expires(invocation, event)
    if isinstance(outcome, Exception):
        return _system_error(invocation, outcome, expires, event, sends)
    # AsyncEventAge: from acceptance to this attempt, counted once the function ran.
    metrics.async_event_age(
        _series(invocation), (started - invocation.created).total_seconds() * 1000
    )
    now = timezone.now()
    response = outcome.payload
    if outcome.function_error is None:
        return _end(
            invocation,
            Status.SUCCEEDED,
            destinations.SUCCESS,
            event,
            response,
            sends=sends,
            executed_version=outcome.executed_version,
            last_error="",
            error_code=200,
            function_error="",
        )
    error = f"{outcome.function_error}: {response[:1000].decode(errors='replace')}"
    errors = invocation.function_errors + 1
    fields: dict[str, Any] = {
        "function_errors": errors,
        "executed_version": outcome.executed_version,
        "error_code": 200,
        "function_error": outcome.function_error,
    }
    delay = retry_delay(errors, base=settings.FUNCTORY_ASYNC_RETRY_BASE_SECONDS)
    if errors > event.maximum_retry_attempts:
        return _fail(invocation, error, event, response=response, sends=sends, **fields)
    if now + timedelta(seconds=delay) >= expires:
        return _fail(
            invocation,
            error,
            event,
            condition=destinations.EVENT_AGE_EXCEEDED,
            response=response,
            sends=sends,
            **fields,
        )
    return _retry(invocation, error, delay, **fields)


def _attempts(
    batch: list[AsyncInvocation], target: selectors.InvokeTarget, budget_s: float
) -> list[remote.Attempt | Exception]:
    """Run the function once for each event, side by side (FUNCTORY_ASYNC_BATCH_CONCURRENCY
    at a time, all within ``budget_s``): in the server process when this worker has one to
    hand them to (the embedded profile), else in this process's own pool. An attempt that
    could not run (a throttle, a system error) gives its exception."""
    if settings.FUNCTORY_EXECUTOR_URL:
        try:
            return list(remote.invoke(batch, budget_s))
        except Exception as exc:
            return [exc] * len(batch)
    outcomes = eventloop.run(_local_attempts(batch, target))
    # The attempts' log lines are stored before the attempts are: a worker killed in between
    # leaves the events to be run again rather than done without their logs.
    ingestor.flush()
    results: list[remote.Attempt | Exception] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome
        results.append(outcome)
    return results


async def _local_attempts(
    batch: list[AsyncInvocation], target: selectors.InvokeTarget
) -> list[remote.Attempt | BaseException]:
    return await eventloop.gather_limited(
        [_local_attempt(invocation, target) for invocation in batch],
        settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY,
    )


async def _local_attempt(
    invocation: AsyncInvocation, target: selectors.InvokeTarget
) -> remote.Attempt:
    done = await services.invoke_sync(
        target,
        request_id=invocation.request_id,
        payload=bytes(invocation.payload),
        client_context=invocation.client_context or None,
        trace_header=invocation.trace_header or None,
        queued=services.Queued(invocation.created.timestamp(), invocation.attempts),
    )
    return remote.Attempt(
        bytes(done.result.payload), done.result.function_error, done.executed_version
    )


def _stopped(invocation: AsyncInvocation, event: EventSettings) -> str:
    """Reserved concurrency 0 stops the function: AWS gives its events up at once (to the
    dead-letter queue / on-failure destination) instead of retrying them."""
    return _fail(
        invocation,
        "TooManyRequestsException: Rate Exceeded. (reserved concurrency is 0)",
        event,
        error_code=429,
        function_error="",
        attempts=invocation.attempts - 1,
    )


def _system_error(
    invocation: AsyncInvocation,
    exc: Exception,
    expires: datetime,
    event: EventSettings,
    sends: list[int] | None = None,
) -> str:
    """Throttles and system errors: retried with growing delays until the event expires;
    errors of the request itself (e.g. the function is gone) give the event up."""
    now = timezone.now()
    if isinstance(exc, AWSError):
        error = f"{exc.code}: {exc}"
        status = exc.status
    else:
        logger.exception("async invocation %s: system error", invocation)
        error = f"ServiceException: {type(exc).__name__}"
        status = 500
    retriable = status == 429 or status >= 500
    system_errors = invocation.attempts - invocation.function_errors
    delay = retry_delay(
        system_errors,
        base=settings.FUNCTORY_ASYNC_SYSTEM_RETRY_BASE_SECONDS,
        cap=settings.FUNCTORY_ASYNC_SYSTEM_RETRY_MAX_SECONDS,
    )
    if not retriable:
        return _fail(invocation, error, event, sends=sends, error_code=status, function_error="")
    if now + timedelta(seconds=delay) >= expires:
        return _fail(
            invocation,
            error,
            event,
            condition=destinations.EVENT_AGE_EXCEEDED,
            sends=sends,
            error_code=status,
            function_error="",
        )
    return _retry(invocation, error, delay, error_code=status, function_error="")


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
        taskqueue.enqueue(pk)
    # Ended events whose records were not (all) sent: their worker died on the way.
    undelivered = AsyncInvocation.objects.filter(delivery_pending=True, claimed_until__lt=now)
    lease = now + destinations.delivery_lease()
    redeliver = [
        pk
        for pk in undelivered.values_list("pk", flat=True)[:limit]
        if undelivered.filter(pk=pk).update(claimed_until=lease)
    ]
    for pk in redeliver:
        taskqueue.enqueue_delivery(pk)
    return len(recovered) + len(redeliver)


def async_invocations_expire(now: datetime | None = None) -> int:
    """Delete ended events older than the retention (their records, if any, were sent)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.FUNCTORY_ASYNC_RETENTION_SECONDS)
    deleted, _ = AsyncInvocation.objects.filter(
        status__in=(Status.SUCCEEDED, Status.FAILED),
        finished__lt=cutoff,
        delivery_pending=False,
    ).delete()
    return deleted
