"""ListMetrics: the metrics an account has data for in the last two weeks (``reading``),
filtered by namespace, name and dimensions, 500 a page as CloudWatch pages them."""

from __future__ import annotations

from typing import Any

from monitoring.metrics import reading
from monitoring.metrics.cloudwatch import params as p
from monitoring.metrics.services import DAY, HOUR

PAGE_SIZE = 500
LISTED_SECONDS = 14 * DAY
RECENT_SECONDS = 3 * HOUR
MAX_DIMENSION_FILTERS = 10


def _filters(raw: Any) -> list[tuple[str, str | None]]:
    items = p.members(raw, "Dimensions")
    if len(items) > MAX_DIMENSION_FILTERS:
        raise p.invalid(
            f"The collection Dimensions must not have a size greater than {MAX_DIMENSION_FILTERS}."
        )
    filters: list[tuple[str, str | None]] = []
    for index, item in enumerate(items, 1):
        where = f"Dimensions.member.{index}"
        if not isinstance(item, dict) or "Name" not in item:
            raise p.missing(f"{where}.Name")
        name = p.string(item["Name"], f"{where}.Name")
        value = item.get("Value")
        if value is not None:
            value = p.string(value, f"{where}.Value", max_length=p.MAX_DIMENSION_VALUE)
        filters.append((name, value))
    return filters


def _matches(metric: reading.MetricId, filters: list[tuple[str, str | None]]) -> bool:
    named = dict(metric.dimensions)
    return all(name in named and (value is None or named[name] == value) for name, value in filters)


def list_metrics(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    namespace = params.get("Namespace")
    if namespace is not None:
        namespace = p.string(namespace, "Namespace")
    metric_name = params.get("MetricName")
    if metric_name is not None:
        metric_name = p.string(metric_name, "MetricName")
    filters = _filters(params.get("Dimensions"))
    recently = params.get("RecentlyActive")
    if recently is not None and recently != "PT3H":
        raise p.invalid_value(recently, "RecentlyActive")
    # IncludeLinkedAccounts and OwningAccount: no account here is linked to another.
    digest = p.request_digest(params)
    offset = 0
    if params.get("NextToken") is not None:
        offset = p.token_decode(params["NextToken"], digest, code="InvalidParameterValueException")
    metrics = [
        metric
        for metric in reading.metrics_list(
            account_id,
            since=int(now) - LISTED_SECONDS,
            received_since=int(now) - RECENT_SECONDS if recently else None,
            namespace=namespace,
            metric_name=metric_name,
        )
        if _matches(metric, filters)
    ]
    page = metrics[offset : offset + PAGE_SIZE]
    answer: dict[str, Any] = {
        "Metrics": [
            {
                "Namespace": metric.namespace,
                "MetricName": metric.metric_name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in metric.dimensions],
            }
            for metric in page
        ]
    }
    if offset + PAGE_SIZE < len(metrics):
        answer["NextToken"] = p.token_encode(offset + PAGE_SIZE, digest)
    return answer
