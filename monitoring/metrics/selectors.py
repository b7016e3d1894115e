"""Reads for metrics: a series of one statistic at a period, for one account only.

The finest stored resolution whose retention still covers ``start`` is read (1 minute for
15 days, 5 minutes for 63 days, 1 hour for 455 days) and its points are merged per period,
so every statistic, percentiles included, comes from merged points and sketches.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from awsapi.errors import InvalidParameterValue
from functions.selectors import function_get_for_account
from iam.models import Account
from monitoring.metrics.models import CounterPoint, MetricPoint
from monitoring.metrics.points import Point, Stat
from monitoring.metrics.services import (
    DAY,
    FIVE_MINUTES,
    HOUR,
    MINUTE,
    RETENTION_SECONDS,
    ROLLUP_SOURCE,
)

MAX_DATAPOINTS = 1440
DEFAULT_PERIODS = (MINUTE, FIVE_MINUTES, 900, HOUR, 6 * HOUR, DAY)
BASIC_STATS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
# Metric name -> Point attribute.
COUNTERS = {
    "Invocations": "invocations",
    "Errors": "errors",
    "Throttles": "throttles",
    "ColdStarts": "cold_starts",
    "DeadLetterErrors": "dead_letter_errors",
    "DestinationDeliveryFailures": "destination_delivery_failures",
    "AsyncEventsReceived": "async_events_received",
    "AsyncEventsDropped": "async_events_dropped",
    "UrlRequestCount": "url_requests",
    "Url4xxCount": "url_4xx",
    "Url5xxCount": "url_5xx",
}
DISTRIBUTIONS = {
    "Duration": "duration",
    "InitDuration": "init",
    "IteratorAge": "iterator_age",
    "AsyncEventAge": "async_event_age",
    "UrlRequestLatency": "url_latency",
}
# Event source mapping metrics (AWS/Lambda, dimension EventSourceMappingUUID), stored as
# counters (``CounterPoint``), published only for mappings whose MetricsConfig asks.
MAPPING_DIMENSION = "EventSourceMappingUUID"
MAPPING_METRICS = (
    "PolledEventCount",
    "FilteredOutEventCount",
    "InvokedEventCount",
    "FailedInvokeEventCount",
    "DroppedEventCount",
    "DeletedEventCount",
    "OnFailureDestinationDeliveredEventCount",
)
# EventBridge rules' metrics (AWS/Events, dimension RuleName), also counters.
EVENTS_NAMESPACE = "AWS/Events"
RULE_DIMENSION = "RuleName"
RULE_METRICS = (
    "TriggeredRules",
    "MatchedEvents",
    "Invocations",
    "FailedInvocations",
    "RetryInvocationAttempts",
    "InvocationsSentToDlq",
    "InvocationsFailedToBeSentToDlq",
)
METRICS = (*COUNTERS, *DISTRIBUTIONS, "ConcurrentExecutions", *MAPPING_METRICS)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,3})?)$")
_QUALIFIER = re.compile(r"^[a-zA-Z0-9$_-]{1,128}$")


@dataclass(frozen=True)
class MetricQuery:
    function_name: str | None  # None: account-wide (or a mapping's series)
    qualifier: str | None  # None: the whole function
    metric: str
    stat: str
    period: int
    start: int  # epoch seconds, aligned to ``period``
    end: int  # epoch seconds, exclusive
    resolution: int
    # An event source mapping's UUID, for its metrics (MAPPING_METRICS).
    mapping: str | None = None

    @property
    def unit(self) -> str:
        return (
            "Count"
            if self.metric in COUNTERS
            or self.metric in MAPPING_METRICS
            or self.metric == "ConcurrentExecutions"
            else ("Milliseconds")
        )


@dataclass(frozen=True)
class MetricSeries:
    query: MetricQuery
    timestamps: list[int]
    values: list[float | None]


def _time(params: Mapping[str, str], name: str, default: float) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidParameterValue(
            f"{name} must be an ISO 8601 timestamp, e.g. 2019-03-01T12:00:00Z."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def resolution_for(start: float, now: float) -> int:
    """The finest resolution still kept for a point at ``start``."""
    return next((r for r, keep in sorted(RETENTION_SECONDS.items()) if start >= now - keep), HOUR)


def _stats_of(metric: str) -> tuple[str, ...]:
    if metric in COUNTERS or metric in MAPPING_METRICS:
        return ("Sum",)
    if metric == "ConcurrentExecutions":
        return ("Maximum",)
    return BASIC_STATS


def _check_stat(metric: str, stat: str) -> None:
    if stat in _stats_of(metric):
        return
    match = _PERCENTILE.match(stat)
    if metric == "Duration" and match and 0 < float(match.group(1)) < 100:
        return
    allowed = ", ".join(_stats_of(metric)) + (
        " or a percentile such as p99" if metric == "Duration" else ""
    )
    raise InvalidParameterValue(f"Statistic {stat} is not available for {metric}: use {allowed}.")


def metric_query_parse(params: Mapping[str, str], now: float | None = None) -> MetricQuery:
    """Validate query parameters (defaults: the last hour, the finest period available)."""
    now = time.time() if now is None else now
    metric = params.get("metric", "")
    if metric not in METRICS:
        raise InvalidParameterValue(f"metric must be one of {', '.join(METRICS)}.")
    stat = params.get("stat") or (
        "Sum"
        if metric in COUNTERS or metric in MAPPING_METRICS
        else "Maximum"
        if metric == "ConcurrentExecutions"
        else "Average"
    )
    _check_stat(metric, stat)
    function_name = params.get("function") or None
    qualifier = params.get("qualifier") or None
    if qualifier is not None and (function_name is None or not _QUALIFIER.match(qualifier)):
        raise InvalidParameterValue(
            "qualifier must be a version or alias name of the function given as function."
        )
    mapping = (params.get("mapping") or "").lower() or None
    if metric in MAPPING_METRICS:
        if mapping is None or not _UUID.match(mapping) or function_name or qualifier:
            raise InvalidParameterValue(
                f"{metric} is a metric of an event source mapping: give its UUID as mapping "
                "(and no function)."
            )
    elif mapping is not None:
        raise InvalidParameterValue(
            f"mapping is only for an event source mapping's metrics: {', '.join(MAPPING_METRICS)}."
        )
    end = _time(params, "end", now)
    start = _time(params, "start", end - HOUR)
    if start >= end:
        raise InvalidParameterValue("start must be before end.")
    resolution = resolution_for(start, now)
    raw_period = params.get("period")
    if raw_period in (None, ""):
        period = next(
            (
                p
                for p in DEFAULT_PERIODS
                if p % resolution == 0 and (end - start) / p <= MAX_DATAPOINTS
            ),
            DEFAULT_PERIODS[-1],
        )
    else:
        try:
            period = int(raw_period)
        except ValueError:
            raise InvalidParameterValue("period must be a whole number of seconds.") from None
        if period < MINUTE or period % MINUTE:
            raise InvalidParameterValue("period must be a positive multiple of 60 seconds.")
        if period % resolution:
            older = RETENTION_SECONDS[ROLLUP_SOURCE[resolution]]
            raise InvalidParameterValue(
                f"period must be a multiple of {resolution} seconds for data older than "
                f"{older // DAY} days."
            )
    aligned = int(start) // period * period
    if (end - aligned) / period > MAX_DATAPOINTS:
        raise InvalidParameterValue(
            f"Too many datapoints requested: at most {MAX_DATAPOINTS} periods per query; "
            "use a larger period or a shorter range."
        )
    return MetricQuery(
        function_name=function_name,
        qualifier=qualifier,
        metric=metric,
        stat=stat,
        period=period,
        start=aligned,
        end=math.ceil(end),
        resolution=resolution,
        mapping=mapping,
    )


def stat_value(point: Point | None, metric: str, stat: str) -> float | None:
    """One statistic of a (merged) point; no point means nothing was recorded."""
    if metric in COUNTERS:
        return float(getattr(point, COUNTERS[metric])) if point else 0.0
    if metric == "ConcurrentExecutions":
        return float(point.concurrency_max) if point else None
    values: Stat = getattr(point, DISTRIBUTIONS[metric]) if point else Stat()
    if stat == "Sum":
        return values.sum
    if stat == "SampleCount":
        return float(values.count)
    if values.count == 0:
        return None
    if stat == "Average":
        return values.sum / values.count
    if stat == "Minimum":
        return values.min
    if stat == "Maximum":
        return values.max
    assert point is not None and values.min is not None and values.max is not None
    estimate = point.duration_sketch.quantile(float(stat[1:]) / 100)
    if estimate is None:
        return None
    # The true quantile lies within [min, max]; clamping only brings the estimate closer.
    return min(max(estimate, values.min), values.max)


def metric_series(account: Account, query: MetricQuery) -> MetricSeries:
    """The series ``query`` asks for, in ``account`` only (404 for another's function;
    another account's mapping has no points in this one)."""
    if query.mapping is not None:
        counts = counters_read(
            account.id,
            "AWS/Lambda",
            MAPPING_DIMENSION,
            query.mapping,
            query.metric,
            query.resolution,
            query.start,
            query.end,
            query.period,
        )
        timestamps = list(range(query.start, query.end, query.period))
        return MetricSeries(
            query=query,
            timestamps=timestamps,
            values=[float(counts.get(ts, 0)) for ts in timestamps],
        )
    function_name = ""
    if query.function_name is not None:
        function_name = function_get_for_account(account, query.function_name).name
    return series_read(account.id, function_name, query)


def series_read(account_id: str, function_name: str, query: MetricQuery) -> MetricSeries:
    """The stored points of one series merged per period (no permission check)."""
    periods = points_read(
        account_id,
        function_name,
        query.qualifier or "",
        query.resolution,
        query.start,
        query.end,
        query.period,
        with_sketch=query.stat.startswith("p"),
    )
    timestamps = list(range(query.start, query.end, query.period))
    return MetricSeries(
        query=query,
        timestamps=timestamps,
        values=[stat_value(periods.get(ts), query.metric, query.stat) for ts in timestamps],
    )


def points_read(
    account_id: str,
    function_name: str,
    qualifier: str,
    resolution: int,
    start: int,
    end: int,
    period: int,
    *,
    with_sketch: bool,
) -> dict[int, Point]:
    """Stored points of one series in [start, end), merged per period (by period start)."""
    rows = MetricPoint.objects.filter(
        account_id=account_id,
        function_name=function_name,
        qualifier=qualifier,
        resolution=resolution,
        timestamp__gte=start,
        timestamp__lt=end,
    )
    if not with_sketch:
        rows = rows.defer("duration_sketch")
    periods: dict[int, Point] = {}
    for row in rows:
        bucket = row.timestamp // period * period
        point = Point.from_row(row, with_sketch=with_sketch)
        if bucket in periods:
            periods[bucket].merge(point)
        else:
            periods[bucket] = point
    return periods


def counters_read(
    account_id: str,
    namespace: str,
    dimension: str,
    series: str,
    metric: str,
    resolution: int,
    start: int,
    end: int,
    period: int,
) -> dict[int, int]:
    """One stored counter of one series in [start, end), summed per period (by its start)."""
    rows = CounterPoint.objects.filter(
        account_id=account_id,
        namespace=namespace,
        dimension=dimension,
        series=series,
        metric=metric,
        resolution=resolution,
        timestamp__gte=start,
        timestamp__lt=end,
    ).values_list("timestamp", "value")
    periods: dict[int, int] = {}
    for timestamp, value in rows:
        bucket = timestamp // period * period
        periods[bucket] = periods.get(bucket, 0) + value
    return periods
