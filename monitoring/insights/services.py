"""Logs Insights queries: start (StartQuery), run in the background, stop (StopQuery).

StartQuery checks the request and the query's syntax, stores a ``LogQuery`` row
(Scheduled) and, once that commits, runs it on a thread of this process. The runner claims
the row (Scheduled → Running, a conditional UPDATE, so a query runs once), reads the groups'
events newest first in chunks, feeds them to the engine, and writes the result with another
conditional UPDATE (Running → Complete/Failed/Timeout), so a StopQuery from any process
(Running → Cancelled) wins. A process that dies mid-query leaves a Running row past its
deadline: the selectors report it as Timeout.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q

from iam.models import Account
from monitoring import errors, search_index
from monitoring import selectors as log_selectors
from monitoring.insights import engine, selectors
from monitoring.insights import language as lang
from monitoring.models import LogEvent, LogGroup, LogQuery

logger = logging.getLogger(__name__)

MAX_GROUPS_PER_QUERY = 50
DEFAULT_LIMIT = 10_000
CHUNK = 1_000
ACTIVE = (LogQuery.SCHEDULED, LogQuery.RUNNING)


def malformed(error: lang.QuerySyntaxError) -> errors.MalformedQuery:
    return errors.MalformedQuery(
        error.message,
        queryCompileError={
            "location": {"startCharOffset": error.start, "endCharOffset": error.end},
            "message": error.message,
        },
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _groups(account: Account, params: dict[str, Any]) -> list[LogGroup]:
    given = [
        key
        for key in ("logGroupName", "logGroupNames", "logGroupIdentifiers")
        if params.get(key) not in (None, [])
    ]
    if len(given) != 1:
        raise errors.InvalidParameter(
            "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified"
        )
    key = given[0]
    names = [params[key]] if key == "logGroupName" else list(params[key])
    if len(names) > MAX_GROUPS_PER_QUERY:
        raise errors.InvalidParameter(
            f"A query can search at most {MAX_GROUPS_PER_QUERY} log groups"
        )
    groups: dict[int, LogGroup] = {}
    for name in names:
        try:
            if key == "logGroupIdentifiers":
                group = log_selectors.log_group_get_for_account(account, identifier=name)
            else:
                group = log_selectors.log_group_get_for_account(account, name)
        except errors.ResourceNotFound:
            raise errors.ResourceNotFound(f"Log group '{name}' does not exist") from None
        groups[group.pk] = group
    return list(groups.values())


def query_start(account: Account, params: dict[str, Any], *, background: bool = True) -> LogQuery:
    """Check a StartQuery request, store the query and schedule its run."""
    language = params.get("queryLanguage")
    if language not in (None, "CWLI"):
        raise errors.InvalidParameter(f"Query language {language} is not supported")
    groups = _groups(account, params)
    start, end = int(params["startTime"]), int(params["endTime"])
    if end < start:
        raise errors.InvalidParameter("End time should not be before the start time")
    try:
        lang.parse(params["queryString"])
    except lang.QuerySyntaxError as error:
        raise malformed(error) from None
    now = _now_ms()
    _purge(now)
    with transaction.atomic():
        # Counted under the account's row lock, so concurrent starts cannot overshoot.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        running = LogQuery.objects.filter(
            account=account, status__in=ACTIVE, deadline__gt=now
        ).count()
        limit = settings.FUNCTORY_LOGS_QUERY_CONCURRENCY
        if running >= limit:
            raise errors.LimitExceeded(
                f"Account maximum query concurrency limit of [{limit}] reached."
            )
        query = LogQuery.objects.create(
            account=account,
            query_id=str(uuid.uuid4()),
            query_string=params["queryString"],
            group_ids=[group.pk for group in groups],
            group_names=[group.name for group in groups],
            start_time=start,
            end_time=end,
            limit=int(params.get("limit") or DEFAULT_LIMIT),
            created=now,
            deadline=now + _deadline_ms(),
        )
        if background:
            query_pk = query.pk
            transaction.on_commit(lambda: _run_in_thread(query_pk))
    return query


def _deadline_ms() -> int:
    # A little past the run's own budget: the runner ends the query itself before then, so
    # a query still unfinished at its deadline lost its runner.
    return int((settings.FUNCTORY_LOGS_QUERY_SECONDS + 30) * 1000)


def _purge(now: int) -> None:
    """Forget finished queries past the retention (cheap: the created index)."""
    horizon = now - int(settings.FUNCTORY_LOGS_QUERY_RETENTION_SECONDS * 1000)
    LogQuery.objects.filter(created__lt=horizon).delete()


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _run_in_thread(query_pk: int) -> None:
    """Run the query on this process's small pool of query threads (queries past its size
    wait, Scheduled, for a free one)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=settings.FUNCTORY_LOGS_QUERY_THREADS, thread_name_prefix="log-query"
            )
    _pool.submit(_run_logged, query_pk)


def _run_logged(query_pk: int) -> None:
    try:
        query_run(query_pk)
    except Exception as error:  # a fault of ours: the query says Failed, the server goes on
        logger.exception("log query %s failed", query_pk)
        LogQuery.objects.filter(pk=query_pk, status__in=ACTIVE).update(
            status=LogQuery.FAILED, finished=_now_ms(), error=str(error)[:1000]
        )
    finally:
        close_old_connections()
        connection.close()


def query_stop(account: Account, query_id: str) -> bool:
    """Cancel a scheduled or running query; one that already ended is an error, as AWS
    documents ("the specified query is not running")."""
    query = selectors.log_query_get(account, query_id)
    changed = LogQuery.objects.filter(pk=query.pk, status__in=ACTIVE).update(
        status=LogQuery.CANCELLED, finished=_now_ms()
    )
    if not changed:
        raise errors.InvalidParameter(f"Query {query_id} is not running")
    return True


def _ptr(group_id: int, event_id: int) -> str:
    # Opaque to clients (GetLogRecord would take it back): the group and the event.
    return base64.urlsafe_b64encode(f"{group_id}:{event_id}".encode()).decode().rstrip("=")


def _literal_terms(query: lang.Query) -> list[str]:
    """Substrings every matching event's message must hold: ``filter @message like "x"``
    conjuncts of the filters before anything that could change ``@message``."""
    terms: list[str] = []
    for command in query.commands:
        if isinstance(command, lang.FilterCommand):
            _conjunct_terms(command.condition, terms)
        elif isinstance(command, lang.ParseCommand) and "@message" not in command.names:
            continue
        else:
            break
    return terms


def _conjunct_terms(expr: Any, terms: list[str]) -> None:
    if isinstance(expr, lang.Binary) and expr.op == "and":
        _conjunct_terms(expr.left, terms)
        _conjunct_terms(expr.right, terms)
    elif (
        isinstance(expr, lang.Like)
        and not expr.negate
        and expr.operand == lang.Field("@message")
        and isinstance(expr.pattern, lang.Literal)
        and isinstance(expr.pattern.value, str)
    ):
        terms.append(expr.pattern.value)


def _candidates(
    group_ids: list[int], terms: list[str], start_ms: int, end_ms: int
) -> list[search_index.Candidate] | None:
    """The search index's blocks that may hold events with every term, in all the groups;
    None when it cannot narrow the search (no index, a term too short or too common, or
    blocks whose id ranges interleave with other streams' writes so far that reading them
    would cost more than walking the time index)."""
    ranges: list[search_index.Candidate] = []
    for group_id in group_ids:
        found = search_index.candidate_ranges(
            group_id,
            all_of=terms,
            any_of=[],
            start=start_ms,
            end=end_ms,
            limit=log_selectors.MAX_CANDIDATE_BLOCKS,
        )
        if found is None:
            return None
        ranges += found
    spanned = sum(block.last_id - block.first_id + 1 for block in ranges)
    return None if spanned > log_selectors.MAX_CANDIDATE_EVENTS else ranges


def _event_rows(
    group_ids: list[int], start_ms: int, end_ms: int, terms: list[str]
) -> Iterator[tuple[Any, ...]]:
    """The groups' events in the time range, newest first, a chunk at a time; when the
    search index finds the literal terms' blocks, only those blocks' events."""
    fields = ("id", "timestamp", "ingestion_time", "message", "stream__name", "group_id")
    base = LogEvent.objects.filter(
        group_id__in=group_ids, timestamp__gte=start_ms, timestamp__lte=end_ms
    )
    ranges = _candidates(group_ids, terms, start_ms, end_ms) if terms else None
    if ranges is not None:
        ranges.sort(key=lambda block: -block.max_timestamp)
        for index in range(0, len(ranges), 32):
            ids = Q()
            for block in ranges[index : index + 32]:
                ids |= Q(id__gte=block.first_id, id__lte=block.last_id)
            rows = list(base.filter(ids).values_list(*fields))
            rows.sort(key=lambda row: (-row[1], -row[0]))
            yield from rows
        return
    mark: tuple[int, int] | None = None
    while True:
        chunk = base
        if mark is not None:
            chunk = chunk.filter(Q(timestamp__lt=mark[0]) | Q(timestamp=mark[0], id__lt=mark[1]))
        rows = list(chunk.order_by("-timestamp", "-id").values_list(*fields)[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        mark = (rows[-1][1], rows[-1][0])


def query_run(query_pk: int, clock: Callable[[], float] = time.monotonic) -> str:
    """Run a scheduled query to its end; the status it ended with."""
    # Claimed once, and only while still in time: a query that waited past its deadline
    # for a thread already reads as Timeout, and stays so.
    now = _now_ms()
    claimed = LogQuery.objects.filter(
        pk=query_pk, status=LogQuery.SCHEDULED, deadline__gt=now
    ).update(status=LogQuery.RUNNING, deadline=now + _deadline_ms())
    if not claimed:
        return ""
    query = LogQuery.objects.get(pk=query_pk)
    parsed = lang.parse(query.query_string)
    execution = engine.Execution(parsed, query.limit)
    log_names = {
        group_id: f"{query.account_id}:{name}"
        for group_id, name in zip(query.group_ids, query.group_names, strict=True)
    }
    deadline = clock() + settings.FUNCTORY_LOGS_QUERY_SECONDS
    max_events = settings.FUNCTORY_LOGS_QUERY_MAX_EVENTS
    scanned = scanned_bytes = 0
    status = LogQuery.COMPLETE
    error = ""
    rows = _event_rows(
        list(query.group_ids),
        query.start_time * 1000,
        query.end_time * 1000 + 999,
        _literal_terms(parsed),
    )
    try:
        for row in rows:
            if not execution.wants_more():
                break
            event_id, timestamp, ingestion, message, stream, group_id = row
            scanned += 1
            scanned_bytes += len(message)
            execution.feed(
                engine.record_of(
                    engine.Event(
                        timestamp,
                        message,
                        stream,
                        log_names.get(group_id, ""),
                        ingestion,
                        _ptr(group_id, event_id),
                    )
                )
            )
            if clock() > deadline or scanned >= max_events:
                status = LogQuery.TIMEOUT
                break
            if scanned % CHUNK == 0 and _cancelled(query_pk):
                return LogQuery.CANCELLED
        result = execution.finish()
        rendered = engine.render(result, settings.FUNCTORY_LOGS_QUERY_RESULT_BYTES)
    except engine.QueryFailed as failure:
        status, error, rendered = LogQuery.FAILED, str(failure), []
        result = None
    LogQuery.objects.filter(pk=query_pk, status=LogQuery.RUNNING).update(
        status=status,
        finished=_now_ms(),
        results=rendered,
        records_matched=execution.matched if result is not None else 0,
        records_scanned=scanned,
        bytes_scanned=scanned_bytes,
        error=error,
    )
    return status


def _cancelled(query_pk: int) -> bool:
    return (
        LogQuery.objects.filter(pk=query_pk).values_list("status", flat=True).first()
        != LogQuery.RUNNING
    )
