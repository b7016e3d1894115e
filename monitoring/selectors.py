"""Permission-checked reads of log groups, streams and events.

Every read of a user-named log group goes through :func:`log_group_get_for_account`, which
only ever searches the caller's account; streams and events are then read within that group.
Event queries walk the ``(group|stream, timestamp, id)`` indexes in either direction with
keyset positions. Text filter patterns are matched in SQL; the others (JSON, space-delimited,
regex) narrow the rows in SQL and are checked in Python, a bounded number of rows per call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Count, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Left

from awsapi.errors import AWSError
from iam.models import Account
from monitoring import errors, filter_patterns, search_index
from monitoring.models import LogEvent, LogFilter, LogGroup, LogStream

# FilterLogEvents and GetLogEvents answer at most 10,000 events or 1 MB, whichever is less.
MAX_EVENTS = 10_000
# A pattern whose terms the search index finds in more blocks than this is common enough
# that walking the time index finds its newest (or oldest) matches sooner.
MAX_CANDIDATE_BLOCKS = 4_000
MAX_CANDIDATE_EVENTS = 256_000
CANDIDATE_BLOCKS_PER_QUERY = 32
MAX_RESPONSE_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
# Patterns checked in Python: rows (and message bytes, and seconds) one FilterLogEvents call
# examines before it answers with the matches so far and a token to go on from, as
# CloudWatch answers a long search with a short page and a nextToken.
SCAN_ROWS = 10_000
SCAN_BYTES = 8 * 1_048_576
SCAN_SECONDS = 2.0
SCAN_CHUNK = 500

_GROUP_ARN_RE = re.compile(
    r"^arn:aws[a-zA-Z-]*:logs:[a-z0-9-]+:(?P<account>\d{12}):log-group:(?P<name>[^:]+)(?::\*)?$"
)


def starts_with(queryset: QuerySet[Any], column: str, prefix: str) -> QuerySet[Any]:
    """Rows whose ``column`` starts with ``prefix``, case-sensitively on every database."""
    if not prefix:
        return queryset
    return queryset.alias(_prefix=Left(column, len(prefix))).filter(_prefix=prefix)


def log_group_get_for_account(
    account: Account, name: str | None = None, identifier: str | None = None
) -> LogGroup:
    """The log group ``name`` (or ``identifier``: a name or ARN) names, in ``account`` only."""
    if name and identifier:
        raise errors.InvalidParameter(
            "LogGroup name and LogGroup identifier are mutually exclusive parameters."
        )
    if identifier:
        match = _GROUP_ARN_RE.match(identifier)
        if match is not None:
            if match["account"] != account.id:
                raise errors.group_not_found()
            name = match["name"]
        else:
            name = identifier
    if not name:
        raise errors.InvalidParameter("Should provide either name or identifier.")
    group = LogGroup.objects.filter(account=account, name=name).first()
    if group is None:
        raise errors.group_not_found()
    return group


def log_stream_get(group: LogGroup, name: str) -> LogStream:
    stream = LogStream.objects.filter(group=group, name=name).first()
    if stream is None:
        raise errors.stream_not_found()
    return stream


_TOKEN_SALT = "functory.logs.next-token"


def encode_token(position: dict[str, Any]) -> str:
    # Signed: a token is a position this server wrote, so a crafted one never reaches a query.
    return signing.dumps(position, salt=_TOKEN_SALT)


def decode_token(token: str | None, kind: str) -> Any:
    """The position a token of ``kind`` carries, or None; a foreign token is invalid."""
    if not token:
        return None
    try:
        position = signing.loads(token, salt=_TOKEN_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise errors.invalid_token() from None
    if not isinstance(position, dict) or position.get("k") != kind:
        raise errors.invalid_token()
    return position


# ---- log groups -----------------------------------------------------------------------


def log_groups_list(
    account: Account, *, prefix: str | None, limit: int, token: str | None
) -> tuple[list[LogGroup], str | None]:
    """The account's log groups by name (annotated with ``stored``), one page at a time."""
    queryset = starts_with(LogGroup.objects.filter(account=account), "name", prefix or "")
    position = decode_token(token, "groups")
    if position is not None:
        queryset = queryset.filter(name__gt=str(position.get("n", "")))
    page = list(
        queryset.annotate(stored=Coalesce(Sum("streams__stored_bytes"), 0)).order_by("name")[
            : limit + 1
        ]
    )
    next_token = None
    if len(page) > limit:
        page = page[:limit]
        next_token = encode_token({"k": "groups", "n": page[-1].name})
    # Counted apart: a join with the streams' sum would multiply both.
    counts = dict(
        LogFilter.objects.filter(group__in=page, kind=LogFilter.Kind.METRIC)
        .values_list("group_id")
        .annotate(n=Count("id"))
        .values_list("group_id", "n")
    )
    for group in page:
        group.metric_filters = counts.get(group.pk, 0)
    return page, next_token


# ---- log streams ----------------------------------------------------------------------


def log_streams_list(
    group: LogGroup,
    *,
    prefix: str | None,
    order_by: str,
    descending: bool,
    limit: int,
    token: str | None,
) -> tuple[list[LogStream], str | None]:
    if prefix and order_by == "LastEventTime":
        raise errors.InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    queryset = starts_with(LogStream.objects.filter(group=group), "name", prefix or "")
    position = decode_token(token, "streams")
    after = "lt" if descending else "gt"
    if order_by == "LastEventTime":
        # Streams with no events yet sort as the oldest.
        queryset = queryset.annotate(sort_key=Coalesce("last_event", Value(-1)))
        if position is not None:
            key, pk = int(position["t"]), int(position["i"])
            queryset = queryset.filter(
                Q(**{f"sort_key__{after}": key}) | Q(sort_key=key, **{f"id__{after}": pk})
            )
        ordering = ["-sort_key", "-id"] if descending else ["sort_key", "id"]
    else:
        if position is not None:
            queryset = queryset.filter(**{f"name__{after}": str(position["n"])})
        ordering = ["-name"] if descending else ["name"]
    page = list(queryset.order_by(*ordering)[: limit + 1])
    next_token = None
    if len(page) > limit:
        page = page[:limit]
        last = page[-1]
        if order_by == "LastEventTime":
            mark = {"t": last.last_event if last.last_event is not None else -1, "i": last.id}
        else:
            mark = {"n": last.name}
        next_token = encode_token({"k": "streams", **mark})
    return page, next_token


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    timestamp: int
    ingestion_time: int
    message: str
    stream_name: str = ""

    @property
    def event_id(self) -> str:
        # 56 digits like AWS's ids; ordered as the events are.
        return f"{self.timestamp:020d}{self.id:036d}"


def _after(position: tuple[int, int]) -> Q:
    ts, pk = position
    return Q(timestamp__gt=ts) | Q(timestamp=ts, id__gt=pk)


def _before(position: tuple[int, int]) -> Q:
    ts, pk = position
    return Q(timestamp__lt=ts) | Q(timestamp=ts, id__lt=pk)


def _take(rows: Any, limit: int) -> tuple[list[Event], bool]:
    """Up to ``limit`` events within the 1 MB response budget; True when more remain."""
    events: list[Event] = []
    size = 0
    for row in rows:
        event = Event(*row)
        size += len(event.message.encode()) + EVENT_OVERHEAD_BYTES
        if len(events) >= limit or (events and size > MAX_RESPONSE_BYTES):
            return events, True
        events.append(event)
    return events, False


_MAX_BIGINT = 2**63 - 1


def _stream_token(direction: str, position: tuple[int, int]) -> str:
    ts, pk = position
    return f"{direction}/{max(ts, 0):020d}{max(pk, 0):036d}"


def _parse_stream_token(token: str) -> tuple[str, tuple[int, int]]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or len(digits) != 56 or not digits.isascii():
        raise errors.invalid_token()
    if not digits.isdigit():
        raise errors.invalid_token()
    ts, pk = int(digits[:20]), int(digits[20:])
    # AWS's token shape has room for numbers no database column holds: refuse those here.
    if ts > _MAX_BIGINT or pk > _MAX_BIGINT:
        raise errors.invalid_token()
    return direction, (ts, pk)


_EVENT_FIELDS = ("id", "timestamp", "ingestion_time", "message")


def log_events_get(
    stream: LogStream,
    *,
    start: int | None,
    end: int | None,
    token: str | None,
    limit: int | None,
    start_from_head: bool,
) -> tuple[list[Event], str, str]:
    """GetLogEvents: a page of one stream and its (forward, backward) tokens.

    A forward token means "after this event", a backward one "before this event"; a page
    that finds nothing hands back the token it was given, so clients know they are done.
    """
    limit = limit or MAX_EVENTS
    queryset = LogEvent.objects.filter(stream=stream)
    if start is not None:
        queryset = queryset.filter(timestamp__gte=start)
    if end is not None:
        queryset = queryset.filter(timestamp__lt=end)
    boundary = (start or 0, 0)
    if token:
        direction, position = _parse_stream_token(token)
    else:
        direction, position = ("f", boundary) if start_from_head else ("b", (2**62, 0))
    if direction == "f":
        rows = queryset.filter(_after(position)).order_by("timestamp", "id")
        events, _ = _take(rows.values_list(*_EVENT_FIELDS)[:limit], limit)
    else:
        rows = queryset.filter(_before(position)).order_by("-timestamp", "-id")
        events, _ = _take(rows.values_list(*_EVENT_FIELDS)[:limit], limit)
        events.reverse()
    if events:
        first, last = events[0], events[-1]
        return (
            events,
            _stream_token("f", (last.timestamp, last.id)),
            _stream_token("b", (first.timestamp, first.id)),
        )
    if token:
        # Nothing further this way: the same token back, and one that turns around here.
        if direction == "f":
            return events, token, _stream_token("b", (position[0], position[1] + 1))
        return events, _stream_token("f", (position[0], position[1] - 1)), token
    return events, _stream_token("f", boundary), _stream_token("b", boundary)


def log_events_filter(
    group: LogGroup,
    *,
    stream_names: list[str] | None,
    stream_prefix: str | None,
    start: int | None,
    end: int | None,
    pattern: str | None,
    limit: int | None,
    token: str | None,
    start_from_head: bool,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Event], str | None]:
    """FilterLogEvents: matching events of a group, interleaved across streams.

    Walks the ``(group, timestamp, id)`` index from the oldest (or, with
    ``start_from_head=False``, the newest) end. The database tests text patterns itself,
    so "the newest 100 matches" reads only as many rows as it must, and a rare term's
    candidates come from the search index; other patterns are pre-filtered in SQL and
    checked here (see :func:`_scan`).
    """
    if stream_names and stream_prefix:
        raise errors.InvalidParameter(
            "logStreamNames and logStreamNamePrefix are mutually exclusive"
        )
    if start is not None and end is not None and start > end:
        raise errors.InvalidParameter("endTime cannot be less than startTime")
    parsed = filter_patterns.parse(pattern)
    limit = limit or MAX_EVENTS
    position = decode_token(token, "events")
    forward = start_from_head if position is None else position.get("d") == "f"

    streams: QuerySet[LogStream] | None = None
    if stream_names:
        streams = LogStream.objects.filter(group=group, name__in=stream_names)
    elif stream_prefix:
        streams = starts_with(LogStream.objects.filter(group=group), "name", stream_prefix)
    conditions = Q()
    if start is not None:
        conditions &= Q(timestamp__gte=start)
    if end is not None:
        conditions &= Q(timestamp__lte=end)
    if not parsed.matches_all:
        conditions &= parsed.q()
    mark = None if position is None else (int(position["t"]), int(position["i"]))
    ordering = ("timestamp", "id") if forward else ("-timestamp", "-id")
    if not parsed.exact_in_sql:
        events, resume = _scan(
            _events_of(group, streams, conditions), parsed, ordering, forward, mark, limit, clock
        )
    else:
        if mark is not None:
            conditions &= _after(mark) if forward else _before(mark)
        ranges = None
        if isinstance(parsed, filter_patterns.TextPattern) and not parsed.matches_all:
            ranges = search_index.candidate_ranges(
                group.pk,
                all_of=parsed.required,
                any_of=parsed.any_of,
                start=start,
                end=end,
                limit=MAX_CANDIDATE_BLOCKS,
            )
        if ranges is not None and sum(block.last_id - block.first_id + 1 for block in ranges) > (
            MAX_CANDIDATE_EVENTS
        ):
            ranges = None  # blocks whose ids interleave with other streams' writes
        rows: Any
        if ranges is not None:
            rows = _candidate_rows(group, streams, ranges, conditions, forward, limit + 1)
        else:
            rows = (
                _events_of(group, streams, conditions)
                .order_by(*ordering)
                .values_list(*_EVENT_FIELDS, "stream__name")[: limit + 1]
            )
        events, more = _take(rows, limit)
        resume = (events[-1].timestamp, events[-1].id) if more and events else None
    next_token = None
    if resume is not None:
        next_token = encode_token(
            {"k": "events", "d": "f" if forward else "b", "t": resume[0], "i": resume[1]}
        )
    return events, next_token


def _events_of(
    group: LogGroup, streams: QuerySet[LogStream] | None, conditions: Q
) -> QuerySet[LogEvent]:
    queryset = LogEvent.objects.filter(conditions, group=group)
    return queryset if streams is None else queryset.filter(stream__in=streams)


def _candidate_rows(
    group: LogGroup,
    streams: QuerySet[LogStream] | None,
    blocks: list[search_index.Candidate],
    conditions: Q,
    forward: bool,
    limit: int,
) -> list[tuple[Any, ...]]:
    """The first ``limit`` events in order among the search index's candidate blocks.

    Blocks are read newest first (oldest first going forward), a few at a time, until no
    unread block can hold an event before the ``limit``-th match found. Each query names
    the blocks' id ranges and nothing the planner could prefer to walk instead (the group's
    time index would read every event of the group); the group and streams are checked
    here, on the few rows that come back.
    """
    if forward:
        blocks = sorted(blocks, key=lambda block: block.min_timestamp)
    else:
        blocks = sorted(blocks, key=lambda block: -block.max_timestamp)
    wanted_streams = None if streams is None else set(streams.values_list("id", flat=True))
    rows: list[tuple[Any, ...]] = []
    read = 0
    while read < len(blocks):
        if len(rows) >= limit:
            cutoff = rows[limit - 1][1]
            upcoming = blocks[read]
            if (forward and upcoming.min_timestamp > cutoff) or (
                not forward and upcoming.max_timestamp < cutoff
            ):
                break
        chunk = blocks[read : read + CANDIDATE_BLOCKS_PER_QUERY]
        read += len(chunk)
        ids = Q()
        for block in chunk:
            ids |= Q(id__gte=block.first_id, id__lte=block.last_id)
        for row in LogEvent.objects.filter(ids, conditions).values_list(
            *_EVENT_FIELDS, "stream__name", "group_id", "stream_id"
        ):
            if row[5] == group.pk and (wanted_streams is None or row[6] in wanted_streams):
                rows.append(row[:5])
        rows.sort(key=lambda row: (row[1], row[0]), reverse=not forward)
    return rows[:limit]


def _scan(
    queryset: QuerySet[LogEvent],
    parsed: filter_patterns.FilterPattern,
    ordering: tuple[str, str],
    forward: bool,
    mark: tuple[int, int] | None,
    limit: int,
    clock: Callable[[], float],
) -> tuple[list[Event], tuple[int, int] | None]:
    """Matches of ``parsed`` after ``mark``, checked in Python chunk by chunk, and where the
    next page starts (None when the group has no more rows).

    Stops at ``limit`` matches, at the response's byte budget, or when it has examined
    ``SCAN_ROWS`` rows, ``SCAN_BYTES`` of messages or ``SCAN_SECONDS``: then the page may
    be short, even empty, and the position after the last row examined goes on.
    """
    events: list[Event] = []
    size = rows_seen = bytes_seen = 0
    deadline = clock() + SCAN_SECONDS
    while True:
        chunk = queryset
        if mark is not None:
            chunk = chunk.filter(_after(mark) if forward else _before(mark))
        rows = list(
            chunk.order_by(*ordering).values_list(*_EVENT_FIELDS, "stream__name")[:SCAN_CHUNK]
        )
        for row in rows:
            event = Event(*row)
            if parsed.matches(event.message):
                size += len(event.message.encode()) + EVENT_OVERHEAD_BYTES
                if len(events) >= limit or (events and size > MAX_RESPONSE_BYTES):
                    # A match past the page: the next one starts right after this page.
                    return events, (events[-1].timestamp, events[-1].id)
                events.append(event)
            mark = (event.timestamp, event.id)
            rows_seen += 1
            bytes_seen += len(event.message)
            if rows_seen >= SCAN_ROWS or bytes_seen >= SCAN_BYTES or clock() >= deadline:
                return events, mark
        if len(rows) < SCAN_CHUNK:
            return events, None


def log_group_id_for_live_tail(account_id: str, name: str) -> int | None:
    """The id of ``name`` in ``account_id`` only (through the one permission-checked fetch)."""
    try:
        return log_group_get_for_account(Account(id=account_id), name).pk
    except AWSError:
        return None


def log_events_since(
    group_id: int, since_ms: int | None, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """Stored events of a group from ``since_ms`` (inclusive) and after ``after_id``."""
    rows = LogEvent.objects.filter(group_id=group_id)
    if since_ms is not None:
        rows = rows.filter(timestamp__gte=since_ms)
    if after_id:
        rows = rows.filter(id__gt=after_id)
    return [
        {
            "id": row["id"],
            "timestamp": row["timestamp"],
            "ingestionTime": row["ingestion_time"],
            "stream": row["stream__name"],
            "message": row["message"],
        }
        for row in rows.order_by("timestamp", "id").values(
            "id", "timestamp", "ingestion_time", "stream__name", "message"
        )[:limit]
    ]
