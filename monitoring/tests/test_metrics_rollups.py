"""Rollups to 5 minutes and 1 hour keep the totals; retention deletes only expired points."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from iam import services as accounts
from monitoring.metrics import selectors, services
from monitoring.metrics.models import MetricPoint
from monitoring.metrics.points import Point
from monitoring.metrics.recorder import MetricsRecorder, series_keys
from monitoring.metrics.sketch import QuantileSketch

pytestmark = pytest.mark.django_db

HOUR_START = 1_700_002_800  # a whole hour (epoch seconds)


def _totals(resolution: int) -> dict[tuple[str, str], Point]:
    totals: dict[tuple[str, str], Point] = {}
    for row in MetricPoint.objects.filter(resolution=resolution):
        totals.setdefault((row.function_name, row.qualifier), Point()).merge(Point.from_row(row))
    return totals


def _record_two_hours(account_id: str) -> None:
    """Invocations spread over two hours (and a partial third), in two series."""
    rng = random.Random(5)
    clock = [0.0]
    recorder = MetricsRecorder(background=False, clock=lambda: clock[0])
    for minute in range(0, 130, 3):
        now = HOUR_START + minute * 60 + 7
        clock[0] = now
        for name, qualifier in (("a", None), ("b", "prod")):
            keys = series_keys(account_id, name, qualifier)
            for _ in range(rng.randint(1, 4)):
                recorder.invocation_started(keys)
            for _ in range(rng.randint(0, 5)):
                recorder.invocation(
                    keys,
                    duration_ms=rng.lognormvariate(3, 1),
                    error=rng.random() < 0.3,
                    cold=rng.random() < 0.1,
                    init_duration_ms=rng.uniform(100, 300),
                    now=now,
                )
            recorder.throttle(keys, now=now)
            recorder.iterator_age(keys, rng.uniform(0, 5000), now=now)
            for _ in range(3):
                recorder.invocation_finished(keys)
        recorder.flush()


def test_rollups_keep_every_total_and_the_sketch():
    account = accounts.account_get_or_create("777777777777")
    _record_two_hours(account.id)
    end = HOUR_START + 3 * 3600
    services.rollup(300, HOUR_START, end)
    services.rollup(3600, HOUR_START, end)

    minutes, fives, hours = _totals(60), _totals(300), _totals(3600)
    assert (
        set(minutes) == set(fives) == set(hours) == {("", ""), ("a", ""), ("b", ""), ("b", "prod")}
    )
    for key, expected in minutes.items():
        for rolled in (fives[key], hours[key]):
            assert rolled.invocations == expected.invocations > 0
            assert rolled.errors == expected.errors
            assert rolled.throttles == expected.throttles
            assert rolled.cold_starts == expected.cold_starts
            assert rolled.concurrency_max == expected.concurrency_max
            for name in ("duration", "init", "iterator_age"):
                got, want = getattr(rolled, name), getattr(expected, name)
                assert (got.count, got.min, got.max) == (want.count, want.min, want.max)
                assert got.sum == pytest.approx(want.sum)
            assert rolled.duration_sketch.counts == expected.duration_sketch.counts
    assert MetricPoint.objects.filter(resolution=3600, function_name="a").count() == 3
    assert MetricPoint.objects.filter(resolution=300, function_name="a").count() == len(
        {
            row.timestamp // 300
            for row in MetricPoint.objects.filter(resolution=60, function_name="a")
        }
    )


def test_running_a_rollup_twice_changes_nothing():
    account = accounts.account_get_or_create("888888888888")
    _record_two_hours(account.id)
    end = HOUR_START + 3 * 3600

    def rolled_up() -> list[tuple[object, ...]]:
        services.rollup(300, HOUR_START, end)
        services.rollup(3600, HOUR_START, end)
        return sorted(
            MetricPoint.objects.filter(resolution__gt=60).values_list(
                "resolution",
                "function_name",
                "qualifier",
                "timestamp",
                "invocations",
                "errors",
                "duration_count",
                "concurrency_max",
                "duration_sketch",
            )
        )

    first = rolled_up()
    assert first
    assert rolled_up() == first


def test_a_rollup_picks_up_points_flushed_late():
    account = accounts.account_get_or_create("999999999999")
    keys = series_keys(account.id, "a", None)
    recorder = MetricsRecorder(background=False, clock=lambda: HOUR_START + 61)
    recorder.invocation(keys, duration_ms=5, error=False)
    recorder.flush()
    services.rollups_run(now=HOUR_START + 400)
    recorder.invocation(keys, duration_ms=5, error=False)
    recorder.flush()
    services.rollups_run(now=HOUR_START + 700)
    five = MetricPoint.objects.get(resolution=300, function_name="a", timestamp=HOUR_START)
    hour = MetricPoint.objects.get(resolution=3600, function_name="a", timestamp=HOUR_START)
    assert five.invocations == hour.invocations == 2
    assert QuantileSketch.from_json(hour.duration_sketch).count == 2


def test_queries_of_old_ranges_read_the_finest_resolution_still_kept():
    account = accounts.account_get_or_create("123123123123")
    now = HOUR_START + 100 * 86400
    MetricPoint.objects.create(
        account=account,
        function_name="",
        qualifier="",
        resolution=300,
        timestamp=(now - 21 * 86400 + 3600) // 300 * 300,
        invocations=7,
    )
    MetricPoint.objects.create(
        account=account,
        function_name="",
        qualifier="",
        resolution=3600,
        timestamp=(now - 91 * 86400 + 3600) // 3600 * 3600,
        invocations=9,
    )

    def series(days_ago: int, period: int) -> tuple[int, list[float | None]]:
        start = dt.datetime.fromtimestamp(now - days_ago * 86400, dt.UTC)
        query = selectors.metric_query_parse(
            {
                "metric": "Invocations",
                "period": str(period),
                "start": start.isoformat(),
                "end": (start + dt.timedelta(days=1)).isoformat(),
            },
            now=now,
        )
        return query.resolution, selectors.series_read(account.id, "", query).values

    resolution, values = series(21, 3600)
    assert resolution == 300 and sum(v or 0 for v in values) == 7
    resolution, values = series(91, 86400)
    assert resolution == 3600 and sum(v or 0 for v in values) == 9
    resolution, _ = series(1, 60)
    assert resolution == 60


def test_retention_deletes_only_expired_points():
    account = accounts.account_get_or_create("321321321321")
    now = HOUR_START + 600 * 86400
    kept, expired = [], []
    for resolution, days in ((60, 15), (300, 63), (3600, 455)):
        limit = now - days * 86400
        for timestamp, bucket in (
            (limit // resolution * resolution - resolution, expired),
            ((limit // resolution + 1) * resolution, kept),
            (now // resolution * resolution, kept),
        ):
            bucket.append(
                MetricPoint.objects.create(
                    account=account, resolution=resolution, timestamp=timestamp, invocations=1
                ).pk
            )
    deleted = services.retention_enforce(now=now)
    assert deleted == {60: 1, 300: 1, 3600: 1}
    assert set(MetricPoint.objects.values_list("pk", flat=True)) == set(kept)
    assert services.retention_enforce(now=now) == {60: 0, 300: 0, 3600: 0}
