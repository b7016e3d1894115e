"""Recording metrics: in-memory aggregation, additive flushes, percentiles from the sketch."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from iam import services as accounts
from monitoring.metrics import selectors
from monitoring.metrics.models import MetricPoint
from monitoring.metrics.recorder import MetricsRecorder, series_keys
from monitoring.metrics.sketch import RELATIVE_ACCURACY, QuantileSketch

NOW = 1_700_000_000.0  # any fixed instant; queries below pass the same "now"
MINUTE = int(NOW) // 60 * 60


def _recorder() -> MetricsRecorder:
    return MetricsRecorder(background=False, clock=lambda: NOW + 5)


def _exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def _series(account, metric, stat, function=None, qualifier=None, minutes=1):
    """The stored series of the minutes from MINUTE on, read as the query API reads it."""
    params = {"metric": metric, "stat": stat, "period": "60"}
    params.update(start=_iso(MINUTE), end=_iso(MINUTE + 60 * minutes))
    if function:
        params["function"] = function
    if qualifier:
        params["qualifier"] = qualifier
    query = selectors.metric_query_parse(params, now=NOW)
    return selectors.series_read(account.id, function or "", query).values


def test_sketch_quantiles_are_within_the_stated_relative_error():
    rng = random.Random(7)
    for values in (
        [rng.lognormvariate(3, 1.5) for _ in range(20_000)],
        [rng.uniform(0.5, 900_000) for _ in range(5_000)],
        [1.0] * 10 + [1000.0] * 10,
        [42.0],
    ):
        sketch = QuantileSketch()
        for value in values:
            sketch.add(value)
        sketch = QuantileSketch.from_json(sketch.to_json())
        for q in (0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0):
            exact = _exact_quantile(values, q)
            estimate = sketch.quantile(q)
            assert estimate is not None
            assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact, (q, exact, estimate)


def test_merged_sketches_answer_like_one_sketch_of_all_values():
    rng = random.Random(11)
    values = [rng.expovariate(1 / 50) + 0.01 for _ in range(3_000)]
    whole, parts = QuantileSketch(), [QuantileSketch() for _ in range(3)]
    for i, value in enumerate(values):
        whole.add(value)
        parts[i % 3].add(value)
    merged = QuantileSketch()
    for part in parts:
        merged.merge(part)
    assert merged.counts == whole.counts
    assert merged.quantile(0.99) == whole.quantile(0.99)


@pytest.mark.django_db
def test_duration_percentiles_from_stored_points_are_within_the_sketchs_error():
    account = accounts.account_get_or_create("111111111111")
    rng = random.Random(3)
    durations = [rng.lognormvariate(4, 1) for _ in range(5_000)]
    first, second = _recorder(), _recorder()  # two processes flushing the same minute
    keys = series_keys(account.id, "fn", None)
    for i, duration in enumerate(durations):
        (first if i % 2 else second).invocation(keys, duration_ms=duration, error=False)
    first.flush()
    second.flush()

    assert MetricPoint.objects.filter(account=account, function_name="fn").count() == 1
    for stat, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)):
        (estimate,) = _series(account, "Duration", stat, function="fn")
        exact = _exact_quantile(durations, q)
        assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact, (stat, exact, estimate)
    assert _series(account, "Duration", "SampleCount", function="fn") == [5000.0]
    assert _series(account, "Duration", "Minimum", function="fn") == [min(durations)]
    assert _series(account, "Duration", "Maximum", function="fn") == [max(durations)]
    (total,) = _series(account, "Duration", "Sum", function="fn")
    assert total == pytest.approx(sum(durations))
    (average,) = _series(account, "Duration", "Average", function="fn")
    assert average == pytest.approx(sum(durations) / len(durations))


@pytest.mark.django_db
def test_flushes_of_several_processes_add_into_the_same_minute():
    account = accounts.account_get_or_create("222222222222")
    keys = series_keys(account.id, "fn", "live")
    first, second = _recorder(), _recorder()
    first.invocation(keys, duration_ms=10, error=False, cold=True, init_duration_ms=200)
    first.invocation(keys, duration_ms=30, error=True)
    first.flush()
    second.invocation(keys, duration_ms=5, error=True, cold=True, init_duration_ms=100)
    second.flush()
    first.invocation(keys, duration_ms=50, error=False)
    first.flush()
    first.flush()  # nothing pending: adds nothing

    for function, qualifier in ((None, None), ("fn", None), ("fn", "live")):
        assert _series(account, "Invocations", "Sum", function, qualifier) == [4.0]
        assert _series(account, "Errors", "Sum", function, qualifier) == [2.0]
        assert _series(account, "ColdStarts", "Sum", function, qualifier) == [2.0]
        assert _series(account, "Duration", "Minimum", function, qualifier) == [5.0]
        assert _series(account, "Duration", "Maximum", function, qualifier) == [50.0]
        assert _series(account, "Duration", "Sum", function, qualifier) == [95.0]
        assert _series(account, "InitDuration", "Average", function, qualifier) == [150.0]
        assert _series(account, "InitDuration", "SampleCount", function, qualifier) == [2.0]
    stored = MetricPoint.objects.get(account=account, function_name="fn", qualifier="live")
    assert QuantileSketch.from_json(stored.duration_sketch).count == 4


@pytest.mark.django_db
def test_an_unqualified_invocation_counts_for_the_function_and_account_only():
    account = accounts.account_get_or_create("333333333333")
    recorder = _recorder()
    recorder.invocation(series_keys(account.id, "a", None), duration_ms=1, error=False)
    recorder.invocation(series_keys(account.id, "b", "1"), duration_ms=1, error=False)
    recorder.flush()
    assert _series(account, "Invocations", "Sum") == [2.0]
    assert _series(account, "Invocations", "Sum", "a") == [1.0]
    assert _series(account, "Invocations", "Sum", "b") == [1.0]
    assert _series(account, "Invocations", "Sum", "b", "1") == [1.0]
    assert _series(account, "Invocations", "Sum", "a", "1") == [0.0]
    assert set(MetricPoint.objects.values_list("function_name", "qualifier")) == {
        ("", ""),
        ("a", ""),
        ("b", ""),
        ("b", "1"),
    }


@pytest.mark.django_db
def test_concurrent_executions_is_the_most_invocations_in_flight():
    account = accounts.account_get_or_create("444444444444")
    recorder = _recorder()
    a, b = series_keys(account.id, "a", None), series_keys(account.id, "b", None)
    recorder.invocation_started(a)
    recorder.invocation_started(a)
    recorder.invocation_started(b)
    recorder.invocation_finished(a)
    recorder.invocation_started(a)
    recorder.invocation_finished(a)
    recorder.invocation_finished(a)
    recorder.invocation_finished(b)
    recorder.flush()
    assert _series(account, "ConcurrentExecutions", "Maximum", "a") == [2.0]
    assert _series(account, "ConcurrentExecutions", "Maximum", "b") == [1.0]
    assert _series(account, "ConcurrentExecutions", "Maximum") == [3.0]


@pytest.mark.django_db
def test_throttles_dead_letter_errors_delivery_failures_and_iterator_age_are_recorded():
    account = accounts.account_get_or_create("555555555555")
    recorder = _recorder()
    keys = series_keys(account.id, "fn", None)
    recorder.throttle(keys)
    recorder.throttle(keys)
    recorder.dead_letter_error(keys)
    recorder.destination_delivery_failure(keys)
    recorder.destination_delivery_failure(keys)
    recorder.destination_delivery_failure(keys)
    recorder.iterator_age(keys, 1000)
    recorder.iterator_age(keys, 3000)
    recorder.flush()
    assert _series(account, "Throttles", "Sum", "fn") == [2.0]
    assert _series(account, "DeadLetterErrors", "Sum", "fn") == [1.0]
    assert _series(account, "DestinationDeliveryFailures", "Sum", "fn") == [3.0]
    assert _series(account, "IteratorAge", "Maximum", "fn") == [3000.0]
    assert _series(account, "IteratorAge", "Average", "fn") == [2000.0]
    # Throttled requests are not invocations and have no duration.
    assert _series(account, "Invocations", "Sum", "fn") == [0.0]
    assert _series(account, "Duration", "Average", "fn") == [None]


@pytest.mark.django_db
def test_points_of_a_failed_flush_are_kept_for_the_next_one():
    account = accounts.account_get_or_create("666666666666")
    from monitoring.metrics.services import points_store

    failures = [RuntimeError("database unavailable")]

    def flaky(points):
        if failures:
            raise failures.pop()
        points_store(points)

    recorder = MetricsRecorder(background=False, store=flaky, clock=lambda: NOW + 5)
    keys = series_keys(account.id, "fn", None)
    recorder.invocation(keys, duration_ms=3, error=False)
    with pytest.raises(RuntimeError):
        recorder.flush()
    recorder.invocation(keys, duration_ms=4, error=True)
    recorder.flush()
    assert _series(account, "Invocations", "Sum", "fn") == [2.0]
    assert _series(account, "Errors", "Sum", "fn") == [1.0]
    assert _series(account, "Duration", "Sum", "fn") == [7.0]


@pytest.mark.django_db
def test_url_requests_count_by_status_class_with_their_latency():
    account = accounts.account_get_or_create("444444444444")
    recorder = _recorder()
    keys = series_keys(account.id, "web", "live")
    for status, latency in ((200, 10.0), (302, 20.0), (403, 1.0), (404, 2.0), (502, 30.0)):
        recorder.url_request(keys, status=status, latency_ms=latency, now=NOW)
    recorder.flush()
    assert _series(account, "UrlRequestCount", "Sum", "web", "live") == [5.0]
    assert _series(account, "Url4xxCount", "Sum", "web") == [2.0]
    assert _series(account, "Url5xxCount", "Sum") == [1.0]
    assert _series(account, "UrlRequestLatency", "Maximum", "web") == [30.0]
    assert _series(account, "UrlRequestLatency", "Average", "web") == [63.0 / 5]
    assert {"Url4xxCount", "Url5xxCount", "UrlRequestLatency"} <= set(selectors.METRICS)
