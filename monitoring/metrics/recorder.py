"""Recording metrics on the hot path: in-memory aggregation, flushed in batches.

Every call adds into a :class:`Point` per (series, minute) in this process's memory (a few
dict operations under an uncontended lock); a background thread hands everything pending to
:func:`services.points_store` every ``FUNCTORY_METRICS_FLUSH_SECONDS``, so a busy function
costs one transaction per flush, not one per invocation. :meth:`MetricsRecorder.flush`
stores what is pending at once (tests, and the query API before it reads).

A series is ``(account_id, function_name, qualifier)``: an invocation counts towards the
account (``""``, ``""``), the function (name, ``""``) and, when invoked with a qualifier,
that version or alias (name, qualifier).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping

from django.db import close_old_connections

from monitoring.metrics.points import Point
from monitoring.metrics.services import CounterKey, PointKey, counters_store, points_store
from monitoring.metrics.sketch import bucket_index

logger = logging.getLogger(__name__)

SeriesKey = tuple[str, str, str]
# Points kept for retry while the database is unavailable; beyond this, new ones are dropped.
MAX_PENDING_POINTS = 100_000


@functools.lru_cache(maxsize=8192)
def series_keys(
    account_id: str, function_name: str, qualifier: str | None
) -> tuple[SeriesKey, ...]:
    """The series one event of this function (as invoked) counts towards."""
    keys: tuple[SeriesKey, ...] = ((account_id, "", ""), (account_id, function_name, ""))
    if qualifier:
        keys += ((account_id, function_name, qualifier),)
    return keys


class MetricsRecorder:
    def __init__(
        self,
        interval: float | None = None,
        store: Callable[[Mapping[PointKey, Point]], None] = points_store,
        clock: Callable[[], float] = time.time,
        background: bool = True,
        counter_store: Callable[[Mapping[CounterKey, int]], None] = counters_store,
    ) -> None:
        self._interval = interval
        self._background = background
        self._store = store
        self._counter_store = counter_store
        # Counters of series other than functions' (event source mappings, rules).
        self._counters: dict[CounterKey, int] = {}
        self._clock = clock
        self._pending: dict[PointKey, Point] = {}
        self._in_flight: dict[SeriesKey, int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- recording (hot path) -------------------------------------------------------------

    def _points(self, keys: tuple[SeriesKey, ...], now: float | None) -> list[Point]:
        """The pending points of these series for the current minute (lock held)."""
        minute = int(self._clock() if now is None else now) // 60 * 60
        points = []
        for account_id, function_name, qualifier in keys:
            key = PointKey(account_id, function_name, qualifier, minute)
            point = self._pending.get(key)
            if point is None:
                point = self._pending[key] = Point()
            points.append(point)
        return points

    def invocation_started(
        self, keys: tuple[SeriesKey, ...], *, running: tuple[int, ...] = ()
    ) -> None:
        """An invocation is running now: counts towards ConcurrentExecutions. ``running``:
        how many of each series run across every process (from Redis), when known."""
        with self._lock:
            for i, (key, point) in enumerate(zip(keys, self._points(keys, None), strict=True)):
                here = self._in_flight.get(key, 0) + 1
                self._in_flight[key] = here
                everywhere = running[i] if i < len(running) else 0
                point.concurrency_max = max(point.concurrency_max, here, everywhere)
        self._ensure_thread()

    def invocation_finished(self, keys: tuple[SeriesKey, ...]) -> None:
        with self._lock:
            # Noted again at the end, so a minute an invocation runs through sees it too.
            for key, point in zip(keys, self._points(keys, None), strict=True):
                running = self._in_flight.get(key, 0)
                point.concurrency_max = max(point.concurrency_max, running)
                if running <= 1:
                    self._in_flight.pop(key, None)
                else:
                    self._in_flight[key] = running - 1

    def invocation(
        self,
        keys: tuple[SeriesKey, ...],
        *,
        duration_ms: float,
        error: bool,
        cold: bool = False,
        init_duration_ms: float | None = None,
        now: float | None = None,
    ) -> None:
        """One completed invocation (function errors included, throttles not)."""
        index = bucket_index(duration_ms)
        with self._lock:
            for point in self._points(keys, now):
                point.invocations += 1
                if error:
                    point.errors += 1
                point.duration.add(duration_ms)
                point.duration_sketch.add_index(index)
                if cold:
                    point.cold_starts += 1
                if init_duration_ms is not None:
                    point.init.add(init_duration_ms)
        self._ensure_thread()

    def throttle(self, keys: tuple[SeriesKey, ...], *, now: float | None = None) -> None:
        self._count(keys, "throttles", now)

    def dead_letter_error(self, keys: tuple[SeriesKey, ...], *, now: float | None = None) -> None:
        self._count(keys, "dead_letter_errors", now)

    def destination_delivery_failure(
        self, keys: tuple[SeriesKey, ...], *, now: float | None = None
    ) -> None:
        self._count(keys, "destination_delivery_failures", now)

    def async_event_received(
        self, keys: tuple[SeriesKey, ...], *, now: float | None = None
    ) -> None:
        self._count(keys, "async_events_received", now)

    def async_event_dropped(self, keys: tuple[SeriesKey, ...], *, now: float | None = None) -> None:
        """An event given up without a successful run (after its DLQ/destination, if any)."""
        self._count(keys, "async_events_dropped", now)

    def iterator_age(
        self, keys: tuple[SeriesKey, ...], age_ms: float, *, now: float | None = None
    ) -> None:
        """Age of the last record of a batch an event source mapping delivered."""
        self._add(keys, "iterator_age", age_ms, now)

    def async_event_age(
        self, keys: tuple[SeriesKey, ...], age_ms: float, *, now: float | None = None
    ) -> None:
        """Time from an event's acceptance to an attempt to run it (grows with retries)."""
        self._add(keys, "async_event_age", age_ms, now)

    def url_request(
        self,
        keys: tuple[SeriesKey, ...],
        *,
        status: int,
        latency_ms: float,
        now: float | None = None,
    ) -> None:
        """One request to a function URL: its answer's status class and its latency (from
        receipt to response, as UrlRequestLatency is measured)."""
        with self._lock:
            for point in self._points(keys, now):
                point.url_requests += 1
                if 400 <= status < 500:
                    point.url_4xx += 1
                elif status >= 500:
                    point.url_5xx += 1
                point.url_latency.add(latency_ms)
        self._ensure_thread()

    def counts(
        self,
        account_id: str,
        namespace: str,
        dimension: str,
        series: str,
        counts: Mapping[str, int],
        *,
        now: float | None = None,
    ) -> None:
        """Counts of a series that is not a function's: ``counts`` maps metric names (as
        CloudWatch answers them) to how many events to add."""
        minute = int(self._clock() if now is None else now) // 60 * 60
        with self._lock:
            for metric, value in counts.items():
                if value > 0:
                    key = CounterKey(account_id, namespace, dimension, series, metric, minute)
                    self._counters[key] = self._counters.get(key, 0) + value
        self._ensure_thread()

    def _add(
        self, keys: tuple[SeriesKey, ...], distribution: str, value: float, now: float | None
    ) -> None:
        with self._lock:
            for point in self._points(keys, now):
                getattr(point, distribution).add(value)
        self._ensure_thread()

    def _count(self, keys: tuple[SeriesKey, ...], counter: str, now: float | None) -> None:
        with self._lock:
            for point in self._points(keys, now):
                setattr(point, counter, getattr(point, counter) + 1)
        self._ensure_thread()

    # -- flushing -------------------------------------------------------------------------

    def _take(self) -> tuple[dict[PointKey, Point], dict[CounterKey, int]]:
        with self._lock:
            pending, self._pending = self._pending, {}
            counters, self._counters = self._counters, {}
        return pending, counters

    def _give_back(self, points: dict[PointKey, Point]) -> None:
        with self._lock:
            if len(self._pending) + len(points) > MAX_PENDING_POINTS:
                logger.error("dropping %d metric points: the store keeps failing", len(points))
                return
            for key, point in points.items():
                current = self._pending.get(key)
                if current is None:
                    self._pending[key] = point
                else:
                    point.merge(current)
                    self._pending[key] = point

    def _give_back_counters(self, counters: dict[CounterKey, int]) -> None:
        with self._lock:
            if len(self._counters) + len(counters) > MAX_PENDING_POINTS:
                logger.error("dropping %d counters: the store keeps failing", len(counters))
                return
            for key, value in counters.items():
                self._counters[key] = self._counters.get(key, 0) + value

    def discard(self) -> None:
        """Forget what is pending (tests whose database rows are rolled back), once a store
        in progress has ended."""
        with self._flush_lock:
            self._take()

    def flush(self) -> None:
        """Store everything recorded so far (in the calling thread); raises if storing fails."""
        with self._flush_lock:
            points, counters = self._take()
            try:
                if points:
                    self._store(points)
            except BaseException:
                self._give_back(points)
                self._give_back_counters(counters)
                raise
            try:
                if counters:
                    self._counter_store(counters)
            except BaseException:
                self._give_back_counters(counters)
                raise

    def _ensure_thread(self) -> None:
        if self._thread is None and self._background:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="functory-metrics-flush", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._flush_interval())
            try:
                close_old_connections()
                self.flush()
            except Exception:
                logger.exception("storing metric points failed; they are kept for the next flush")

    def _flush_interval(self) -> float:
        if self._interval is None:
            from django.conf import settings

            self._interval = float(getattr(settings, "FUNCTORY_METRICS_FLUSH_SECONDS", 5.0))
        return self._interval


recorder = MetricsRecorder()
