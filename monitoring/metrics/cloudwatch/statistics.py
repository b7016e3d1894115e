"""GetMetricStatistics: one metric's statistics per period, Lambda's, EventBridge's or a
custom namespace's (``reading.datapoints``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from monitoring.metrics import reading, selectors
from monitoring.metrics.cloudwatch import params as p
from monitoring.metrics.services import MINUTE


def moment(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def get_metric_statistics(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    for name in ("Namespace", "MetricName", "StartTime", "EndTime", "Period"):
        if name not in params:
            raise p.missing(name)
    start = p.timestamp(params["StartTime"], "StartTime")
    end = p.timestamp(params["EndTime"], "EndTime")
    period = params["Period"]
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise p.invalid("The parameter Period must be a positive integer.")
    if period % MINUTE:
        raise p.invalid("The parameter Period must be a multiple of 60.")
    statistics = p.members(params.get("Statistics"), "Statistics")
    extended = p.members(params.get("ExtendedStatistics"), "ExtendedStatistics")
    if bool(statistics) == bool(extended):
        raise p.error(
            "InvalidParameterCombinationException",
            "Must specify either Statistics or ExtendedStatistics, but not both.",
        )
    for stat in statistics:
        if stat not in reading.BASIC_STATS:
            raise p.invalid(f"The parameter Statistics contains an invalid value: {stat}.")
    for stat in extended:
        if not isinstance(stat, str) or reading.percentile_of(stat) is None:
            raise p.invalid(f"The parameter ExtendedStatistics contains an invalid value: {stat}.")
    if start >= end:
        raise p.invalid("The parameter StartTime must be less than the parameter EndTime.")
    resolution = selectors.resolution_for(start, now)
    aligned = int(start) // resolution * resolution
    requested = math.ceil((end - aligned) / period)
    if requested > selectors.MAX_DATAPOINTS:
        raise p.error(
            "InvalidParameterCombinationException",
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{selectors.MAX_DATAPOINTS:,}. You may reduce the datapoints requested by "
            "increasing Period, or decreasing the time range.",
        )
    metric_name = p.string(params["MetricName"], "MetricName")
    metric = reading.MetricId(
        p.string(params["Namespace"], "Namespace"),
        metric_name,
        p.dimensions(params.get("Dimensions"), "Dimensions"),
    )
    unit = params.get("Unit")
    found = reading.datapoints(
        account_id,
        metric,
        start=start,
        end=end,
        period=period,
        statistics=[*statistics, *extended],
        unit=unit if isinstance(unit, str) else None,
        now=now,
    )
    points = []
    for datapoint in found:
        answer: dict[str, Any] = {"Timestamp": moment(datapoint.timestamp), "Unit": datapoint.unit}
        answer.update({s: datapoint.values[s] for s in statistics if s in datapoint.values})
        known = {s: datapoint.values[s] for s in extended if s in datapoint.values}
        if known:
            answer["ExtendedStatistics"] = known
        if len(answer) > 2:
            points.append(answer)
    return {"Label": metric_name, "Datapoints": points}
