"""PutMetricData: an account publishes datapoints of its own (custom) metrics.

Validated as CloudWatch does (its limits: 1,000 metric data per call, 30 dimensions, 150
values per datum, timestamps from two weeks ago to two hours ahead, values finite and
within 2^±360, ``AWS/`` namespaces reserved), then stored as per-minute aggregates by
``custom_services``. High-resolution data (``StorageResolution`` 1) is accepted and kept at
one minute, the finest resolution stored here.
"""

from __future__ import annotations

import re
from typing import Any

from monitoring.metrics import custom_services
from monitoring.metrics.cloudwatch import params as p
from monitoring.metrics.custom_services import Aggregate, PointKey, SeriesName
from monitoring.metrics.services import DAY, HOUR, MINUTE

MAX_METRIC_DATA = 1000
MAX_VALUES = 150
MAX_MAGNITUDE = 2.0**360
MIN_MAGNITUDE = 2.0**-360
PAST_SECONDS = 14 * DAY
FUTURE_SECONDS = 2 * HOUR
UNITS = frozenset(
    (
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
        "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
        "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
        "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
        "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    )
)  # fmt: skip
_NAMESPACE = re.compile(r"^[0-9A-Za-z.\-_/#: ]{1,255}$")


def _value(raw: Any, name: str) -> float:
    """A DatapointValue: a finite number of magnitude 2^-360 to 2^360 (or zero)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise p.invalid(f"The parameter {name} must be a number.")
    if isinstance(raw, int):
        if abs(raw) > MAX_MAGNITUDE:
            raise p.invalid_value(raw, name)
        raw = float(raw)
    if raw != raw or raw in (float("inf"), float("-inf")):
        raise p.invalid_value(raw, name)
    if abs(raw) > MAX_MAGNITUDE or 0 < abs(raw) < MIN_MAGNITUDE:
        raise p.invalid_value(raw, name)
    return float(raw)


def _statistics(raw: Any, name: str) -> tuple[float, float, float, float]:
    if not isinstance(raw, dict):
        raise p.invalid(f"The parameter {name} must be a structure.")
    for member in ("SampleCount", "Sum", "Minimum", "Maximum"):
        if member not in raw:
            raise p.missing(f"{name}.{member}")
    count = _value(raw["SampleCount"], f"{name}.SampleCount")
    total = _value(raw["Sum"], f"{name}.Sum")
    low = _value(raw["Minimum"], f"{name}.Minimum")
    high = _value(raw["Maximum"], f"{name}.Maximum")
    if count <= 0:
        raise p.invalid(f"The parameter {name}.SampleCount must be greater than 0.")
    if low > high:
        raise p.invalid(
            f"The parameter {name}.Minimum must be less than or equal to {name}.Maximum."
        )
    return count, total, low, high


def _datum(
    raw: Any, where: str, namespace: str, now: float, points: dict[PointKey, Aggregate]
) -> None:
    if not isinstance(raw, dict):
        raise p.invalid(f"The parameter {where} must be a structure.")
    if "MetricName" not in raw:
        raise p.missing(f"{where}.MetricName")
    name = SeriesName(
        namespace,
        p.string(raw["MetricName"], f"{where}.MetricName"),
        p.dimensions(raw.get("Dimensions"), f"{where}.Dimensions"),
    )
    timestamp = now
    if raw.get("Timestamp") is not None:
        timestamp = p.timestamp(raw["Timestamp"], f"{where}.Timestamp")
        if not now - PAST_SECONDS <= timestamp <= now + FUTURE_SECONDS:
            raise p.invalid(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks "
                "in the past and no more than two hours in the future."
            )
    unit = raw.get("Unit")
    if unit is None:
        unit = "None"
    elif not isinstance(unit, str) or unit not in UNITS:
        raise p.invalid_value(unit, f"{where}.Unit")
    resolution = raw.get("StorageResolution")
    if resolution is not None and (isinstance(resolution, bool) or resolution not in (1, 60)):
        raise p.invalid_value(resolution, f"{where}.StorageResolution")
    given = [
        member for member in ("Value", "StatisticValues", "Values") if raw.get(member) is not None
    ]
    if len(given) > 1:
        raise p.error(
            "InvalidParameterCombinationException",
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both.",
        )
    if raw.get("Counts") is not None and given != ["Values"]:
        raise p.error(
            "InvalidParameterCombinationException",
            f"The parameter {where}.Counts may only be given with {where}.Values.",
        )
    if not given:
        raise p.error(
            "InvalidParameterCombinationException",
            f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
            f"{where}.Values must be specified.",
        )
    aggregate = Aggregate()
    if given == ["Value"]:
        aggregate.add(_value(raw["Value"], f"{where}.Value"))
    elif given == ["StatisticValues"]:
        aggregate.add_statistics(*_statistics(raw["StatisticValues"], f"{where}.StatisticValues"))
    else:
        values = p.members(raw["Values"], f"{where}.Values")
        counts = p.members(raw.get("Counts"), f"{where}.Counts")
        if len(values) > MAX_VALUES:
            raise p.invalid(
                f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
            )
        if counts and len(counts) != len(values):
            raise p.error(
                "InvalidParameterCombinationException",
                f"The parameters {where}.Values and {where}.Counts must be of the same size.",
            )
        for index, raw_value in enumerate(values, 1):
            value = _value(raw_value, f"{where}.Values.member.{index}")
            count = 1.0
            if counts:
                count = _value(counts[index - 1], f"{where}.Counts.member.{index}")
                if count < 0:
                    raise p.invalid_value(counts[index - 1], f"{where}.Counts.member.{index}")
            if count:
                aggregate.add(value, count)
    if aggregate.sample_count <= 0:
        return  # every count was zero: nothing to record
    key = (name, unit, int(timestamp) // MINUTE * MINUTE)
    found = points.get(key)
    if found is None:
        points[key] = aggregate
    else:
        found.merge(aggregate)


def put_metric_data(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    if "Namespace" not in params:
        raise p.missing("Namespace")
    namespace = p.string(params["Namespace"], "Namespace")
    if not _NAMESPACE.match(namespace) or namespace.startswith(":"):
        raise p.invalid_value(namespace, "Namespace")
    if namespace.startswith("AWS/"):
        raise p.invalid(
            f"The value {namespace} for parameter Namespace is invalid: the AWS/ prefix is "
            "reserved for AWS services' metrics."
        )
    data: list[tuple[str, Any]] = [
        (f"MetricData.member.{index}", raw)
        for index, raw in enumerate(p.members(params.get("MetricData"), "MetricData"), 1)
    ]
    for entity_index, entity in enumerate(
        p.members(params.get("EntityMetricData"), "EntityMetricData"), 1
    ):
        # The entity (what the data is about) is accepted and not kept.
        inner = entity.get("MetricData") if isinstance(entity, dict) else None
        where = f"EntityMetricData.member.{entity_index}.MetricData"
        data += [
            (f"{where}.member.{index}", raw) for index, raw in enumerate(p.members(inner, where), 1)
        ]
    if not data:
        raise p.missing("MetricData")
    if len(data) > MAX_METRIC_DATA:
        raise p.invalid(
            f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA}."
        )
    points: dict[PointKey, Aggregate] = {}
    for where, raw in data:
        _datum(raw, where, namespace, now, points)
    custom_services.custom_data_store(account_id, points, now=now)
    return {}
