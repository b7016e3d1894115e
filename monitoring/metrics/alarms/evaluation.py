"""How an alarm's latest datapoints decide its state, as CloudWatch documents it ("Evaluating
an alarm", "Configuring how CloudWatch alarms treat missing data"). Pure: no database.

The alarm looks at its last ``EvaluationPeriods`` (N) whole periods. Each is breaching, not
breaching or missing; ``TreatMissingData`` turns missing ones into breaching (``breaching``)
or not breaching (``notBreaching``), or leaves them missing (``missing``, ``ignore``). Then:

- at least ``DatapointsToAlarm`` (M) breaching periods: ALARM;
- every period missing: INSUFFICIENT_DATA (``missing``), or the state stays (``ignore``);
- otherwise: OK (fewer than M breach among the periods with data).

The band operators compare against a threshold metric's lower and upper values of the same
period; a period without them counts as missing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

STATIC_OPERATORS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
BAND_OPERATORS = {
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "less than the lower threshold",
    "GreaterThanUpperThreshold": "greater than the upper threshold",
}
# How many datapoints a reason and its data show (StateReason holds 1,023 characters and
# StateReasonData 4,000).
SHOWN_DATAPOINTS = 10
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")

BREACHING = "breaching"
NOT_BREACHING = "notBreaching"
MISSING = "missing"


@dataclass(frozen=True)
class Rule:
    comparison: str
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str = "missing"
    threshold: float | None = None  # static operators
    statistic: str | None = None  # for StateReasonData (single-metric alarms)
    period: int = 60


@dataclass(frozen=True)
class Datapoint:
    timestamp: int  # the period's start, epoch seconds
    value: float | None  # None: no data in the period
    lower: float | None = None  # the threshold metric's band, for the band operators
    upper: float | None = None


@dataclass(frozen=True)
class Verdict:
    state: str | None  # None: the state stays (``ignore`` with no data)
    reason: str
    reason_data: str


def breaches(rule: Rule, point: Datapoint) -> bool | None:
    """Whether a period's value crosses the threshold (None: it has no value to compare)."""
    value = point.value
    if value is None:
        return None
    operator = rule.comparison
    if operator in STATIC_OPERATORS:
        threshold = rule.threshold
        assert threshold is not None
        if operator == "GreaterThanOrEqualToThreshold":
            return value >= threshold
        if operator == "GreaterThanThreshold":
            return value > threshold
        if operator == "LessThanThreshold":
            return value < threshold
        return value <= threshold
    lower, upper = point.lower, point.upper
    if operator == "LessThanLowerThreshold":
        return None if lower is None else value < lower
    if operator == "GreaterThanUpperThreshold":
        return None if upper is None else value > upper
    if lower is None or upper is None:
        return None
    return value < lower or value > upper


def _moment(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _shown(point: Datapoint) -> str:
    """A datapoint as CloudWatch's reasons show it: ``2.0 (05/12/26 10:31:00)``."""
    return f"{point.value!r} ({_moment(point.timestamp).strftime('%d/%m/%y %H:%M:%S')})"


def iso(timestamp: float) -> str:
    """CloudWatch's timestamps in reason data and alarm events: ``2026-12-05T10:31:00.000+0000``."""
    moment = _moment(timestamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _listed(points: Sequence[Datapoint]) -> str:
    """The newest datapoints a reason shows (a day of minutes would not fit AWS's 1,023
    characters of StateReason)."""
    shown = ", ".join(_shown(point) for point in points[:SHOWN_DATAPOINTS])
    return shown + (", ..." if len(points) > SHOWN_DATAPOINTS else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _phrase(rule: Rule) -> str:
    if rule.comparison in STATIC_OPERATORS:
        return f"{STATIC_OPERATORS[rule.comparison]} the threshold ({rule.threshold!r})"
    return BAND_OPERATORS[rule.comparison]


def decide(rule: Rule, points: Sequence[Datapoint], *, now: float) -> Verdict:
    """The state ``points`` (the last N periods, oldest first) put the alarm in."""
    kinds: list[str] = []
    for point in points:
        crossed = breaches(rule, point)
        if crossed is None:
            kind = MISSING
            if rule.treat_missing_data == "breaching":
                kind = BREACHING
            elif rule.treat_missing_data == "notBreaching":
                kind = NOT_BREACHING
        else:
            kind = BREACHING if crossed else NOT_BREACHING
        kinds.append(kind)
    breaching = sum(kind == BREACHING for kind in kinds)
    present = [point for point in reversed(points) if point.value is not None]  # newest first
    data = _reason_data(rule, points, now=now)
    count = len(points)
    phrase = _phrase(rule)
    if breaching >= rule.datapoints_to_alarm:
        crossed_points = [
            point
            for point, kind in zip(reversed(points), reversed(kinds), strict=True)
            if kind == BREACHING and point.value is not None
        ]
        shown = _listed(crossed_points)
        verb = "was" if breaching == 1 else "were"
        return Verdict(
            ALARM,
            f"Threshold Crossed: {breaching} out of the last {count} datapoints "
            f"[{shown}] {verb} {phrase} (minimum "
            f"{_plural(rule.datapoints_to_alarm, 'datapoint')} for OK -> ALARM transition).",
            data,
        )
    if all(kind == MISSING for kind in kinds):
        verb = "was" if count == 1 else "were"
        reason = f"Insufficient Data: {_plural(count, 'datapoint')} {verb} unknown."
        state = INSUFFICIENT_DATA if rule.treat_missing_data == "missing" else None
        return Verdict(state, reason, data)
    shown = _listed(present)
    verb = "was" if len(present) == 1 else "were"
    return Verdict(
        OK,
        f"Threshold Crossed: {_plural(len(present), 'datapoint')} [{shown}] {verb} not {phrase}.",
        data,
    )


def _reason_data(rule: Rule, points: Sequence[Datapoint], *, now: float) -> str:
    newest_first = list(reversed(points))[:SHOWN_DATAPOINTS]
    document: dict[str, object] = {"version": "1.0", "queryDate": iso(now)}
    if points:
        document["startDate"] = iso(points[0].timestamp)
    if rule.statistic is not None:
        document["statistic"] = rule.statistic
    document["period"] = rule.period
    document["recentDatapoints"] = [
        point.value for point in points[-SHOWN_DATAPOINTS:] if point.value is not None
    ]
    if rule.threshold is not None:
        document["threshold"] = rule.threshold
    document["evaluatedDatapoints"] = [
        {
            "timestamp": iso(point.timestamp),
            **({} if point.value is None else {"value": point.value}),
        }
        for point in newest_first
    ]
    return json.dumps(document, separators=(",", ":"))
