"""Writes for custom metrics (PutMetricData): per-minute aggregates, rollups and retention.

A datum adds into the aggregate of its (series, unit, minute): sample count, sum, minimum,
maximum and a quantile sketch. Rows are added into by upserts (``SET x = x + excluded.x``,
min/max by comparison), so any number of requests may write the same minute, on SQLite and
PostgreSQL alike; the sketch is merged under the row lock the upsert holds, as
``services.points_store`` does for durations. An account has at most
``FUNCTORY_CUSTOM_METRICS_PER_ACCOUNT`` series; a request that would create more is refused
whole (LimitExceeded) before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from awsapi.errors import AWSError
from iam.models import Account
from monitoring.metrics.models import CustomMetric, CustomPoint
from monitoring.metrics.services import (
    FIVE_MINUTES,
    HOUR,
    MINUTE,
    RETENTION_SECONDS,
    ROLLUP_LOOKBACK_SECONDS,
    ROLLUP_SOURCE,
)
from monitoring.metrics.sketch import QuantileSketch

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True, order=True)
class SeriesName:
    """A custom metric: namespace, name and dimensions (sorted by name)."""

    namespace: str
    metric_name: str
    dimensions: Dimensions = ()

    def dimensions_json(self) -> str:
        return json.dumps([list(pair) for pair in self.dimensions], separators=(",", ":"))

    def key(self) -> str:
        text = json.dumps(
            [self.namespace, self.metric_name, [list(pair) for pair in self.dimensions]],
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Aggregate:
    """What one series received in one period with one unit."""

    sample_count: float = 0.0
    sum: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    sketched: float = 0.0
    sketch: QuantileSketch = field(default_factory=QuantileSketch)

    def add(self, value: float, count: float = 1.0) -> None:
        self.sample_count += count
        self.sum += value * count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        # The sketch keeps whole counts of non-negative values; anything else leaves the
        # point without percentiles (CloudWatch has none for negative values either).
        if value >= 0 and count == int(count):
            self.sketch.add(value, int(count))
            self.sketched += count

    def add_statistics(self, count: float, total: float, low: float, high: float) -> None:
        """A statistic set: its samples' values are unknown, so percentiles come only from
        one whose samples were all one value, as CloudWatch documents."""
        if low == high and math.isclose(total, low * count, rel_tol=1e-9, abs_tol=1e-12):
            self.add(low, count)
            return
        self.sample_count += count
        self.sum += total
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)

    def merge(self, other: Aggregate) -> None:
        self.sample_count += other.sample_count
        self.sum += other.sum
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.sketched += other.sketched
        self.sketch.merge(other.sketch)

    @classmethod
    def from_row(cls, row: CustomPoint, *, with_sketch: bool) -> Aggregate:
        return cls(
            sample_count=row.sample_count,
            sum=row.sum,
            minimum=row.minimum,
            maximum=row.maximum,
            sketched=row.sketched,
            sketch=QuantileSketch.from_json(row.sketch) if with_sketch else QuantileSketch(),
        )


# (series, unit, minute) -> what arrived for it.
PointKey = tuple[SeriesName, str, int]


def series_limit() -> int:
    return int(getattr(settings, "FUNCTORY_CUSTOM_METRICS_PER_ACCOUNT", 10_000))


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(CustomPoint._meta.db_table)

    def own(column: str) -> str:
        return f"{table}.{quote(column)}"

    def new(column: str) -> str:
        return f"excluded.{quote(column)}"

    keys = ("series_id", "unit", "resolution", "timestamp")
    columns = (*keys, "sample_count", "sum", "minimum", "maximum", "sketched", "sketch")
    updates = [f"{quote(c)} = {own(c)} + {new(c)}" for c in ("sample_count", "sum", "sketched")] + [
        f"{quote('minimum')} = CASE WHEN {new('minimum')} < {own('minimum')} "
        f"THEN {new('minimum')} ELSE {own('minimum')} END",
        f"{quote('maximum')} = CASE WHEN {new('maximum')} > {own('maximum')} "
        f"THEN {new('maximum')} ELSE {own('maximum')} END",
    ]
    return (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in keys)}) "
        f"DO UPDATE SET {', '.join(updates)}"
    )


def _series_ids(account_id: str, names: set[SeriesName], now: int, limit: int) -> dict[str, int]:
    """Series key -> row id for every name, creating the missing ones (within the limit)."""
    keys = {name.key(): name for name in names}
    found = dict(
        CustomMetric.objects.filter(account_id=account_id, key__in=list(keys)).values_list(
            "key", "pk"
        )
    )
    missing = [key for key in keys if key not in found]
    if not missing:
        return found
    # One creator per account at a time (FOR NO KEY UPDATE leaves the account's other
    # writes alone), so concurrent requests cannot pass the limit together.
    list(Account.objects.select_for_update(no_key=True).filter(pk=account_id).values_list("pk"))
    existing = CustomMetric.objects.filter(account_id=account_id).count()
    if existing + len(missing) > limit:
        raise AWSError(
            f"The maximum number of custom metrics for this account ({limit:,}) would be "
            f"exceeded: it has {existing:,} and the request adds {len(missing):,}.",
            code="LimitExceededFault",
            status=400,
        )
    CustomMetric.objects.bulk_create(
        [
            CustomMetric(
                account_id=account_id,
                key=key,
                namespace=keys[key].namespace,
                metric_name=keys[key].metric_name,
                dimensions=keys[key].dimensions_json(),
                last_timestamp=0,
                last_received=now,
            )
            for key in sorted(missing)
        ],
        ignore_conflicts=True,
    )
    found.update(
        CustomMetric.objects.filter(account_id=account_id, key__in=missing).values_list("key", "pk")
    )
    return found


def _sketches_merge(sketches: Mapping[tuple[int, str, int], QuantileSketch]) -> None:
    """Add each new sketch into its stored row's. The upsert before left stored sketches
    as they were and holds the rows' locks until commit, so one read and one write of them
    all is safe (rather than a read and a write per row)."""
    if not sketches:
        return
    rows = CustomPoint.objects.filter(
        series_id__in={key[0] for key in sketches},
        resolution=MINUTE,
        timestamp__in={key[2] for key in sketches},
    ).only("pk", "series_id", "unit", "timestamp", "sketch")
    changed = []
    for row in rows:
        sketch = sketches.get((row.series_id, row.unit, row.timestamp))
        if sketch is None:
            continue
        merged = QuantileSketch.from_json(row.sketch)
        merged.merge(sketch)
        row.sketch = merged.to_json()
        changed.append(row)
    CustomPoint.objects.bulk_update(changed, ["sketch"], batch_size=500)


def custom_data_store(
    account_id: str,
    points: Mapping[PointKey, Aggregate],
    *,
    now: float | None = None,
    limit: int | None = None,
) -> None:
    """Add one-minute aggregates of an account's custom metrics, in one transaction."""
    if not points:
        return
    received = int(time.time() if now is None else now)
    limit = series_limit() if limit is None else limit
    with transaction.atomic():
        ids = _series_ids(account_id, {key[0] for key in points}, received, limit)
        rows: list[list[Any]] = []
        newest: dict[int, int] = {}
        # A fixed order makes concurrent writers lock rows in the same order: no deadlocks.
        ordered = sorted(points, key=lambda key: (ids[key[0].key()], key[1], key[2]))
        for series, unit, minute in ordered:
            aggregate = points[(series, unit, minute)]
            series_id = ids[series.key()]
            newest[series_id] = max(newest.get(series_id, 0), minute)
            rows.append(
                [
                    series_id,
                    unit,
                    MINUTE,
                    minute,
                    aggregate.sample_count,
                    aggregate.sum,
                    aggregate.minimum,
                    aggregate.maximum,
                    aggregate.sketched,
                    "{}",
                ]
            )
        with connection.cursor() as cursor:
            cursor.executemany(_upsert_sql(), rows)
        _sketches_merge(
            {
                (ids[series.key()], unit, minute): points[(series, unit, minute)].sketch
                for series, unit, minute in ordered
                if points[(series, unit, minute)].sketch.counts
            }
        )
        by_minute: dict[int, list[int]] = {}
        for series_id, minute in newest.items():
            by_minute.setdefault(minute, []).append(series_id)
        for minute, series_ids in sorted(by_minute.items()):
            CustomMetric.objects.filter(pk__in=series_ids, last_timestamp__lt=minute).update(
                last_timestamp=minute
            )
        CustomMetric.objects.filter(pk__in=sorted(newest)).update(last_received=received)


def custom_rollup(resolution: int, start: int, end: int) -> int:
    """Recompute the custom ``resolution`` rows whose periods overlap [start, end) from the
    finer ones (replacing them, so running twice changes nothing); returns their count."""
    source = ROLLUP_SOURCE[resolution]
    first = start // resolution * resolution
    last = -(-end // resolution) * resolution
    merged: dict[tuple[int, str, int], Aggregate] = {}
    rows = CustomPoint.objects.filter(resolution=source, timestamp__gte=first, timestamp__lt=last)
    for row in rows.iterator(chunk_size=2000):
        key = (row.series_id, row.unit, row.timestamp // resolution * resolution)
        aggregate = Aggregate.from_row(row, with_sketch=True)
        if key in merged:
            merged[key].merge(aggregate)
        else:
            merged[key] = aggregate
    CustomPoint.objects.bulk_create(
        [
            CustomPoint(
                series_id=series_id,
                unit=unit,
                resolution=resolution,
                timestamp=timestamp,
                sample_count=aggregate.sample_count,
                sum=aggregate.sum,
                minimum=aggregate.minimum,
                maximum=aggregate.maximum,
                sketched=aggregate.sketched,
                sketch=aggregate.sketch.to_json(),
            )
            for (series_id, unit, timestamp), aggregate in sorted(merged.items())
        ],
        update_conflicts=True,
        unique_fields=["series", "unit", "resolution", "timestamp"],
        update_fields=["sample_count", "sum", "minimum", "maximum", "sketched", "sketch"],
        batch_size=500,
    )
    return len(merged)


def custom_rollups_run(now: float | None = None) -> dict[int, int]:
    """The periodic rollup of custom metrics, as ``services.rollups_run`` does Lambda's."""
    now = time.time() if now is None else now
    done = {}
    for resolution in (FIVE_MINUTES, HOUR):
        start = int(now) - ROLLUP_LOOKBACK_SECONDS[resolution]
        done[resolution] = custom_rollup(resolution, start, int(now) + 1)
    return done


def custom_retention_enforce(now: float | None = None) -> dict[int, int]:
    """Delete custom points past their resolution's retention, and series with no data
    left (so they no longer count against the account's limit)."""
    now = time.time() if now is None else now
    deleted = {}
    for resolution, keep in RETENTION_SECONDS.items():
        count, _ = CustomPoint.objects.filter(
            resolution=resolution, timestamp__lt=int(now) - keep
        ).delete()
        deleted[resolution] = count
    CustomMetric.objects.filter(
        last_timestamp__lt=int(now) - max(RETENTION_SECONDS.values())
    ).delete()
    return deleted
