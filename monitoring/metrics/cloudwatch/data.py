"""GetMetricData: metric queries and math expressions (``metric_data``), in pages.

Results come in request order, each one's datapoints newest first (``ScanBy``
``TimestampDescending``, the default) or oldest first. A page holds at most
``MaxDatapoints`` datapoints (default and most 100,800); the rest is asked for with the
``NextToken`` the page ends with, and a result cut by the page says ``PartialData``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from monitoring.metrics import metric_data, reading
from monitoring.metrics.cloudwatch import params as p
from monitoring.metrics.cloudwatch.put import UNITS
from monitoring.metrics.metric_data import DataQuery, DataResult, MetricStat

MAX_DATAPOINTS = 100_800
SCAN_ORDERS = ("TimestampDescending", "TimestampAscending")


def query_parse(raw: Any, where: str) -> DataQuery:
    if not isinstance(raw, dict):
        raise p.validation(f"The parameter {where} must be a structure.")
    if "Id" not in raw:
        raise p.missing(f"{where}.Id")
    query_id = raw["Id"]
    if not isinstance(query_id, str):
        raise p.validation(f"The parameter {where}.Id must be a string.")
    stat: MetricStat | None = None
    if raw.get("MetricStat") is not None:
        stat = _metric_stat(raw["MetricStat"], f"{where}.MetricStat")
    expression = raw.get("Expression")
    if expression is not None and not isinstance(expression, str):
        raise p.validation(f"The parameter {where}.Expression must be a string.")
    label = raw.get("Label")
    if label is not None and not isinstance(label, str):
        raise p.validation(f"The parameter {where}.Label must be a string.")
    return_data = raw.get("ReturnData", True)
    if not isinstance(return_data, bool):
        raise p.validation(f"The parameter {where}.ReturnData must be a boolean.")
    period = None
    if raw.get("Period") is not None:
        period = p.integer(raw["Period"], f"{where}.Period")
    return DataQuery(
        id=query_id,
        metric_stat=stat,
        expression=expression,
        label=label or None,
        return_data=return_data,
        period=period,
    )


def _metric_stat(raw: Any, where: str) -> MetricStat:
    if not isinstance(raw, dict):
        raise p.validation(f"The parameter {where} must be a structure.")
    for member in ("Metric", "Period", "Stat"):
        if member not in raw:
            raise p.missing(f"{where}.{member}")
    metric = raw["Metric"]
    if not isinstance(metric, dict):
        raise p.validation(f"The parameter {where}.Metric must be a structure.")
    for member in ("Namespace", "MetricName"):
        if member not in metric:
            raise p.missing(f"{where}.Metric.{member}")
    unit = raw.get("Unit")
    if unit is not None and (not isinstance(unit, str) or unit not in UNITS):
        raise p.invalid_value(unit, f"{where}.Unit")
    stat = raw["Stat"]
    if not isinstance(stat, str):
        raise p.validation(f"The parameter {where}.Stat must be a string.")
    return MetricStat(
        metric=reading.MetricId(
            p.string(metric["Namespace"], f"{where}.Metric.Namespace"),
            p.string(metric["MetricName"], f"{where}.Metric.MetricName"),
            p.dimensions(metric.get("Dimensions"), f"{where}.Metric.Dimensions"),
        ),
        period=p.integer(raw["Period"], f"{where}.Period"),
        stat=stat,
        unit=unit,
    )


def _moment(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _page(
    results: list[DataResult], ascending: bool, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The results' datapoints from ``offset`` on, at most ``limit`` of them, and the
    offset of the next page (None: this is the last)."""
    page: list[dict[str, Any]] = []
    end = offset + limit
    total = sum(len(result.timestamps) for result in results)
    following = end if total > end else None
    position = 0
    for result in results:
        count = len(result.timestamps)
        first, last = position, position + count
        position = last
        if count:
            shown = first < end and last > offset
        else:  # an empty result goes on the page where its place falls
            shown = offset <= first and (first < end or following is None)
        if not shown:
            continue
        low, high = max(offset - first, 0), min(end - first, count)
        pairs = list(zip(result.timestamps, result.values, strict=True))
        if not ascending:
            pairs.reverse()
        chosen = pairs[low:high]
        entry: dict[str, Any] = {
            "Id": result.id,
            "Label": result.label,
            "Timestamps": [_moment(ts) for ts, _ in chosen],
            "Values": [value for _, value in chosen],
            "StatusCode": "PartialData" if high < count else "Complete",
        }
        if result.messages:
            entry["Messages"] = [{"Code": c, "Value": v} for c, v in result.messages]
        page.append(entry)
    return page, following


def get_metric_data(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    for name in ("MetricDataQueries", "StartTime", "EndTime"):
        if name not in params:
            raise p.missing(name)
    start = p.timestamp(params["StartTime"], "StartTime")
    end = p.timestamp(params["EndTime"], "EndTime")
    if start >= end:
        raise p.validation("The parameter StartTime must be less than the parameter EndTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if scan_by not in SCAN_ORDERS:
        raise p.validation(f"The value {scan_by} for parameter ScanBy is invalid.")
    limit = MAX_DATAPOINTS
    if params.get("MaxDatapoints") is not None:
        limit = p.integer(params["MaxDatapoints"], "MaxDatapoints")
        if limit < 1:
            raise p.validation(f"The value {limit} for parameter MaxDatapoints is invalid.")
        limit = min(limit, MAX_DATAPOINTS)
    raw_queries = p.members(params["MetricDataQueries"], "MetricDataQueries")
    if len(raw_queries) > metric_data.MAX_QUERIES:
        raise p.validation(
            "The collection MetricDataQueries must not have a size greater than "
            f"{metric_data.MAX_QUERIES}."
        )
    queries = [
        query_parse(raw, f"MetricDataQueries.member.{index}")
        for index, raw in enumerate(raw_queries, 1)
    ]
    digest = p.request_digest(params)
    offset = 0
    if params.get("NextToken") is not None:
        offset = p.token_decode(params["NextToken"], digest, code="InvalidNextToken")
    results = metric_data.metric_data_evaluate(account_id, queries, start=start, end=end, now=now)
    page, following = _page(results, scan_by == "TimestampAscending", offset, limit)
    answer: dict[str, Any] = {"MetricDataResults": page, "Messages": []}
    if following is not None:
        answer["NextToken"] = p.token_encode(following, digest)
    return answer
