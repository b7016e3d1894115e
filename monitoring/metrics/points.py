"""A metric point in memory: what one series collected in one period.

The same structure accumulates on the hot path, is flushed by additive upserts, is merged
by rollups and is merged again per query period, so every statistic is computed one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitoring.metrics.sketch import QuantileSketch

COUNTERS = (
    "invocations",
    "errors",
    "throttles",
    "cold_starts",
    "dead_letter_errors",
    "destination_delivery_failures",
    "async_events_received",
    "async_events_dropped",
    "url_requests",
    "url_4xx",
    "url_5xx",
)
# Distributions kept as count/sum/min/max (Duration also has a sketch).
DISTRIBUTIONS = ("duration", "init", "iterator_age", "async_event_age", "url_latency")


@dataclass(slots=True)
class Stat:
    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value

    def merge(self, other: Stat) -> None:
        self.count += other.count
        self.sum += other.sum
        if other.min is not None and (self.min is None or other.min < self.min):
            self.min = other.min
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max


@dataclass(slots=True)
class Point:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    dead_letter_errors: int = 0
    destination_delivery_failures: int = 0
    async_events_received: int = 0
    async_events_dropped: int = 0
    url_requests: int = 0
    url_4xx: int = 0
    url_5xx: int = 0
    concurrency_max: int = 0
    duration: Stat = field(default_factory=Stat)
    duration_sketch: QuantileSketch = field(default_factory=QuantileSketch)
    init: Stat = field(default_factory=Stat)
    iterator_age: Stat = field(default_factory=Stat)
    async_event_age: Stat = field(default_factory=Stat)
    url_latency: Stat = field(default_factory=Stat)

    def merge(self, other: Point) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.concurrency_max = max(self.concurrency_max, other.concurrency_max)
        self.duration.merge(other.duration)
        self.duration_sketch.merge(other.duration_sketch)
        self.init.merge(other.init)
        self.iterator_age.merge(other.iterator_age)
        self.async_event_age.merge(other.async_event_age)
        self.url_latency.merge(other.url_latency)

    def fields(self) -> dict[str, Any]:
        """The point as MetricPoint column values."""
        values: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        values["concurrency_max"] = self.concurrency_max
        for prefix in DISTRIBUTIONS:
            stat: Stat = getattr(self, prefix)
            values[f"{prefix}_count"] = stat.count
            values[f"{prefix}_sum"] = stat.sum
            values[f"{prefix}_min"] = stat.min
            values[f"{prefix}_max"] = stat.max
        values["duration_sketch"] = self.duration_sketch.to_json()
        return values

    @classmethod
    def from_row(cls, row: Any, *, with_sketch: bool = True) -> Point:
        point = cls(**{name: getattr(row, name) for name in COUNTERS})
        point.concurrency_max = row.concurrency_max
        for prefix in DISTRIBUTIONS:
            setattr(
                point,
                prefix,
                Stat(
                    getattr(row, f"{prefix}_count"),
                    getattr(row, f"{prefix}_sum"),
                    getattr(row, f"{prefix}_min"),
                    getattr(row, f"{prefix}_max"),
                ),
            )
        if with_sketch:
            point.duration_sketch = QuantileSketch.from_json(row.duration_sketch)
        return point


FIELD_NAMES = tuple(Point().fields())
