"""Custom metrics in process: additive per-minute aggregates, the per-account series limit,
rollups and retention, and how the reading API and metric math read them back."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from awsapi.errors import AWSError
from iam import services as accounts
from monitoring.metrics import custom_services, metric_data, reading
from monitoring.metrics.custom_services import Aggregate, SeriesName
from monitoring.metrics.metric_data import DataQuery, MetricStat
from monitoring.metrics.models import CustomMetric, CustomPoint
from monitoring.metrics.services import DAY, FIVE_MINUTES, HOUR, MINUTE
from monitoring.metrics.sketch import QuantileSketch

pytestmark = pytest.mark.django_db

NOW = 1_700_002_800.0  # a whole hour
ORDERS = SeriesName("Shop", "Orders", (("Store", "a"),))


def _aggregate(*values: float) -> Aggregate:
    aggregate = Aggregate()
    for value in values:
        aggregate.add(value)
    return aggregate


def _put(
    account_id: str,
    name: SeriesName,
    minute: float,
    *values: float,
    unit: str = "Count",
    limit: int | None = None,
) -> None:
    key = (name, unit, int(minute) // MINUTE * MINUTE)
    custom_services.custom_data_store(account_id, {key: _aggregate(*values)}, now=NOW, limit=limit)


def _read(
    account_id: str,
    name: SeriesName,
    *stats: str,
    period: int = 60,
    start: float = NOW - HOUR,
    unit: str | None = None,
) -> list[reading.Datapoint]:
    return reading.datapoints(
        account_id,
        reading.MetricId(name.namespace, name.metric_name, name.dimensions),
        start=start,
        end=NOW + MINUTE,
        period=period,
        statistics=list(stats),
        unit=unit,
        now=NOW,
    )


def test_writes_of_the_same_minute_add_up() -> None:
    account = accounts.account_get_or_create("720000000001")
    _put(account.id, ORDERS, NOW - 120, 1, 5)
    _put(account.id, ORDERS, NOW - 100, 3)
    (point,) = _read(account.id, ORDERS, "Sum", "SampleCount", "Minimum", "Maximum", "Average")
    assert point.timestamp == NOW - 120
    assert point.values == {"Sum": 9, "SampleCount": 3, "Minimum": 1, "Maximum": 5, "Average": 3}
    assert CustomMetric.objects.filter(account=account).count() == 1
    row = CustomMetric.objects.get(account=account)
    assert (row.last_timestamp, row.last_received) == (NOW - 120, NOW)


def test_percentiles_come_only_from_samples_the_sketch_holds() -> None:
    account = accounts.account_get_or_create("720000000002")
    _put(account.id, ORDERS, NOW - 60, *range(1, 101))
    (point,) = _read(account.id, ORDERS, "p50", "p90", "p100")
    assert point.values["p50"] == pytest.approx(50, rel=0.02)
    assert point.values["p90"] == pytest.approx(90, rel=0.02)
    assert point.values["p100"] == 100
    # A statistic set with spread, or a negative value: no percentiles for that period.
    spread = Aggregate()
    spread.add_statistics(2, 4, 1, 3)
    custom_services.custom_data_store(account.id, {(ORDERS, "Count", int(NOW) - 60): spread})
    (point,) = _read(account.id, ORDERS, "p50", "Sum")
    assert point.values == {"Sum": 5054}
    _put(account.id, ORDERS, NOW - 120, -1)
    negative = _read(account.id, ORDERS, "p50", start=NOW - 180)
    assert negative[0].timestamp == NOW - 120 and negative[0].values == {}
    # One whose samples are all one value counts as those samples.
    same = Aggregate()
    same.add_statistics(4, 28, 7, 7)
    assert same.sketched == 4 and same.sketch.count == 4


def test_units_are_kept_apart_and_a_unit_filters_the_read() -> None:
    account = accounts.account_get_or_create("720000000003")
    _put(account.id, ORDERS, NOW - 60, 2, unit="Count")
    _put(account.id, ORDERS, NOW - 60, 5, unit="Percent")
    (both,) = _read(account.id, ORDERS, "Sum")
    assert both.values == {"Sum": 7} and both.unit == "None"
    (counts,) = _read(account.id, ORDERS, "Sum", unit="Count")
    assert counts.values == {"Sum": 2} and counts.unit == "Count"
    assert _read(account.id, ORDERS, "Sum", unit="Seconds") == []


def test_an_account_stops_at_its_series_limit_and_keeps_writing_the_ones_it_has() -> None:
    account = accounts.account_get_or_create("720000000004")
    for store in "abc":
        _put(account.id, SeriesName("Shop", "Orders", (("Store", store),)), NOW, 1, limit=3)
    with pytest.raises(AWSError) as excinfo:
        _put(account.id, SeriesName("Shop", "Orders", (("Store", "d"),)), NOW, 1, limit=3)
    assert excinfo.value.code == "LimitExceededFault"
    assert "(3)" in excinfo.value.message
    _put(account.id, SeriesName("Shop", "Orders", (("Store", "a"),)), NOW, 1, limit=3)
    assert CustomMetric.objects.filter(account=account).count() == 3
    # Another account has its own limit.
    other = accounts.account_get_or_create("720000000005")
    _put(other.id, SeriesName("Shop", "Orders", (("Store", "d"),)), NOW, 1, limit=3)


def test_a_refused_request_writes_nothing() -> None:
    account = accounts.account_get_or_create("720000000006")
    _put(account.id, ORDERS, NOW, 1, limit=1)
    batch = {
        (ORDERS, "Count", int(NOW)): _aggregate(5),
        (SeriesName("Shop", "New"), "Count", int(NOW)): _aggregate(1),
    }
    with pytest.raises(AWSError):
        custom_services.custom_data_store(account.id, batch, now=NOW, limit=1)
    (point,) = _read(account.id, ORDERS, "Sum")
    assert point.values == {"Sum": 1}


def test_rollups_keep_the_statistics_and_retention_forgets_old_series() -> None:
    account = accounts.account_get_or_create("720000000007")
    for minute in range(10):
        _put(account.id, ORDERS, NOW - 600 + minute * 60, float(minute), float(minute + 1))
    custom_services.custom_rollups_run(now=NOW)
    custom_services.custom_rollups_run(now=NOW)  # idempotent
    five = CustomPoint.objects.filter(series__account=account, resolution=FIVE_MINUTES)
    assert sorted(row.sample_count for row in five) == [10, 10]
    hour = CustomPoint.objects.get(series__account=account, resolution=HOUR)
    assert (hour.sample_count, hour.sum, hour.minimum, hour.maximum) == (20, 100, 0, 10)
    # Read from the 5-minute rows once the minutes are past their retention.
    later = NOW + 16 * DAY
    points = reading.datapoints(
        account.id,
        reading.MetricId("Shop", "Orders", ORDERS.dimensions),
        start=NOW - 600,
        end=NOW,
        period=FIVE_MINUTES,
        statistics=["Sum", "p50"],
        now=later,
    )
    assert [p.values["Sum"] for p in points] == [25.0, 75.0]
    assert all("p50" in p.values for p in points)
    custom_services.custom_retention_enforce(now=later)
    assert not CustomPoint.objects.filter(series__account=account, resolution=MINUTE).exists()
    assert CustomMetric.objects.filter(account=account).exists()
    custom_services.custom_retention_enforce(now=NOW + 456 * DAY)
    assert not CustomMetric.objects.filter(account=account).exists()


def test_the_reading_api_evaluates_an_alarm_style_expression() -> None:
    """What alarms will call: a metric and an expression over a window."""
    account = accounts.account_get_or_create("720000000008")
    errors = SeriesName("App", "Errors")
    calls = SeriesName("App", "Calls")
    for minute, (failed, total) in enumerate([(1, 10), (5, 10), (0, 0)]):
        at = NOW - 180 + minute * 60
        _put(account.id, errors, at, float(failed))
        _put(account.id, calls, at, float(total))
    queries = [
        DataQuery("e", MetricStat(reading.MetricId("App", "Errors"), 60, "Sum"), return_data=False),
        DataQuery("c", MetricStat(reading.MetricId("App", "Calls"), 60, "Sum"), return_data=False),
        DataQuery("rate", expression="100 * e / c", label="Error %"),
    ]
    (result,) = metric_data.metric_data_evaluate(
        account.id, queries, start=NOW - 300, end=NOW, now=NOW, member="Metrics"
    )
    assert (result.id, result.label) == ("rate", "Error %")
    assert result.timestamps == [NOW - 180, NOW - 120]
    assert result.values == [10.0, 50.0]
    assert result.messages == [metric_data.ARITHMETIC_ERROR]  # 0 / 0 at the last minute
    with pytest.raises(AWSError) as excinfo:
        metric_data.metric_data_evaluate(
            account.id,
            [DataQuery("Bad", expression="1")],
            start=NOW - 60,
            end=NOW,
            now=NOW,
            member="Metrics",
        )
    assert "Metrics.member.1.Id" in excinfo.value.message


@pytest.mark.django_db(transaction=True)
def test_simultaneous_writers_of_the_same_minutes_and_new_series_lose_nothing() -> None:
    """Several requests at once write the same minutes and create the same new series:
    totals, extremes and sketches add up exactly, and each series exists once."""
    account = accounts.account_get_or_create("720000000009")
    writers, rounds = 4, 10
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for round_ in range(rounds):
                batch = {
                    (
                        SeriesName("Race", "m", (("Store", store),)),
                        "Count",
                        int(NOW) + minute,
                    ): _aggregate(float(n * rounds + round_ + 1))
                    for store in ("a", "b", f"only-{n}")
                    for minute in (0, 60)
                }
                custom_services.custom_data_store(account.id, batch, now=NOW)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert CustomMetric.objects.filter(account=account).count() == 2 + writers
    for store in ("a", "b"):
        for point in _read(
            account.id,
            SeriesName("Race", "m", (("Store", store),)),
            "Sum",
            "SampleCount",
            "Minimum",
            "Maximum",
            "p100",
            start=NOW - 60,
        ):
            assert point.values["SampleCount"] == writers * rounds
            assert point.values["Sum"] == sum(range(1, writers * rounds + 1))
            assert (point.values["Minimum"], point.values["Maximum"]) == (1, writers * rounds)
            assert point.values["p100"] == writers * rounds
    sketches = CustomPoint.objects.filter(
        series__account=account, series__dimensions__contains='"a"'
    )
    assert all(QuantileSketch.from_json(row.sketch).count == writers * rounds for row in sketches)
