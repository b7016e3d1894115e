"""A mergeable quantile sketch: DDSketch-style log-spaced buckets.

A value ``x`` falls in bucket ``i = ceil(log_gamma(x))``, i.e. ``gamma**(i-1) < x <=
gamma**i`` with ``gamma = (1 + a) / (1 - a)``. A bucket is represented by
``2 * gamma**i / (gamma + 1)``, which is within a relative error of ``a`` of every value in
it. So the q-quantile read from the sketch is within ``RELATIVE_ACCURACY`` (1 %) of the
exact "lower" q-quantile ``sorted(values)[floor(q * (n - 1))]``, for values of at least
``MIN_VALUE``. Sketches merge by adding bucket counts, so per-minute sketches roll up to
5-minute and 1-hour ones, and any period's percentiles come from merged sketches, never
from raw rows.
"""

from __future__ import annotations

import json
import math

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
# Durations are in milliseconds; anything below a microsecond shares the lowest bucket.
MIN_VALUE = 1e-3


def bucket_index(value: float) -> int:
    return math.ceil(math.log(max(value, MIN_VALUE)) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    return 2 * GAMMA**index / (GAMMA + 1)


class QuantileSketch:
    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = counts if counts is not None else {}

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def add(self, value: float, count: int = 1) -> None:
        self.add_index(bucket_index(value), count)

    def add_index(self, index: int, count: int = 1) -> None:
        self.counts[index] = self.counts.get(index, 0) + count

    def merge(self, other: QuantileSketch) -> None:
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1), or None for an empty sketch."""
        total = self.count
        if total == 0:
            return None
        rank = math.floor(q * (total - 1))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen > rank:
                return bucket_value(index)
        return bucket_value(max(self.counts))  # pragma: no cover - q > 1 guarded by callers

    def to_json(self) -> str:
        return json.dumps(
            {str(k): v for k, v in sorted(self.counts.items())}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str) -> QuantileSketch:
        if not text:
            return cls()
        return cls({int(k): int(v) for k, v in json.loads(text).items()})
