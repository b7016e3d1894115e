"""Writing alarms: PutMetricAlarm, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions,
tags; the state transitions (conditional UPDATEs on ``version``) with their history and
actions; and the once-a-minute evaluation of every alarm (:func:`alarms_evaluate`).

``config`` is the alarm's definition as the API validated it, in the API's member names
(``monitoring.metrics.cloudwatch.alarms`` checks it before it reaches here).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from functions import arns
from iam.access import resources
from monitoring.metrics import metric_data, reading
from monitoring.metrics.alarms import actions, evaluation
from monitoring.metrics.alarms.models import AlarmHistory, MetricAlarm
from monitoring.metrics.metric_data import DataQuery, DataResult, MetricStat

logger = logging.getLogger(__name__)

EVALUATE_EVERY_S = 60
# Claimed when last evaluated this long ago: a tick that starts a few seconds early (beat's
# drift) still evaluates every alarm once a minute.
DUE_AFTER_S = EVALUATE_EVERY_S - 10
HISTORY_RETENTION_S = 30 * 86_400
MAX_HISTORY_DELETE = 10_000


def per_tick() -> int:
    """How many alarms one evaluation tick may evaluate (the rest wait for the next)."""
    return int(getattr(settings, "FUNCTORY_ALARMS_PER_TICK", 2000))


def alarm_arn(account_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{arns.region()}:{account_id}:alarm:{name}"


def _history(
    account_id: str, name: str, kind: str, summary: str, data: dict[str, Any], now: float
) -> None:
    AlarmHistory.objects.create(
        account_id=account_id,
        alarm_name=name,
        timestamp=now,
        item_type=kind,
        summary=summary[:255],
        data=json.dumps(data, separators=(",", ":")),
    )


# ---- the definition ------------------------------------------------------------------------


def _described(config: dict[str, Any]) -> dict[str, Any]:
    """What a ConfigurationUpdate item's HistoryData shows of the definition."""
    return {key: value for key, value in config.items() if key != "Tags"}


def alarm_put(
    account_id: str, name: str, config: dict[str, Any], tags: dict[str, str], *, now: float
) -> MetricAlarm:
    """Create the alarm (INSUFFICIENT_DATA) or replace its definition (keeping its state);
    either way it is evaluated at the next tick."""
    try:
        return _alarm_put(account_id, name, config, tags, now=now)
    except IntegrityError:
        # Two requests created the same alarm at once: this one updates the other's.
        return _alarm_put(account_id, name, config, tags, now=now)


def _alarm_put(
    account_id: str, name: str, config: dict[str, Any], tags: dict[str, str], *, now: float
) -> MetricAlarm:
    single = "Metrics" not in config
    fields = {
        "config": config,
        "namespace": config.get("Namespace", "") if single else "",
        "metric_name": config.get("MetricName", "") if single else "",
        "actions_enabled": bool(config.get("ActionsEnabled", True)),
        "configuration_updated": now,
        "evaluated_at": 0.0,
    }
    with transaction.atomic():
        # The alarm's tags may change: cached aws:ResourceTag values go.
        transaction.on_commit(lambda: resources.changed(account_id))
        alarm = MetricAlarm.objects.select_for_update().filter(account_id=account_id, name=name)
        found = alarm.first()
        if found is None:
            created = MetricAlarm.objects.create(
                account_id=account_id,
                name=name,
                tags=tags,
                state_updated=now,
                state_transitioned=now,
                **fields,
            )
            _history(
                account_id,
                name,
                AlarmHistory.ItemType.CONFIGURATION_UPDATE,
                f'Alarm "{name}" created',
                {"type": "Create", "version": "1.0", "createdAlarm": _described(config)},
                now,
            )
            return created
        before = _described(found.config)
        # Tags given on an update are added (PutMetricAlarm never removes tags).
        MetricAlarm.objects.filter(pk=found.pk).update(
            tags={**found.tags, **tags}, version=F("version") + 1, **fields
        )
        _history(
            account_id,
            name,
            AlarmHistory.ItemType.CONFIGURATION_UPDATE,
            f'Alarm "{name}" updated',
            {
                "type": "Update",
                "version": "1.0",
                "originalAlarm": before,
                "updatedAlarm": _described(config),
            },
            now,
        )
        found.refresh_from_db()
        return found


def alarms_delete(account_id: str, names: Sequence[str], *, now: float) -> int:
    """Delete the named alarms that exist (a name of none is no error); their history stays."""
    with transaction.atomic():
        transaction.on_commit(lambda: resources.changed(account_id))
        found = list(
            MetricAlarm.objects.filter(account_id=account_id, name__in=list(names)).values_list(
                "name", "config"
            )
        )
        MetricAlarm.objects.filter(account_id=account_id, name__in=[n for n, _ in found]).delete()
        for name, config in found:
            _history(
                account_id,
                name,
                AlarmHistory.ItemType.CONFIGURATION_UPDATE,
                f'Alarm "{name}" deleted',
                {"type": "Delete", "version": "1.0", "deletedAlarm": _described(config)},
                now,
            )
    return len(found)


def alarm_actions_enable(
    account_id: str, names: Sequence[str], enabled: bool, *, now: float
) -> int:
    """Enable or disable the named alarms' actions (names of none are ignored, as on AWS)."""
    return MetricAlarm.objects.filter(account_id=account_id, name__in=list(names)).update(
        actions_enabled=enabled, configuration_updated=now
    )


def alarm_tags_set(alarm: MetricAlarm, add: dict[str, str], remove: Sequence[str]) -> None:
    with transaction.atomic():
        current = MetricAlarm.objects.select_for_update().get(pk=alarm.pk)
        tags = {k: v for k, v in {**current.tags, **add}.items() if k not in set(remove)}
        MetricAlarm.objects.filter(pk=alarm.pk).update(tags=tags)
    resources.changed(alarm.account_id)


# ---- state changes -------------------------------------------------------------------------


def _metric_configuration(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The alarm event's ``configuration.metrics``."""

    def stat(raw: dict[str, Any]) -> dict[str, Any]:
        metric = raw.get("Metric", {})
        shown: dict[str, Any] = {
            "metric": {
                "namespace": metric.get("Namespace"),
                "name": metric.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
            },
            "period": raw.get("Period"),
            "stat": raw.get("Stat"),
        }
        if raw.get("Unit"):
            shown["unit"] = raw["Unit"]
        return shown

    if "Metrics" not in config:
        single = {
            "Metric": {
                "Namespace": config.get("Namespace"),
                "MetricName": config.get("MetricName"),
                "Dimensions": config.get("Dimensions", []),
            },
            "Period": config.get("Period"),
            "Stat": config.get("Statistic") or config.get("ExtendedStatistic"),
            "Unit": config.get("Unit"),
        }
        return [{"id": "m1", "metricStat": stat(single), "returnData": True}]
    shown = []
    for query in config["Metrics"]:
        entry: dict[str, Any] = {"id": query["Id"]}
        if "MetricStat" in query:
            entry["metricStat"] = stat(query["MetricStat"])
        if "Expression" in query:
            entry["expression"] = query["Expression"]
        if "Label" in query:
            entry["label"] = query["Label"]
        entry["returnData"] = query.get("ReturnData", True)
        shown.append(entry)
    return shown


def alarm_event(
    alarm: MetricAlarm, previous: dict[str, Any], current: dict[str, Any], now: float
) -> dict[str, Any]:
    """The event a Lambda action receives (AWS's alarm event payload)."""
    configuration: dict[str, Any] = {}
    if alarm.config.get("AlarmDescription"):
        configuration["description"] = alarm.config["AlarmDescription"]
    configuration["metrics"] = _metric_configuration(alarm.config)
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm_arn(alarm.account_id, alarm.name),
        "accountId": alarm.account_id,
        "time": evaluation.iso(now),
        "region": arns.region(),
        "alarmData": {
            "alarmName": alarm.name,
            "state": current,
            "previousState": previous,
            "configuration": configuration,
        },
    }


def _state(value: str, reason: str, reason_data: str, timestamp: float) -> dict[str, Any]:
    state: dict[str, Any] = {"value": value, "reason": reason}
    if reason_data:
        state["reasonData"] = reason_data
    state["timestamp"] = evaluation.iso(timestamp)
    return state


def state_change(
    alarm: MetricAlarm, state: str, reason: str, reason_data: str, *, now: float
) -> bool:
    """Move ``alarm`` (as read, at its ``version``) to ``state``; False when someone else
    changed it first (nothing is done then). A change to another state runs the new state's
    actions when the alarm's actions are enabled."""
    changed = state != alarm.state
    updated = MetricAlarm.objects.filter(pk=alarm.pk, version=alarm.version).update(
        state=state,
        state_reason=reason,
        state_reason_data=reason_data,
        state_updated=now,
        state_transitioned=now if changed else alarm.state_transitioned,
        version=F("version") + 1,
    )
    if not updated:
        return False
    previous = _state(alarm.state, alarm.state_reason, alarm.state_reason_data, alarm.state_updated)
    current = _state(state, reason, reason_data, now)
    _history(
        alarm.account_id,
        alarm.name,
        AlarmHistory.ItemType.STATE_UPDATE,
        f"Alarm updated from {alarm.state} to {state}",
        {
            "version": "1.0",
            "oldState": {"stateValue": alarm.state, "stateReason": alarm.state_reason},
            "newState": {
                "stateValue": state,
                "stateReason": reason,
                **({"stateReasonData": json.loads(reason_data)} if reason_data else {}),
            },
        },
        now,
    )
    if changed and alarm.actions_enabled:
        event = alarm_event(alarm, previous, current, now)
        member = {"OK": "OKActions", "ALARM": "AlarmActions"}.get(state, "InsufficientDataActions")
        _actions_run(alarm, list(alarm.config.get(member, [])), event, now)
    return True


def _actions_run(
    alarm: MetricAlarm, action_arns: list[str], event: dict[str, Any], now: float
) -> None:
    arn = alarm_arn(alarm.account_id, alarm.name)
    for action_arn in action_arns:
        data: dict[str, Any] = {
            "actionState": "Succeeded",
            "notificationResource": action_arn,
            "stateUpdateTimestamp": int(now * 1000),
        }
        try:
            actions.action_run(actions.AlarmAction(alarm.account_id, arn, action_arn, event))
        except actions.ActionFailed as failure:
            data["actionState"] = "Failed"
            data["error"] = str(failure)
            summary = f"Failed to execute action {action_arn}. Received error: {failure}"
        except Exception:
            logger.exception("alarm %s: action %s failed", arn, action_arn)
            data["actionState"] = "Failed"
            data["error"] = "Internal error"
            summary = f"Failed to execute action {action_arn}. Received error: Internal error"
        else:
            summary = f"Successfully executed action {action_arn}"
        _history(alarm.account_id, alarm.name, AlarmHistory.ItemType.ACTION, summary, data, now)


def alarm_state_set(
    alarm: MetricAlarm, state: str, reason: str, reason_data: str, now: float
) -> None:
    """SetAlarmState: the state holds until the next evaluation says otherwise."""
    for _ in range(5):
        if state_change(alarm, state, reason, reason_data, now=now):
            return
        alarm.refresh_from_db()


# ---- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to read for an alarm: the queries, which result is the alarm's metric, which
    (if any) its threshold metric, and the evaluation rule."""

    queries: list[DataQuery]
    metric_id: str
    threshold_id: str | None
    rule: evaluation.Rule
    member: str


def _metric_id(raw: dict[str, Any]) -> reading.MetricId:
    return reading.MetricId(
        raw["Namespace"],
        raw["MetricName"],
        tuple(sorted((d["Name"], d["Value"]) for d in raw.get("Dimensions", []))),
    )


def queries_of(config: dict[str, Any]) -> list[DataQuery]:
    """A math alarm's ``Metrics`` as metric queries."""
    queries = []
    for raw in config["Metrics"]:
        stat = None
        if raw.get("MetricStat") is not None:
            given = raw["MetricStat"]
            stat = MetricStat(
                _metric_id(given["Metric"]), int(given["Period"]), given["Stat"], given.get("Unit")
            )
        queries.append(
            DataQuery(
                id=raw["Id"],
                metric_stat=stat,
                expression=raw.get("Expression"),
                label=raw.get("Label"),
                return_data=bool(raw.get("ReturnData", True)),
                period=raw.get("Period"),
            )
        )
    return queries


def math_period(config: dict[str, Any], returning: str) -> int:
    """A math alarm's period: the returned query's own, else its metrics' shortest."""
    periods = []
    for raw in config["Metrics"]:
        if raw["Id"] == returning:
            own = raw.get("Period") or (raw.get("MetricStat") or {}).get("Period")
            if own:
                return int(own)
        if raw.get("MetricStat"):
            periods.append(int(raw["MetricStat"]["Period"]))
    return min(periods or [60])


def plan_of(config: dict[str, Any]) -> Plan:
    threshold_id = config.get("ThresholdMetricId")
    if "Metrics" in config:
        queries = queries_of(config)
        returning = [q.id for q in queries if q.return_data and q.id != threshold_id]
        metric_id = returning[0]
        period = math_period(config, metric_id)
        statistic = None
        member = "Metrics"
    else:
        statistic = config.get("Statistic") or config["ExtendedStatistic"]
        period = int(config["Period"])
        metric = reading.MetricId(
            config["Namespace"],
            config["MetricName"],
            tuple(sorted((d["Name"], d["Value"]) for d in config.get("Dimensions", []))),
        )
        metric_id = "m1"
        queries = [DataQuery("m1", MetricStat(metric, period, statistic, config.get("Unit")))]
        member = "MetricDataQueries"
    rule = evaluation.Rule(
        comparison=config["ComparisonOperator"],
        evaluation_periods=int(config["EvaluationPeriods"]),
        datapoints_to_alarm=int(config.get("DatapointsToAlarm") or config["EvaluationPeriods"]),
        treat_missing_data=config.get("TreatMissingData", "missing"),
        threshold=config.get("Threshold"),
        statistic=statistic,
        period=period,
    )
    return Plan(queries, metric_id, threshold_id, rule, member)


def _by_time(result: DataResult | None) -> dict[int, float]:
    if result is None:
        return {}
    return dict(zip(result.timestamps, result.values, strict=True))


def datapoints_read(alarm: MetricAlarm, plan: Plan, now: float) -> list[evaluation.Datapoint]:
    """The alarm's last N whole periods before ``now``, oldest first."""
    period = plan.rule.period
    end = int(now) // period * period
    start = end - plan.rule.evaluation_periods * period
    results = metric_data.metric_data_evaluate(
        alarm.account_id, plan.queries, start=start, end=end, now=now, member=plan.member
    )
    values = _by_time(next((r for r in results if r.id == plan.metric_id), None))
    bands = [r for r in results if r.id == plan.threshold_id]
    lowers: dict[int, float] = {}
    uppers: dict[int, float] = {}
    if bands:
        # A band is two series (lower and upper); one series is both.
        first, second = _by_time(bands[0]), _by_time(bands[-1])
        for ts in first.keys() & second.keys():
            lowers[ts] = min(first[ts], second[ts])
            uppers[ts] = max(first[ts], second[ts])
    points = []
    for ts in range(start, end, period):
        value = values.get(ts)
        if value is not None and not math.isfinite(value):
            value = None
        points.append(evaluation.Datapoint(ts, value, lowers.get(ts), uppers.get(ts)))
    return points


def alarm_evaluate(alarm: MetricAlarm, now: float) -> bool:
    """Evaluate one alarm as of ``now``; True when its state changed."""
    plan = plan_of(alarm.config)
    verdict = evaluation.decide(plan.rule, datapoints_read(alarm, plan, now), now=now)
    if verdict.state is None or verdict.state == alarm.state:
        return False
    return state_change(alarm, verdict.state, verdict.reason, verdict.reason_data, now=now)


def alarms_evaluate(now: float | None = None, limit: int | None = None) -> int:
    """Evaluate the alarms due (not evaluated in the last minute), least recently evaluated
    first, at most ``limit`` of them; returns how many changed state. Each alarm is claimed
    with a conditional UPDATE first, so any number of workers may run this at once."""
    now = time.time() if now is None else now
    limit = per_tick() if limit is None else limit
    due = list(
        MetricAlarm.objects.filter(evaluated_at__lte=now - DUE_AFTER_S).order_by(
            "evaluated_at", "pk"
        )[:limit]
    )
    changed = 0
    for alarm in due:
        claimed = MetricAlarm.objects.filter(pk=alarm.pk, evaluated_at=alarm.evaluated_at).update(
            evaluated_at=now
        )
        if not claimed:
            continue
        try:
            changed += alarm_evaluate(alarm, now)
        except Exception:
            # One alarm that cannot be evaluated (its data is too large to read, ...) keeps
            # its state and does not stop the others.
            logger.exception("evaluating alarm %s failed", alarm)
    history_expire(now)
    return changed


def history_expire(now: float) -> int:
    """Delete history items older than AWS's 30 days (bounded per call)."""
    old = AlarmHistory.objects.filter(timestamp__lt=now - HISTORY_RETENTION_S).values_list(
        "pk", flat=True
    )[:MAX_HISTORY_DELETE]
    deleted, _ = AlarmHistory.objects.filter(pk__in=list(old)).delete()
    return deleted
