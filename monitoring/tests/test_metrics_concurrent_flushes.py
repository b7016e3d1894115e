"""Flushes from several processes at once add up exactly (row locks, additive upserts)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from iam import services as accounts
from monitoring.metrics.models import MetricPoint
from monitoring.metrics.recorder import MetricsRecorder, series_keys
from monitoring.metrics.sketch import QuantileSketch

NOW = 1_700_000_000.0
FLUSHERS, ROUNDS = 4, 15


@pytest.mark.django_db(transaction=True)
def test_simultaneous_flushes_of_the_same_minutes_lose_nothing():
    account = accounts.account_get_or_create("246246246246")
    start = threading.Barrier(FLUSHERS)
    failures: list[BaseException] = []

    def flusher(n: int) -> None:
        try:
            recorder = MetricsRecorder(background=False, clock=lambda: NOW)
            start.wait()
            for round_ in range(ROUNDS):
                # Two minutes and several series per flush, in every flusher: rows collide.
                for minute in (0, 60):
                    for name in ("a", "b"):
                        recorder.invocation(
                            series_keys(account.id, name, None),
                            duration_ms=float(1 + n * ROUNDS + round_),
                            error=round_ % 3 == 0,
                            now=NOW + minute,
                        )
                recorder.flush()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=flusher, args=(n,)) for n in range(FLUSHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    rows = MetricPoint.objects.filter(account=account, resolution=60)
    assert rows.count() == 2 * 3  # two minutes x (account, a, b)
    per_series = FLUSHERS * ROUNDS
    for row in rows:
        expected = per_series * (2 if row.function_name == "" else 1)
        assert row.invocations == row.duration_count == expected
        assert row.errors == FLUSHERS * len(range(0, ROUNDS, 3)) * (expected // per_series)
        assert row.duration_min == 1.0
        assert row.duration_max == float(FLUSHERS * ROUNDS)
        assert QuantileSketch.from_json(row.duration_sketch).count == expected
