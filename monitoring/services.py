"""Writes for logs: batches of events from the executor and from PutLogEvents."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least

from monitoring.models import LogEvent, LogGroup, LogStream


@dataclass(frozen=True)
class LogBatch:
    account_id: str
    group: str
    stream: str
    events: list[tuple[int, str]]  # (timestamp ms, message)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class StoredBatch:
    """What one stream received in a store: for live tail, with the events' ids."""

    account_id: str
    group: str
    stream: str
    events: list[LogEvent]


def log_batches_store(batches: Iterable[LogBatch]) -> list[StoredBatch]:
    """Store many batches in one transaction; groups and streams are created on first use."""
    merged: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for batch in batches:
        merged[(batch.account_id, batch.group, batch.stream)].extend(batch.events)
    if not merged:
        return []
    now = _now_ms()
    stored: list[StoredBatch] = []
    with transaction.atomic():
        for (account_id, group_name, stream_name), events in merged.items():
            group, _ = LogGroup.objects.get_or_create(
                account_id=account_id, name=group_name, defaults={"created": now}
            )
            stream, _ = LogStream.objects.get_or_create(
                group=group, name=stream_name, defaults={"created": now}
            )
            created = LogEvent.objects.bulk_create(
                LogEvent(group=group, stream=stream, timestamp=ts, ingestion_time=now, message=msg)
                for ts, msg in events
            )
            first = min(ts for ts, _ in events)
            last = max(ts for ts, _ in events)
            size = sum(len(msg) + 26 for _, msg in events)
            LogStream.objects.filter(pk=stream.pk).update(
                first_event=Least(F("first_event"), first) if stream.first_event else first,
                last_event=Greatest(F("last_event"), last) if stream.last_event else last,
                last_ingestion=now,
                stored_bytes=F("stored_bytes") + size,
            )
            stored.append(StoredBatch(account_id, group_name, stream_name, created))
    return stored
