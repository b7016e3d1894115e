"""Counters of series that are not functions' (event source mappings' event counts,
EventBridge rules'): additive flushes from several processes, rollups, retention, and how
GetMetricStatistics and the console's query answer them, one account only."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from awsapi.errors import AWSError
from iam import services as accounts
from monitoring.metrics import cloudwatch, selectors, services
from monitoring.metrics.models import CounterPoint
from monitoring.metrics.recorder import MetricsRecorder

pytestmark = pytest.mark.django_db

NOW = 1_700_002_800.0  # a whole hour
MAPPING = "AWS/Lambda", "EventSourceMappingUUID"


def _recorder(now: float = NOW + 5) -> MetricsRecorder:
    return MetricsRecorder(background=False, clock=lambda: now)


def _stats(account_id: str, metric: str, dimensions: list[dict], **extra) -> list[dict]:
    params = {
        "Namespace": extra.pop("Namespace", "AWS/Lambda"),
        "MetricName": metric,
        "Dimensions": dimensions,
        "StartTime": NOW - 600,
        "EndTime": NOW + 600,
        "Period": extra.pop("Period", 60),
        "Statistics": extra.pop("Statistics", ["Sum", "SampleCount", "Maximum"]),
    }
    return cloudwatch.get_metric_statistics(account_id, params, NOW + 60)["Datapoints"]


def test_counts_of_several_processes_add_into_the_same_minute() -> None:
    account = accounts.account_get_or_create("710000000001")
    series = str(uuid.uuid4())
    first, second = _recorder(), _recorder()
    first.counts(account.id, *MAPPING, series, {"PolledEventCount": 3, "InvokedEventCount": 2})
    second.counts(account.id, *MAPPING, series, {"PolledEventCount": 4, "DroppedEventCount": 0})
    first.flush()
    second.flush()
    first.counts(account.id, *MAPPING, series, {"PolledEventCount": 1})
    first.flush()

    rows = CounterPoint.objects.filter(account=account, series=series)
    assert {row.metric: row.value for row in rows} == {
        "PolledEventCount": 8,
        "InvokedEventCount": 2,
    }  # a zero count stores no row
    assert {row.timestamp for row in rows} == {int(NOW)}


def test_get_metric_statistics_answers_a_mappings_counts_by_its_uuid_only() -> None:
    account = accounts.account_get_or_create("710000000002")
    other = accounts.account_get_or_create("710000000003")
    series = str(uuid.uuid4())
    recorder = _recorder()
    recorder.counts(account.id, *MAPPING, series, {"InvokedEventCount": 5})
    recorder.flush()
    dimensions = [{"Name": "EventSourceMappingUUID", "Value": series}]

    (point,) = _stats(account.id, "InvokedEventCount", dimensions)
    assert point["Sum"] == point["SampleCount"] == 5
    assert point["Maximum"] == 1  # one value of 1 per event, as Lambda publishes counters
    assert point["Unit"] == "Count"
    assert point["Timestamp"] == dt.datetime.fromtimestamp(int(NOW), dt.UTC)
    # Another account, another metric, a function's dimension, another namespace: nothing.
    assert _stats(other.id, "InvokedEventCount", dimensions) == []
    assert _stats(account.id, "PolledEventCount", dimensions) == []
    assert _stats(account.id, "InvokedEventCount", [{"Name": "FunctionName", "Value": "f"}]) == []
    assert _stats(account.id, "InvokedEventCount", dimensions, Namespace="AWS/Events") == []


def test_get_metric_statistics_answers_rule_metrics_by_rule_and_for_the_account() -> None:
    account = accounts.account_get_or_create("710000000004")
    recorder = _recorder()
    for rule, n in (("nightly", 2), ("hourly", 3)):
        recorder.counts(account.id, "AWS/Events", "RuleName", rule, {"Invocations": n})
        recorder.counts(account.id, "AWS/Events", "", "", {"Invocations": n})
    recorder.flush()

    def total(dimensions: list[dict]) -> float:
        points = _stats(account.id, "Invocations", dimensions, Namespace="AWS/Events")
        return sum(point["Sum"] for point in points)

    assert total([{"Name": "RuleName", "Value": "nightly"}]) == 2
    assert total([{"Name": "RuleName", "Value": "hourly"}]) == 3
    assert total([]) == 5
    assert total([{"Name": "RuleName", "Value": "missing"}]) == 0


def test_rollups_keep_the_totals_and_retention_deletes_expired_counts() -> None:
    account = accounts.account_get_or_create("710000000005")
    series = str(uuid.uuid4())
    for minute in range(0, 120, 7):
        recorder = _recorder(NOW + minute * 60 + 1)
        recorder.counts(account.id, *MAPPING, series, {"DeletedEventCount": minute + 1})
        recorder.flush()
    expected = sum(minute + 1 for minute in range(0, 120, 7))
    end = NOW + 2 * 3600
    services.rollups_run(now=end)
    services.rollups_run(now=end)  # twice changes nothing

    def total(resolution: int) -> int:
        rows = CounterPoint.objects.filter(account=account, series=series, resolution=resolution)
        return sum(rows.values_list("value", flat=True))

    assert total(60) == total(300) == total(3600) == expected
    deleted = services.retention_enforce(now=NOW + 16 * 86400)
    assert deleted[60] >= 1
    assert total(60) == 0 and total(300) == expected


def test_the_console_query_takes_a_mapping_for_its_metrics_only() -> None:
    account = accounts.account_get_or_create("710000000006")
    series = str(uuid.uuid4())
    recorder = _recorder()
    recorder.counts(account.id, *MAPPING, series, {"FilteredOutEventCount": 4})
    recorder.flush()
    start = dt.datetime.fromtimestamp(NOW, dt.UTC).isoformat()
    end = dt.datetime.fromtimestamp(NOW + 120, dt.UTC).isoformat()
    params = {"metric": "FilteredOutEventCount", "mapping": series.upper(), "period": "60"}
    query = selectors.metric_query_parse({**params, "start": start, "end": end}, now=NOW + 60)
    assert selectors.metric_series(account, query).values == [4.0, 0.0]
    assert query.unit == "Count"

    for wrong in (
        {"metric": "FilteredOutEventCount"},
        {"metric": "FilteredOutEventCount", "mapping": "not-a-uuid"},
        {"metric": "FilteredOutEventCount", "mapping": series, "function": "f"},
        {"metric": "Invocations", "mapping": series},
    ):
        with pytest.raises(AWSError) as raised:
            selectors.metric_query_parse(wrong, now=NOW)
        assert raised.value.code == "InvalidParameterValueException"
