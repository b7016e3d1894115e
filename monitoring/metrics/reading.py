"""Datapoints of any metric an account may read, by CloudWatch's names: ``AWS/Lambda`` and
``AWS/Events`` (recorded by the platform) and the account's custom namespaces.

One function, :func:`datapoints`, answers GetMetricStatistics, GetMetricData's metric
queries and (later) alarms. Periods are aligned to the epoch, as the stored points are; the
finest resolution still kept for ``start`` is read, and a period that is not a multiple of
it answers no datapoints, as CloudWatch does for data older than its fine retention.

Lambda's dimensions: none (account-wide), ``FunctionName``, and ``Resource`` (``name`` or
``name:qualifier``); an event source mapping's counts under ``EventSourceMappingUUID``;
EventBridge's rule metrics under ``RuleName`` (or none, the account's rules together).
Counters are published as one value of 1 per event, as Lambda does, so their Average,
Minimum and Maximum are 1 and SampleCount equals Sum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Sum

from monitoring.metrics import selectors
from monitoring.metrics.custom_selectors import custom_points_read, custom_series_list
from monitoring.metrics.custom_services import Dimensions, SeriesName
from monitoring.metrics.models import CounterPoint, MetricPoint
from monitoring.metrics.points import Point
from monitoring.metrics.services import MINUTE

BASIC_STATS = selectors.BASIC_STATS
_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d+)?)$")


def percentile_of(stat: str) -> float | None:
    """The percentile a ``pNN`` / ``pNN.NN`` statistic names (0-100), else None."""
    match = _PERCENTILE.match(stat)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0 <= value <= 100 else None


def valid_stat(stat: str) -> bool:
    return stat in BASIC_STATS or percentile_of(stat) is not None


@dataclass(frozen=True)
class MetricId:
    """A metric: namespace, name and dimensions (sorted by name)."""

    namespace: str
    metric_name: str
    dimensions: Dimensions = ()

    @property
    def custom(self) -> bool:
        return not self.namespace.startswith("AWS/")


@dataclass
class Datapoint:
    timestamp: int  # the period's start, epoch seconds
    unit: str
    values: dict[str, float] = field(default_factory=dict)  # statistic -> value


def _counter_series(metric: MetricId, named: dict[str, str]) -> tuple[str, str] | None:
    """(dimension, value) of a series kept as counters (event source mappings' and rules'
    metrics); None for any other metric or dimensions."""
    if metric.namespace == "AWS/Lambda" and metric.metric_name in selectors.MAPPING_METRICS:
        dimension = selectors.MAPPING_DIMENSION
    elif (
        metric.namespace == selectors.EVENTS_NAMESPACE
        and metric.metric_name in selectors.RULE_METRICS
    ):
        if not named:
            return "", ""  # the account's rules together
        dimension = selectors.RULE_DIMENSION
    else:
        return None
    if named.keys() != {dimension}:
        return None
    return dimension, named[dimension]


def _function_series(named: dict[str, str]) -> tuple[str, str] | None:
    """(function name, qualifier) of Lambda's dimensions; None when no such series exists."""
    if not named:
        return "", ""
    if named.keys() == {"FunctionName"}:
        return named["FunctionName"], ""
    if named.keys() <= {"FunctionName", "Resource"} and "Resource" in named:
        function_name, _, qualifier = named["Resource"].partition(":")
        if named.get("FunctionName", function_name) != function_name:
            return None
        return function_name, qualifier
    return None


def _counter_values(count: int, wanted: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for stat in wanted:
        if stat in ("Sum", "SampleCount"):
            values[stat] = float(count)
        elif count:
            values[stat] = 1.0
    return values


def _function_values(metric: str, point: Point, wanted: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for stat in wanted:
        value: float | None
        if stat not in BASIC_STATS:
            value = selectors.stat_value(point, metric, stat) if metric == "Duration" else None
        elif metric in selectors.COUNTERS:
            count = selectors.stat_value(point, metric, "Sum") or 0.0
            value = {"Sum": count, "SampleCount": count}.get(stat, 1.0 if count else None)
        elif metric == "ConcurrentExecutions":
            value = point.concurrency_max if stat in ("Maximum", "Average", "Minimum") else 1.0
        else:
            value = selectors.stat_value(point, metric, stat)
        if value is not None:
            values[stat] = float(value)
    return values


def _platform(
    account_id: str,
    metric: MetricId,
    resolution: int,
    start: int,
    end: int,
    period: int,
    statistics: Sequence[str],
    unit: str | None,
) -> list[Datapoint]:
    named = dict(metric.dimensions)
    name = metric.metric_name
    counter = _counter_series(metric, named)
    if counter is not None:
        if unit not in (None, "Count"):
            return []
        basic = [stat for stat in statistics if stat in BASIC_STATS]
        if not basic:
            return []
        counts = selectors.counters_read(
            account_id, metric.namespace, *counter, name, resolution, start, end, period
        )
        return [
            Datapoint(timestamp, "Count", _counter_values(count, basic))
            for timestamp, count in sorted(counts.items())
            if count
        ]
    series = _function_series(named)
    if (
        metric.namespace != "AWS/Lambda"
        or name not in selectors.METRICS
        or name in selectors.MAPPING_METRICS
        or series is None
    ):
        return []
    metric_unit = "Milliseconds" if name in selectors.DISTRIBUTIONS else "Count"
    if unit not in (None, metric_unit):
        return []
    periods = selectors.points_read(
        account_id,
        series[0],
        series[1],
        resolution,
        start,
        end,
        period,
        with_sketch=any(stat not in BASIC_STATS for stat in statistics),
    )
    found = []
    for timestamp, point in sorted(periods.items()):
        if (
            name in selectors.DISTRIBUTIONS
            and not getattr(point, selectors.DISTRIBUTIONS[name]).count
        ):
            continue  # a minute with only a running invocation has no Duration sample yet
        values = _function_values(name, point, statistics)
        if values:
            found.append(Datapoint(timestamp, metric_unit, values))
    return found


def _custom(
    account_id: str,
    metric: MetricId,
    resolution: int,
    start: int,
    end: int,
    period: int,
    statistics: Sequence[str],
    unit: str | None,
) -> list[Datapoint]:
    percentiles = {stat: percentile_of(stat) for stat in statistics if stat not in BASIC_STATS}
    periods = custom_points_read(
        account_id,
        SeriesName(metric.namespace, metric.metric_name, metric.dimensions),
        unit=unit,
        resolution=resolution,
        start=start,
        end=end,
        period=period,
        with_sketch=bool(percentiles),
    )
    found = []
    for timestamp, stored in sorted(periods.items()):
        aggregate = stored.aggregate
        if aggregate.sample_count <= 0:
            continue
        every = {
            "Sum": aggregate.sum,
            "SampleCount": aggregate.sample_count,
            "Average": aggregate.sum / aggregate.sample_count,
            "Minimum": aggregate.minimum,
            "Maximum": aggregate.maximum,
        }
        values = {stat: every[stat] for stat in statistics if stat in every}
        # Percentiles only when every sample is in the sketch (no statistic sets with
        # spread, no negative values), as CloudWatch answers them.
        if aggregate.sketched >= aggregate.sample_count:
            for stat, percentile in percentiles.items():
                if percentile is None:
                    continue
                estimate = aggregate.sketch.quantile(percentile / 100)
                if estimate is not None:
                    values[stat] = min(max(estimate, aggregate.minimum), aggregate.maximum)
        shown_unit = next(iter(stored.units)) if len(stored.units) == 1 else "None"
        found.append(Datapoint(timestamp, shown_unit, values))
    return found


def datapoints(
    account_id: str,
    metric: MetricId,
    *,
    start: float,
    end: float,
    period: int,
    statistics: Sequence[str],
    unit: str | None = None,
    now: float,
) -> list[Datapoint]:
    """The datapoints of ``metric`` in the account, one per period in [start, end) that has
    data, ascending, each with the ``statistics`` known for it (``Sum``, ..., ``pNN``)."""
    resolution = selectors.resolution_for(start, now)
    if period % resolution:
        return []
    aligned = int(start) // resolution * resolution
    read = _custom if metric.custom else _platform
    return read(account_id, metric, resolution, aligned, math.ceil(end), period, statistics, unit)


# ---- which metrics exist -----------------------------------------------------------------

# A function's invocation publishes these together, as Lambda does (Errors even when 0).
_WITH_INVOCATIONS = ("Invocations", "Errors", "Duration")


def _function_dimensions(function_name: str, qualifier: str) -> Dimensions:
    if not function_name:
        return ()
    if not qualifier:
        return (("FunctionName", function_name),)
    return (("FunctionName", function_name), ("Resource", f"{function_name}:{qualifier}"))


def _platform_list(account_id: str, since: int) -> list[MetricId]:
    """Lambda's and EventBridge's metrics with data since ``since`` in the account: per
    function (``FunctionName``), per version or alias invoked (``FunctionName`` and
    ``Resource``) and account-wide (no dimension); mappings' and rules' counts."""
    counters = list(selectors.COUNTERS.items())
    distributions = list(selectors.DISTRIBUTIONS.items())
    sums = {
        **{f"c_{i}": Sum(column) for i, (_, column) in enumerate(counters)},
        **{f"d_{i}": Sum(f"{column}_count") for i, (_, column) in enumerate(distributions)},
        "concurrency": Max("concurrency_max"),
    }
    rows: Any = (
        MetricPoint.objects.filter(account_id=account_id, resolution=MINUTE, timestamp__gte=since)
        .values("function_name", "qualifier")
        .annotate(**sums)
        .order_by()
    )
    found: list[MetricId] = []
    for row in rows:
        names: set[str] = set()
        names.update(name for i, (name, _) in enumerate(counters) if row[f"c_{i}"])
        names.update(name for i, (name, _) in enumerate(distributions) if row[f"d_{i}"])
        if row["concurrency"]:
            names.add("ConcurrentExecutions")
        if "Invocations" in names:
            names.update(_WITH_INVOCATIONS)
        dimensions = _function_dimensions(row["function_name"], row["qualifier"])
        found += [MetricId("AWS/Lambda", name, dimensions) for name in names]
    counted: Any = (
        CounterPoint.objects.filter(account_id=account_id, resolution=MINUTE, timestamp__gte=since)
        .values("namespace", "dimension", "series", "metric")
        .annotate(total=Sum("value"))
        .order_by()
    )
    for row in counted:
        if row["total"]:
            pairs: Dimensions = ((row["dimension"], row["series"]),) if row["dimension"] else ()
            found.append(MetricId(row["namespace"], row["metric"], pairs))
    return found


def metrics_list(
    account_id: str,
    *,
    since: int,
    received_since: int | None = None,
    namespace: str | None = None,
    metric_name: str | None = None,
) -> list[MetricId]:
    """Every metric of the account with data since ``since`` (custom ones: that also
    received data since ``received_since``), sorted by namespace, name and dimensions."""
    found: list[MetricId] = []
    if namespace is None or namespace.startswith("AWS/"):
        platform = _platform_list(account_id, max(since, received_since or since))
        found += [
            metric
            for metric in platform
            if namespace in (None, metric.namespace) and metric_name in (None, metric.metric_name)
        ]
    if namespace is None or not namespace.startswith("AWS/"):
        found += [
            MetricId(name.namespace, name.metric_name, name.dimensions)
            for name in custom_series_list(
                account_id,
                since=since,
                received_since=received_since,
                namespace=namespace,
                metric_name=metric_name,
            )
        ]
    return sorted(set(found), key=lambda m: (m.namespace, m.metric_name, m.dimensions))
