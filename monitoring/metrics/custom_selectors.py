"""Reads for custom metrics: one series' aggregates per period, and the account's series."""

from __future__ import annotations

import json
from dataclasses import dataclass

from monitoring.metrics.custom_services import Aggregate, Dimensions, SeriesName
from monitoring.metrics.models import CustomMetric, CustomPoint


@dataclass
class Period:
    """One period's merged aggregate, and the units its data came with."""

    aggregate: Aggregate
    units: set[str]


def custom_points_read(
    account_id: str,
    name: SeriesName,
    *,
    unit: str | None,
    resolution: int,
    start: int,
    end: int,
    period: int,
    with_sketch: bool,
) -> dict[int, Period]:
    """The series' stored points in [start, end), merged per period (by period start);
    ``unit`` keeps only data published with that unit, as CloudWatch filters."""
    series_id = (
        CustomMetric.objects.filter(account_id=account_id, key=name.key())
        .values_list("pk", flat=True)
        .first()
    )
    if series_id is None:
        return {}
    rows = CustomPoint.objects.filter(
        series_id=series_id, resolution=resolution, timestamp__gte=start, timestamp__lt=end
    )
    if unit is not None:
        rows = rows.filter(unit=unit)
    if not with_sketch:
        rows = rows.defer("sketch")
    periods: dict[int, Period] = {}
    for row in rows.order_by("timestamp"):
        bucket = row.timestamp // period * period
        aggregate = Aggregate.from_row(row, with_sketch=with_sketch)
        found = periods.get(bucket)
        if found is None:
            periods[bucket] = Period(aggregate, {row.unit})
        else:
            found.aggregate.merge(aggregate)
            found.units.add(row.unit)
    return periods


def custom_series_list(
    account_id: str,
    *,
    since: int,
    received_since: int | None = None,
    namespace: str | None = None,
    metric_name: str | None = None,
) -> list[SeriesName]:
    """The account's custom metrics with data at or after ``since`` (and, when given,
    that received data at or after ``received_since``)."""
    rows = CustomMetric.objects.filter(account_id=account_id, last_timestamp__gte=since)
    if received_since is not None:
        rows = rows.filter(last_received__gte=received_since)
    if namespace is not None:
        rows = rows.filter(namespace=namespace)
    if metric_name is not None:
        rows = rows.filter(metric_name=metric_name)
    found = []
    for row_namespace, row_name, dimensions in rows.values_list(
        "namespace", "metric_name", "dimensions"
    ).iterator(chunk_size=2000):
        pairs: Dimensions = tuple((str(n), str(v)) for n, v in json.loads(dimensions))
        found.append(SeriesName(row_namespace, row_name, pairs))
    return found
