"""Writes for logs: batches from the executor, the Logs API's writes, retention."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Greatest, Least

from awsapi.errors import AWSError
from awsapi.transactions import commit_without_waiting_for_disk
from iam.access import resources
from iam.models import Account
from monitoring import errors, live, log_filters, search_index
from monitoring.batches import LogBatch, StoredBatch
from monitoring.models import LogEvent, LogGroup, LogSearchBlock, LogStream
from monitoring.selectors import log_group_get_for_account, log_stream_get

# PutRetentionPolicy accepts only these (the model's ``Days`` documentation).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# PutLogEvents' batch rules, from its documentation in the model.
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_PAST_MS = 14 * DAY_MS
MAX_FUTURE_MS = 2 * HOUR_MS
MAX_BATCH_SPAN_MS = 24 * HOUR_MS


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stream_marks_move(
    streams: QuerySet[LogStream], events: Sequence[tuple[int, str]], now: int
) -> int:
    """Move the stream's first/last event marks and stored bytes; how many rows matched."""
    first = min(ts for ts, _ in events)
    last = max(ts for ts, _ in events)
    size = sum(len(msg.encode()) + EVENT_OVERHEAD_BYTES for _, msg in events)
    return streams.update(
        first_event=Least(Coalesce(F("first_event"), first), first),
        last_event=Greatest(Coalesce(F("last_event"), last), last),
        last_ingestion=now,
        stored_bytes=F("stored_bytes") + size,
    )


def _events_create(
    group_id: int, stream_id: int, events: Sequence[tuple[int, str]], now: int
) -> list[LogEvent]:
    created = LogEvent.objects.bulk_create(
        (
            LogEvent(
                group_id=group_id,
                stream_id=stream_id,
                timestamp=ts,
                ingestion_time=now,
                # PostgreSQL's text cannot hold NUL, and one such line would fail the
                # whole batch (other functions' and accounts' lines with it): both
                # profiles store U+FFFD in its place.
                message=msg.replace("\x00", "\ufffd") if "\x00" in msg else msg,
            )
            for ts, msg in events
        ),
        batch_size=2000,
    )
    search_index.blocks_store(
        group_id, stream_id, [(event.pk, event.timestamp, event.message) for event in created]
    )
    return created


def _events_insert(
    group: LogGroup, stream: LogStream, events: Sequence[tuple[int, str]], now: int
) -> list[LogEvent]:
    """Insert events and move the stream's first/last event marks and stored bytes."""
    _stream_marks_move(LogStream.objects.filter(pk=stream.pk), events, now)
    return _events_create(group.pk, stream.pk, events, now)


# (account id, group name, stream name) -> (group id, stream id), for the executor's batches:
# a function writes to the same few streams over and over.
_stream_ids: dict[tuple[str, str, str], tuple[int, int]] = {}


def log_batches_store(batches: Iterable[LogBatch]) -> list[StoredBatch]:
    """Store many batches in one transaction; groups and streams are created on first use."""
    merged: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    keys: dict[tuple[str, str, str], list[str | None]] = defaultdict(list)
    for batch in batches:
        merged[(batch.account_id, batch.group, batch.stream)].extend(batch.events)
        keys[(batch.account_id, batch.group, batch.stream)].extend(batch.keys())
    if not merged:
        return []
    now = _now_ms()
    stored: list[StoredBatch] = []
    outcome = log_filters.BatchOutcome()
    with transaction.atomic():
        commit_without_waiting_for_disk()
        for key, events in merged.items():
            if not events:
                continue
            account_id, group_name, stream_name = key
            ids = _stream_ids.get(key)
            # A remembered stream is used only if that row is still this account's group's
            # stream of that name (the UPDATE's own filter checks, so no extra query).
            if ids is None or not _stream_marks_move(
                LogStream.objects.filter(
                    pk=ids[1],
                    name=stream_name,
                    group_id=ids[0],
                    group__name=group_name,
                    group__account_id=account_id,
                ),
                events,
                now,
            ):
                group, _ = LogGroup.objects.get_or_create(
                    account_id=account_id, name=group_name, defaults={"created": now}
                )
                stream, _ = LogStream.objects.get_or_create(
                    group=group, name=stream_name, defaults={"created": now}
                )
                _stream_marks_move(LogStream.objects.filter(pk=stream.pk), events, now)
                ids = (group.pk, stream.pk)
                if len(_stream_ids) > 10_000:
                    _stream_ids.clear()
                _stream_ids[key] = ids
            created = _events_create(ids[0], ids[1], events, now)
            stored.append(StoredBatch(account_id, group_name, stream_name, created, keys[key]))
            _filters_evaluate(outcome, account_id, ids[0], group_name, stream_name, created)
        log_filters.outcome_apply(outcome)
    return stored


def _filters_evaluate(
    outcome: log_filters.BatchOutcome,
    account_id: str,
    group_id: int,
    group_name: str,
    stream_name: str,
    created: list[LogEvent],
) -> None:
    """The group's metric and subscription filters on a stored batch (nothing, and no
    query but one per cache TTL, for a group without filters)."""
    filters = log_filters.group_filters(group_id, group_name)
    if filters:
        log_filters.batch_evaluate(
            outcome,
            filters,
            account_id=account_id,
            group_id=group_id,
            group=group_name,
            stream=stream_name,
            events=created,
        )


# ---- the Logs API's writes ------------------------------------------------------------


def log_group_create(
    account: Account, name: str, tags: Mapping[str, str] | None = None
) -> LogGroup:
    if tags:
        tags_check(tags)
    try:
        with transaction.atomic():
            if LogGroup.objects.filter(account=account, name=name).exists():
                raise errors.ResourceAlreadyExists("The specified log group already exists")
            return LogGroup.objects.create(
                account=account, name=name, created=_now_ms(), tags=dict(tags or {})
            )
    except IntegrityError:
        raise errors.ResourceAlreadyExists("The specified log group already exists") from None


def log_group_delete(account: Account, name: str) -> None:
    group = log_group_get_for_account(account, name)
    group.delete()


def log_group_retention_set(account: Account, name: str, days: int | None) -> None:
    """Set (or with ``None`` remove) how long the group keeps events."""
    if days is not None and days not in RETENTION_DAYS:
        allowed = ", ".join(str(day) for day in RETENTION_DAYS)
        raise errors.InvalidParameter(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{allowed}]"
        )
    group = log_group_get_for_account(account, name)
    LogGroup.objects.filter(pk=group.pk).update(retention_days=days)


def log_stream_create(account: Account, group_name: str, stream_name: str) -> LogStream:
    group = log_group_get_for_account(account, group_name)
    try:
        with transaction.atomic():
            if LogStream.objects.filter(group=group, name=stream_name).exists():
                raise errors.ResourceAlreadyExists("The specified log stream already exists")
            return LogStream.objects.create(group=group, name=stream_name, created=_now_ms())
    except IntegrityError:
        raise errors.ResourceAlreadyExists("The specified log stream already exists") from None


def log_stream_delete(account: Account, group_name: str, stream_name: str) -> None:
    """DeleteLogStream: the stream, its events and their search blocks."""
    group = log_group_get_for_account(account, group_name)
    stream = log_stream_get(group, stream_name)
    with transaction.atomic():
        # Bulk deletes (no rows fetched into Python): a stream may hold millions of events.
        LogSearchBlock.objects.filter(stream=stream).delete()
        LogEvent.objects.filter(stream=stream).delete()
        stream.delete()
    _stream_ids.clear()


# ---- tags ----------------------------------------------------------------------------------

MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


class TooManyTags(AWSError):
    code = "TooManyTagsException"
    status = 400


def tags_check(tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        if key.lower().startswith("aws:"):
            raise errors.InvalidParameter("Tag keys prefixed with 'aws:' are reserved.")
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise errors.InvalidParameter(
                f"1 validation error detected: Value '{key}' at 'tags' failed to satisfy "
                f"constraint: Map keys must satisfy constraint: [Member must have length "
                f"less than or equal to {MAX_TAG_KEY}, Member must have length greater than "
                "or equal to 1]"
            )
        if len(value) > MAX_TAG_VALUE:
            raise errors.InvalidParameter(
                f"1 validation error detected: Value '{value}' at 'tags' failed to satisfy "
                f"constraint: Map value must satisfy constraint: [Member must have length "
                f"less than or equal to {MAX_TAG_VALUE}]"
            )


def log_group_tags_add(
    group: LogGroup, tags: Mapping[str, str], *, too_many: type[AWSError]
) -> None:
    """Add or overwrite tags; ``too_many`` is what the operation raises past 50 tags
    (TagResource: TooManyTagsException, TagLogGroup: InvalidParameterException)."""
    tags_check(tags)
    with transaction.atomic():
        row = LogGroup.objects.select_for_update().get(pk=group.pk)
        merged = {**row.tags, **tags}
        if len(merged) > MAX_TAGS:
            raise too_many(f"A resource can have no more than {MAX_TAGS} tags.")
        LogGroup.objects.filter(pk=group.pk).update(tags=merged)
    resources.changed(group.account_id)


def log_group_tags_remove(group: LogGroup, keys: Iterable[str]) -> None:
    with transaction.atomic():
        row = LogGroup.objects.select_for_update().get(pk=group.pk)
        remaining = {k: v for k, v in row.tags.items() if k not in set(keys)}
        LogGroup.objects.filter(pk=group.pk).update(tags=remaining)
    resources.changed(group.account_id)


@dataclass(frozen=True)
class PutResult:
    next_sequence_token: str
    rejected: dict[str, int]


def log_events_put(
    account: Account,
    group_name: str,
    stream_name: str,
    events: Sequence[tuple[int, str]],
    now: int | None = None,
) -> PutResult:
    """PutLogEvents: check the whole batch first, then store the acceptable events.

    Events too far in the past (14 days, or before the group's retention) or the future
    (2 hours) are skipped and reported by index, as CloudWatch does.
    """
    group = log_group_get_for_account(account, group_name)
    stream = log_stream_get(group, stream_name)
    now = _now_ms() if now is None else now
    size = sum(len(message.encode()) + EVENT_OVERHEAD_BYTES for _, message in events)
    if size > MAX_BATCH_BYTES:
        raise errors.InvalidParameter(
            f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )
    for (earlier, _), (later, _) in itertools.pairwise(events):
        if later < earlier:
            raise errors.InvalidParameter(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
    too_old = now - MAX_PAST_MS
    expired = now - group.retention_days * DAY_MS if group.retention_days else None
    too_new = now + MAX_FUTURE_MS
    rejected: dict[str, int] = {}
    accepted: list[tuple[int, str]] = []
    for index, (timestamp, message) in enumerate(events):
        if expired is not None and timestamp < expired:
            rejected["expiredLogEventEndIndex"] = index
        elif timestamp < too_old:
            rejected["tooOldLogEventEndIndex"] = index
        elif timestamp > too_new:
            rejected.setdefault("tooNewLogEventStartIndex", index)
        else:
            accepted.append((timestamp, message))
    if accepted and accepted[-1][0] - accepted[0][0] > MAX_BATCH_SPAN_MS:
        raise errors.InvalidParameter(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )
    if accepted:
        with transaction.atomic():
            created = _events_insert(group, stream, accepted, now)
            stored = [StoredBatch(account.id, group.name, stream.name, created)]
            outcome = log_filters.BatchOutcome()
            _filters_evaluate(outcome, account.id, group.pk, group.name, stream.name, created)
            log_filters.outcome_apply(outcome)
            # Live-tail subscribers hear of them once they are committed.
            transaction.on_commit(lambda: live.publish(stored))
    # Sequence tokens are no longer checked by CloudWatch; one is still handed back.
    return PutResult(next_sequence_token=f"{now:056d}", rejected=rejected)


# ---- retention ---------------------------------------------------------------------------


def log_events_expire(now: int | None = None, chunk: int = 10_000) -> int:
    """Delete events older than their group's retention; safe to run any number of times.

    Deletes in chunks along the ``(group, timestamp, id)`` index so a big backlog never
    holds one long write transaction.
    """
    now = _now_ms() if now is None else now
    deleted = 0
    groups = LogGroup.objects.filter(retention_days__isnull=False).values_list(
        "id", "retention_days"
    )
    for group_id, days in groups:
        cutoff = now - int(days or 0) * DAY_MS
        while True:
            ids = list(
                LogEvent.objects.filter(group_id=group_id, timestamp__lt=cutoff)
                .order_by("timestamp", "id")
                .values_list("id", flat=True)[:chunk]
            )
            if not ids:
                break
            deleted += LogEvent.objects.filter(id__in=ids).delete()[0]
        # Blocks whose every event has expired; one with a newer event stays until it too
        # has (its expired events are simply no longer found when it is searched).
        LogSearchBlock.objects.filter(group_id=group_id, max_timestamp__lt=cutoff).delete()
    return deleted
