"""Writes for metrics: batched additive upserts, rollups and retention.

Flushes add into existing rows (``SET x = x + excluded.x``, min/max by comparison), so any
number of processes may flush points of the same minute, in any order, on SQLite and
PostgreSQL alike. The duration sketch, which SQL cannot add, is merged under the row lock
the upsert already holds. Rollups recompute whole 5-minute and 1-hour rows from the finer
rows (replacing them), so running one twice changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from monitoring.metrics.models import CounterPoint, MetricPoint
from monitoring.metrics.points import FIELD_NAMES, Point
from monitoring.metrics.sketch import QuantileSketch

MINUTE, FIVE_MINUTES, HOUR = 60, 300, 3600
DAY = 86400
# How long each resolution is kept, as CloudWatch does.
RETENTION_SECONDS = {MINUTE: 15 * DAY, FIVE_MINUTES: 63 * DAY, HOUR: 455 * DAY}
# Each rollup run recomputes this much recent history, so late flushes are picked up.
ROLLUP_LOOKBACK_SECONDS = {FIVE_MINUTES: 2 * HOUR, HOUR: 6 * HOUR}
ROLLUP_SOURCE = {FIVE_MINUTES: MINUTE, HOUR: FIVE_MINUTES}


@dataclass(frozen=True, order=True)
class PointKey:
    account_id: str
    function_name: str  # "" = account-wide
    qualifier: str  # "" = the whole function
    timestamp: int  # epoch seconds, start of the minute


@dataclass(frozen=True, order=True)
class CounterKey:
    """One counter of one series (see ``CounterPoint``) in one minute."""

    account_id: str
    namespace: str
    dimension: str
    series: str
    metric: str
    timestamp: int  # epoch seconds, start of the minute


_KEY_COLUMNS = ("account_id", "function_name", "qualifier", "resolution", "timestamp")
_VALUE_COLUMNS = tuple(name for name in FIELD_NAMES if name != "duration_sketch")


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(MetricPoint._meta.db_table)

    def own(column: str) -> str:
        return f"{table}.{quote(column)}"

    def new(column: str) -> str:
        return f"excluded.{quote(column)}"

    updates = []
    for column in _VALUE_COLUMNS:
        if column.endswith("_min"):
            value = (
                f"CASE WHEN {own(column)} IS NULL OR {new(column)} < {own(column)} "
                f"THEN {new(column)} ELSE {own(column)} END"
            )
        elif column.endswith("_max"):
            value = (
                f"CASE WHEN {own(column)} IS NULL OR {new(column)} > {own(column)} "
                f"THEN {new(column)} ELSE {own(column)} END"
            )
        else:  # counters, counts and sums add up
            value = f"{own(column)} + {new(column)}"
        updates.append(f"{quote(column)} = {value}")
    columns = (*_KEY_COLUMNS, *_VALUE_COLUMNS, "duration_sketch")
    return (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in _KEY_COLUMNS)}) "
        f"DO UPDATE SET {', '.join(updates)}"
    )


def points_store(points: Mapping[PointKey, Point], resolution: int = MINUTE) -> None:
    """Add one-minute points into the stored rows, in one transaction."""
    if not points:
        return
    # A fixed order makes concurrent flushers lock rows in the same order: no deadlocks.
    keys = sorted(points)
    sql = _upsert_sql()
    rows: list[list[Any]] = []
    for key in keys:
        values = points[key].fields()
        rows.append(
            [key.account_id, key.function_name, key.qualifier, resolution, key.timestamp]
            + [values[column] for column in _VALUE_COLUMNS]
            + ["{}"]
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        for key in keys:
            sketch = points[key].duration_sketch
            if not sketch.counts:
                continue
            # The upsert above holds this row's lock until commit, so read-merge-write is safe.
            row = (
                MetricPoint.objects.select_for_update()
                .filter(
                    account_id=key.account_id,
                    function_name=key.function_name,
                    qualifier=key.qualifier,
                    resolution=resolution,
                    timestamp=key.timestamp,
                )
                .values_list("pk", "duration_sketch")
                .get()
            )
            merged = QuantileSketch.from_json(row[1])
            merged.merge(sketch)
            MetricPoint.objects.filter(pk=row[0]).update(duration_sketch=merged.to_json())


_COUNTER_KEYS = ("account_id", "namespace", "dimension", "series", "metric")


def _counter_upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(CounterPoint._meta.db_table)
    keys = (*_COUNTER_KEYS, "resolution", "timestamp")
    columns = (*keys, "value")
    return (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in keys)}) "
        f"DO UPDATE SET {quote('value')} = {table}.{quote('value')} + excluded.{quote('value')}"
    )


def counters_store(counts: Mapping[CounterKey, int], resolution: int = MINUTE) -> None:
    """Add one-minute counts into the stored rows, in one transaction (in a fixed order, as
    :func:`points_store`, so concurrent flushers never deadlock)."""
    rows = [
        (
            *(key.account_id, key.namespace, key.dimension, key.series, key.metric),
            *(resolution, key.timestamp, counts[key]),
        )
        for key in sorted(counts)
        if counts[key]
    ]
    if not rows:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(_counter_upsert_sql(), rows)


def _counters_rollup(resolution: int, first: int, last: int) -> int:
    source = ROLLUP_SOURCE[resolution]
    merged: dict[tuple[str, ...], int] = {}
    rows = CounterPoint.objects.filter(
        resolution=source, timestamp__gte=first, timestamp__lt=last
    ).values_list(*_COUNTER_KEYS, "timestamp", "value")
    for *names, timestamp, value in rows.iterator(chunk_size=2000):
        key = (*names, timestamp // resolution * resolution)
        merged[key] = merged.get(key, 0) + value
    CounterPoint.objects.bulk_create(
        [
            CounterPoint(
                account_id=key[0],
                namespace=key[1],
                dimension=key[2],
                series=key[3],
                metric=key[4],
                resolution=resolution,
                timestamp=key[5],
                value=value,
            )
            for key, value in sorted(merged.items())
        ],
        update_conflicts=True,
        unique_fields=[
            "account",
            "namespace",
            "dimension",
            "series",
            "metric",
            "resolution",
            "timestamp",
        ],
        update_fields=["value"],
        batch_size=500,
    )
    return len(merged)


def rollup(resolution: int, start: int, end: int) -> int:
    """Recompute the ``resolution`` rows whose periods overlap [start, end); returns their count."""
    source = ROLLUP_SOURCE[resolution]
    first = start // resolution * resolution
    last = -(-end // resolution) * resolution
    merged: dict[tuple[str, str, str, int], Point] = {}
    rows = MetricPoint.objects.filter(
        resolution=source, timestamp__gte=first, timestamp__lt=last
    ).order_by("timestamp")
    for row in rows.iterator(chunk_size=2000):
        key = (
            row.account_id,
            row.function_name,
            row.qualifier,
            row.timestamp // resolution * resolution,
        )
        point = merged.get(key)
        if point is None:
            merged[key] = Point.from_row(row)
        else:
            point.merge(Point.from_row(row))
    _counters_rollup(resolution, first, last)
    MetricPoint.objects.bulk_create(
        [
            MetricPoint(
                account_id=account_id,
                function_name=function_name,
                qualifier=qualifier,
                resolution=resolution,
                timestamp=timestamp,
                **point.fields(),
            )
            for (account_id, function_name, qualifier, timestamp), point in sorted(merged.items())
        ],
        update_conflicts=True,
        unique_fields=["account", "function_name", "qualifier", "resolution", "timestamp"],
        update_fields=list(FIELD_NAMES),
        batch_size=500,
    )
    return len(merged)


def rollups_run(now: float | None = None) -> dict[int, int]:
    """The periodic rollup: recent 1-minute rows to 5 minutes, then 5-minute rows to hours."""
    now = time.time() if now is None else now
    done = {}
    for resolution in (FIVE_MINUTES, HOUR):
        start = int(now) - ROLLUP_LOOKBACK_SECONDS[resolution]
        done[resolution] = rollup(resolution, start, int(now) + 1)
    return done


def retention_enforce(now: float | None = None) -> dict[int, int]:
    """Delete points older than their resolution's retention; returns deletions by resolution."""
    now = time.time() if now is None else now
    deleted = {}
    for resolution, keep in RETENTION_SECONDS.items():
        count, _ = MetricPoint.objects.filter(
            resolution=resolution, timestamp__lt=int(now) - keep
        ).delete()
        counters, _ = CounterPoint.objects.filter(
            resolution=resolution, timestamp__lt=int(now) - keep
        ).delete()
        deleted[resolution] = count + counters
    return deleted
