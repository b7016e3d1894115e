"""Metric and subscription filters in the ingest path: datapoints, deliveries, their cost."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from iam.models import Account
from monitoring import errors, log_filters
from monitoring.batches import LogBatch
from monitoring.metrics.models import CustomMetric, CustomPoint
from monitoring.models import LogEvent, LogFilter, LogGroup
from monitoring.services import log_batches_store, log_events_put

OWNER = "111122223333"
GROUP = "/app/orders"


@pytest.fixture
def owner(db) -> Account:
    account = Account.objects.create(id=OWNER)
    LogGroup.objects.create(account=account, name=GROUP, created=1)
    log_filters._cache.clear()
    log_filters._self_deliveries.clear()
    log_filters._delivery_streams.clear()
    return account


def _now() -> int:
    return int(time.time() * 1000)


def _store(lines: list[str], stream: str = "s", group: str = GROUP) -> None:
    now = _now()
    log_batches_store([LogBatch(OWNER, group, stream, [(now, line) for line in lines])])


def _points(name: str) -> dict[tuple[tuple[tuple[str, str], ...], int], tuple[float, float]]:
    """(dimensions, minute) -> (sample count, sum) of the custom metric ``name``."""
    found = {}
    for point in CustomPoint.objects.filter(series__metric_name=name).select_related("series"):
        dims = tuple(tuple(pair) for pair in json.loads(point.series.dimensions))
        found[(dims, point.timestamp)] = (point.sample_count, point.sum)
    return found


def _latency_filter(owner: Account, **transformation) -> None:
    log_filters.metric_filter_put(
        owner,
        GROUP,
        "latency",
        '{ $.level = "INFO" }',
        [
            {
                "metricName": "Latency",
                "metricNamespace": "Orders",
                "metricValue": "$.latency",
                **transformation,
            }
        ],
    )


def test_matching_events_become_datapoints_of_the_custom_metric(owner):
    _latency_filter(owner, unit="Milliseconds", dimensions={"Region": "$.region"})
    _store(
        [
            json.dumps({"level": "INFO", "latency": 120, "region": "eu"}),
            json.dumps({"level": "INFO", "latency": 80, "region": "eu"}),
            json.dumps({"level": "INFO", "latency": 5, "region": "us"}),
            json.dumps({"level": "DEBUG", "latency": 999, "region": "eu"}),
            json.dumps({"level": "INFO", "latency": "slow", "region": "eu"}),
            "not json at all",
        ]
    )
    points = _points("Latency")
    by_region = {dims: value for (dims, _), value in points.items()}
    assert by_region == {(("Region", "eu"),): (2.0, 200.0), (("Region", "us"),): (1.0, 5.0)}
    assert set(CustomMetric.objects.values_list("namespace", flat=True)) == {"Orders"}
    assert CustomPoint.objects.filter(series__metric_name="Latency").first().unit == "Milliseconds"


def test_a_constant_metric_value_counts_matches_and_the_default_fills_a_batch_without_any(owner):
    log_filters.metric_filter_put(
        owner,
        GROUP,
        "errors",
        "ERROR",
        [
            {
                "metricName": "Errors",
                "metricNamespace": "Orders",
                "metricValue": "1",
                "defaultValue": 0,
            }
        ],
    )
    _store(["ERROR one", "fine", "ERROR two"])
    assert sorted(v for v in _points("Errors").values()) == [(2.0, 2.0)]
    _store(["all fine"])
    assert sum(count for count, _ in _points("Errors").values()) == 3.0
    assert sum(total for _, total in _points("Errors").values()) == 2.0


def test_put_log_events_is_filtered_too(owner):
    _latency_filter(owner)
    from monitoring.services import log_stream_create

    log_stream_create(owner, GROUP, "api")
    log_events_put(owner, GROUP, "api", [(_now(), json.dumps({"level": "INFO", "latency": 7}))])
    assert list(_points("Latency").values()) == [(1.0, 7.0)]


def test_a_group_without_filters_costs_at_most_one_query_per_batch(owner):
    _store(["warm the stream cache"])
    with CaptureQueriesContext(connection) as quiet:
        _store(["one line"] * 10)
    log_filters._cache.clear()
    with CaptureQueriesContext(connection) as cold:
        _store(["one line"] * 10)
    # The cold store reads the group's (absent) filters once; the warm one reads nothing.
    assert len(cold.captured_queries) == len(quiet.captured_queries) + 1
    assert not any("log_filter" in q["sql"].lower() for q in quiet.captured_queries)


def test_filters_cost_a_number_of_queries_that_does_not_grow_with_the_batch(owner):
    _latency_filter(owner, dimensions={"Region": "$.region"})
    line = json.dumps({"level": "INFO", "latency": 3, "region": "eu"})
    _store([line])
    counts = []
    for size in (10, 2000):
        with CaptureQueriesContext(connection) as queries:
            _store([line] * size)
        # bulk_create splits its rows every 2000 and the search index every few dozen:
        # only the filters' own queries are counted here.
        counts.append(
            sum(
                1
                for q in queries.captured_queries
                if "custom" in q["sql"].lower() or "log_filter" in q["sql"].lower()
            )
        )
    assert counts[0] == counts[1]
    assert sum(count for count, _ in _points("Latency").values()) == 2011


def test_a_new_filter_applies_to_the_next_batch_in_this_process(owner):
    _store(["ERROR before"])
    log_filters.metric_filter_put(
        owner,
        GROUP,
        "errors",
        "ERROR",
        [{"metricName": "Errors", "metricNamespace": "Orders", "metricValue": "1"}],
    )
    _store(["ERROR after"])
    assert [v for v in _points("Errors").values()] == [(1.0, 1.0)]
    log_filters.metric_filter_delete(owner, GROUP, "errors")
    _store(["ERROR once deleted"])
    assert [v for v in _points("Errors").values()] == [(1.0, 1.0)]


def test_hostile_values_publish_nothing_and_store_every_line(owner):
    _latency_filter(owner, dimensions={"Region": "$.region"})
    lines = [
        json.dumps({"level": "INFO", "latency": "NaN", "region": "eu"}),
        json.dumps({"level": "INFO", "latency": "Infinity", "region": "eu"}),
        json.dumps({"level": "INFO", "latency": 1e400, "region": "eu"}),
        json.dumps({"level": "INFO", "latency": 1, "region": "x" * 10_000}),
        json.dumps({"level": "INFO", "latency": 1, "region": ""}),
        json.dumps({"level": "INFO", "latency": 1, "region": {"nested": 1}}),
        json.dumps({"level": "INFO", "latency": [1, 2]}),
        '{"level": "INFO", "latency": 1' + "[" * 5000,
        "\x01\u202e\ud7ff" * 1000,
    ]
    _store(lines)
    assert _points("Latency") == {}
    assert LogEvent.objects.count() == len(lines)


def test_a_ten_thousand_line_batch_with_filters_is_stored_and_counted(owner):
    log_filters.metric_filter_put(
        owner,
        GROUP,
        "delimited",
        "[ip, user, status=5*, size]",
        [{"metricName": "Bytes", "metricNamespace": "Web", "metricValue": "$size"}],
    )
    log_filters.metric_filter_put(
        owner,
        GROUP,
        "regex",
        "%timeouts?%",
        [{"metricName": "Timeouts", "metricNamespace": "Web", "metricValue": "1"}],
    )
    lines = [f"10.0.0.{i % 250} alice {500 + i % 2} {i}" for i in range(10_000)]
    lines[0] = "timeouts everywhere"
    _store(lines)
    assert LogEvent.objects.count() == 10_000
    assert sum(count for count, _ in _points("Bytes").values()) == 9_999
    assert sum(count for count, _ in _points("Timeouts").values()) == 1


def test_a_metric_value_the_pattern_cannot_extract_is_refused(owner):
    with pytest.raises(errors.InvalidParameter):
        log_filters.metric_filter_put(
            owner,
            GROUP,
            "text",
            "ERROR",
            [{"metricName": "M", "metricNamespace": "N", "metricValue": "$.latency"}],
        )
    assert not LogFilter.objects.exists()
