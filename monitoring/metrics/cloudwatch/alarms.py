"""The metric alarm operations: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
DeleteAlarms, SetAlarmState, DescribeAlarmHistory, Enable/DisableAlarmActions, and
TagResource, UntagResource and ListTagsForResource on alarm ARNs.

Requests are checked as CloudWatch checks them (the model's limits: names of 1 to 255
characters, five actions per state, 100 names per call; its combinations: a metric or a
``Metrics`` list, Statistic or ExtendedStatistic, a Threshold for the static operators).
The anomaly detection operators are accepted only with a ``ThresholdMetricId`` whose
expression gives the band; ``ANOMALY_DETECTION_BAND`` itself (a trained model) is not
available here and is refused as an unknown function.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.conf import settings

from functions import arns
from monitoring.metrics import metric_data, reading
from monitoring.metrics.alarms import evaluation, selectors, services
from monitoring.metrics.alarms.models import AlarmHistory, MetricAlarm
from monitoring.metrics.cloudwatch import data
from monitoring.metrics.cloudwatch import params as p
from monitoring.metrics.cloudwatch.put import UNITS

MAX_ACTIONS = 5
MAX_NAMES = 100
MAX_RECORDS = 100
MAX_DESCRIPTION = 1024
MAX_ARN = 1024
MAX_METRICS = 10
MAX_TAGS = 50
MAX_STATE_REASON = 1023
MAX_STATE_REASON_DATA = 4000
# AWS: "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be
# <= 86400)" for periods under an hour; longer periods may span seven days.
MAX_SPAN_S = 86_400
MAX_LONG_SPAN_S = 7 * 86_400
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
ALARM_TYPES = ("CompositeAlarm", "MetricAlarm", "LogAlarm")
HISTORY_TYPES = (
    "ConfigurationUpdate",
    "StateUpdate",
    "Action",
    "AlarmContributorStateUpdate",
    "AlarmContributorAction",
)
ACTION_MEMBERS = ("OKActions", "AlarmActions", "InsufficientDataActions")
# arn:partition:service:region:account:resource (EC2 actions name no account:
# arn:aws:automate:us-east-1:ec2:stop).
_ARN = re.compile(r"^arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]*):([^:]*):(.+)$")
_TAG_KEY = re.compile(r"^[\w\s.:/=+\-@]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")


def max_alarms() -> int:
    return int(getattr(settings, "FUNCTORY_MAX_ALARMS_PER_ACCOUNT", 5000))


def _moment(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise p.invalid(f"The parameter {name} must be a boolean.")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise p.invalid(f"The parameter {name} must be a number.")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise p.invalid_value(value, name)
    return number


def _positive(value: Any, name: str) -> int:
    number = p.integer(value, name)
    if number < 1:
        raise p.validation(f"The value {number} for parameter {name} must be at least 1.")
    return number


def _names(raw: Any, name: str, *, required: bool = False) -> list[str]:
    items = p.members(raw, name)
    if required and raw is None:
        raise p.missing(name)
    if len(items) > MAX_NAMES:
        raise p.validation(f"The collection {name} must not have a size greater than {MAX_NAMES}.")
    return [p.string(item, f"{name}.member.{index}") for index, item in enumerate(items, 1)]


def _action_arns(raw: Any, name: str) -> list[str]:
    items = p.members(raw, name)
    if len(items) > MAX_ACTIONS:
        raise p.validation(
            f"The collection {name} must not have a size greater than {MAX_ACTIONS}."
        )
    found = []
    for index, item in enumerate(items, 1):
        arn = p.string(item, f"{name}.member.{index}", max_length=MAX_ARN)
        match = _ARN.match(arn)
        if match is None:
            raise p.validation(f"Invalid arn syntax: {arn[:MAX_ARN]}")
        region = match.group(2)
        if match.group(1) != "automate" and region and region != arns.region():
            raise p.validation(
                f"Invalid region {region} specified. Only {arns.region()} is supported."
            )
        if arn not in found:
            found.append(arn)
    return found


def _tags(raw: Any, name: str = "Tags") -> dict[str, str]:
    items = p.members(raw, name)
    if len(items) > MAX_TAGS:
        raise p.invalid(f"The collection {name} must not have a size greater than {MAX_TAGS}.")
    tags: dict[str, str] = {}
    for index, item in enumerate(items, 1):
        where = f"{name}.member.{index}"
        if not isinstance(item, dict) or "Key" not in item:
            raise p.missing(f"{where}.Key")
        if "Value" not in item:
            raise p.missing(f"{where}.Value")
        key, value = item["Key"], item["Value"]
        if not isinstance(key, str) or not _TAG_KEY.match(key) or key.startswith("aws:"):
            raise p.invalid_value(key, f"{where}.Key")
        if not isinstance(value, str) or not _TAG_VALUE.match(value):
            raise p.invalid_value(value, f"{where}.Value")
        tags[key] = value
    return tags


def _metrics(raw: Any, threshold_id: str | None) -> list[dict[str, Any]]:
    """A math alarm's ``Metrics``: checked as GetMetricData's queries (Ids, references,
    cycles, expression syntax and size), at most ten, exactly one returning data besides
    the threshold metric; kept in the API's shape."""
    items = p.members(raw, "Metrics")
    if not items:
        raise p.validation("The parameter Metrics must contain at least one metric.")
    if len(items) > MAX_METRICS:
        raise p.validation(
            f"The collection Metrics must not have a size greater than {MAX_METRICS}."
        )
    queries = [data.query_parse(item, f"Metrics.member.{i}") for i, item in enumerate(items, 1)]
    for index, (item, query) in enumerate(zip(items, queries, strict=True), 1):
        if query.expression is not None and len(query.expression) > 2048:
            raise p.validation(
                f"The parameter Metrics.member.{index}.Expression must be at most 2048 "
                "characters long."
            )
        if query.metric_stat is not None and "Dimensions" not in item["MetricStat"]["Metric"]:
            item["MetricStat"]["Metric"]["Dimensions"] = []
    returning = [q.id for q in queries if q.return_data and q.id != threshold_id]
    if len(returning) != 1:
        raise p.validation("Exactly one element of the metrics list should return data.")
    if threshold_id is not None and threshold_id not in {q.id for q in queries}:
        raise p.validation(
            f"The value {threshold_id} for parameter ThresholdMetricId does not match the Id "
            "of any element of the metrics list."
        )
    # References, cycles, statistics, periods and expression syntax.
    metric_data.queries_check(queries, "Metrics")
    return [dict(item) for item in items]


def _single_metric(params: dict[str, Any], config: dict[str, Any]) -> None:
    for name in ("MetricName", "Namespace", "Period"):
        if params.get(name) is None:
            raise p.missing(name)
    config["MetricName"] = p.string(params["MetricName"], "MetricName")
    namespace = p.string(params["Namespace"], "Namespace")
    if namespace.startswith(":"):
        raise p.invalid_value(namespace, "Namespace")
    config["Namespace"] = namespace
    statistic, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if statistic is not None and extended is not None:
        raise p.error(
            "InvalidParameterCombinationException",
            "The parameters Statistic and ExtendedStatistic are mutually exclusive and you "
            "have specified both.",
        )
    if statistic is None and extended is None:
        raise p.missing("Statistic or ExtendedStatistic")
    if statistic is not None:
        if statistic not in STATISTICS:
            raise p.invalid_value(statistic, "Statistic")
        config["Statistic"] = statistic
    else:
        # A percentile (p99, p99.9) and the like: not one of the five basic statistics.
        if (
            not isinstance(extended, str)
            or extended in STATISTICS
            or not reading.valid_stat(extended)
        ):
            raise p.invalid_value(extended, "ExtendedStatistic")
        config["ExtendedStatistic"] = extended
    dimensions = p.dimensions(params.get("Dimensions"), "Dimensions")
    config["Dimensions"] = [{"Name": n, "Value": v} for n, v in dimensions]
    period = _positive(params["Period"], "Period")
    # An alarm's period: 10, 20, 30 or a multiple of 60 (not GetMetricData's 1 and 5).
    if not (period in (10, 20, 30) or period % 60 == 0):
        raise p.validation(
            f"The value {period} for parameter Period is invalid: it must be 10, 20, 30 or a "
            "multiple of 60."
        )
    config["Period"] = period
    unit = params.get("Unit")
    if unit is not None:
        if not isinstance(unit, str) or unit not in UNITS:
            raise p.invalid_value(unit, "Unit")
        config["Unit"] = unit


def put_metric_alarm(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    if params.get("AlarmName") is None:
        raise p.missing("AlarmName")
    name = p.string(params["AlarmName"], "AlarmName")
    config: dict[str, Any] = {}
    description = params.get("AlarmDescription")
    if description is not None:
        config["AlarmDescription"] = (
            p.string(description, "AlarmDescription", max_length=MAX_DESCRIPTION)
            if description != ""
            else ""
        )
    config["ActionsEnabled"] = (
        _boolean(params["ActionsEnabled"], "ActionsEnabled")
        if params.get("ActionsEnabled") is not None
        else True
    )
    for member in ACTION_MEMBERS:
        config[member] = _action_arns(params.get(member), member)
    threshold_id = params.get("ThresholdMetricId")
    if threshold_id is not None:
        threshold_id = p.string(threshold_id, "ThresholdMetricId")
    single = [m for m in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic",
                          "Dimensions", "Period", "Unit") if params.get(m) is not None]  # fmt: skip
    if params.get("Metrics") is not None:
        if single:
            raise p.error(
                "InvalidParameterCombinationException",
                f"The parameters Metrics and {single[0]} are mutually exclusive and you have "
                "specified both.",
            )
        config["Metrics"] = _metrics(params["Metrics"], threshold_id)
    else:
        _single_metric(params, config)
        if threshold_id is not None:
            raise p.validation("ThresholdMetricId can only be used with the Metrics parameter.")
    if params.get("EvaluationPeriods") is None:
        raise p.missing("EvaluationPeriods")
    periods = _positive(params["EvaluationPeriods"], "EvaluationPeriods")
    config["EvaluationPeriods"] = periods
    if params.get("DatapointsToAlarm") is not None:
        datapoints = _positive(params["DatapointsToAlarm"], "DatapointsToAlarm")
        if datapoints > periods:
            raise p.validation("DatapointsToAlarm must be less than or equal to EvaluationPeriods")
        config["DatapointsToAlarm"] = datapoints
    if "Metrics" in config:
        returning = [
            q["Id"] for q in config["Metrics"]
            if q.get("ReturnData", True) and q["Id"] != threshold_id
        ]  # fmt: skip
        period = services.math_period(config, returning[0])
    else:
        period = config["Period"]
    limit = MAX_SPAN_S if period < 3600 else MAX_LONG_SPAN_S
    if period * periods > limit:
        raise p.validation(
            f"Metrics cannot be checked across more than {limit // 86_400} day"
            f"{'s' if limit > 86_400 else ''} (EvaluationPeriods * Period must be <= {limit})"
        )
    operator = params.get("ComparisonOperator")
    if operator is None:
        raise p.missing("ComparisonOperator")
    if not isinstance(operator, str) or (
        operator not in evaluation.STATIC_OPERATORS and operator not in evaluation.BAND_OPERATORS
    ):
        raise p.invalid_value(operator, "ComparisonOperator")
    config["ComparisonOperator"] = operator
    if operator in evaluation.STATIC_OPERATORS:
        if threshold_id is not None:
            raise p.validation(
                "ThresholdMetricId is only valid with the anomaly detection comparison "
                "operators (LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, "
                "GreaterThanUpperThreshold)."
            )
        if params.get("Threshold") is None:
            raise p.validation(
                "Comparison operators for static thresholds require the Threshold parameter."
            )
        config["Threshold"] = _number(params["Threshold"], "Threshold")
    else:
        if threshold_id is None:
            raise p.validation(
                f"The comparison operator {operator} is for anomaly detection alarms: it needs "
                "a ThresholdMetricId naming the expression of the band (anomaly detection "
                "models themselves are not supported here)."
            )
        if params.get("Threshold") is not None:
            raise p.validation(
                "Threshold cannot be specified with an anomaly detection comparison operator."
            )
        config["ThresholdMetricId"] = threshold_id
    treat = params.get("TreatMissingData")
    if treat is not None:
        if treat not in evaluation.TREAT_MISSING:
            raise p.validation(
                f"The value {p._shown(treat)} for parameter TreatMissingData is invalid: it "
                "must be one of breaching, notBreaching, ignore or missing."
            )
        config["TreatMissingData"] = treat
    low_sample = params.get("EvaluateLowSampleCountPercentile")
    if low_sample is not None:
        if low_sample not in ("evaluate", "ignore"):
            raise p.validation(
                f"The value {p._shown(low_sample)} for parameter "
                "EvaluateLowSampleCountPercentile is invalid."
            )
        config["EvaluateLowSampleCountPercentile"] = low_sample
    tags = _tags(params.get("Tags"))
    exists = selectors.alarm_get(account_id, name) is not None
    if not exists and MetricAlarm.objects.filter(account_id=account_id).count() >= max_alarms():
        raise p.error(
            "LimitExceededFault",
            f"The maximum number of alarms ({max_alarms()}) for this account has been reached.",
        )
    services.alarm_put(account_id, name, config, tags, now=now)
    return {}


def alarm_shape(alarm: MetricAlarm) -> dict[str, Any]:
    config = alarm.config
    shape: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmArn": services.alarm_arn(alarm.account_id, alarm.name),
    }
    if "AlarmDescription" in config:
        shape["AlarmDescription"] = config["AlarmDescription"]
    shape["AlarmConfigurationUpdatedTimestamp"] = _moment(alarm.configuration_updated)
    shape["ActionsEnabled"] = alarm.actions_enabled
    for member in ACTION_MEMBERS:
        shape[member] = list(config.get(member, []))
    shape["StateValue"] = alarm.state
    shape["StateReason"] = alarm.state_reason
    if alarm.state_reason_data:
        shape["StateReasonData"] = alarm.state_reason_data
    shape["StateUpdatedTimestamp"] = _moment(alarm.state_updated)
    for member in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
                   "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                   "ComparisonOperator", "TreatMissingData",
                   "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId"):  # fmt: skip
        if member in config:
            shape[member] = config[member]
    shape["StateTransitionedTimestamp"] = _moment(alarm.state_transitioned)
    return shape


def _page_token(params: dict[str, Any]) -> tuple[int, str]:
    digest = p.request_digest({k: v for k, v in params.items() if k != "MaxRecords"})
    offset = 0
    if params.get("NextToken") is not None:
        offset = p.token_decode(params["NextToken"], digest, code="InvalidNextToken")
    return offset, digest


def _max_records(params: dict[str, Any]) -> int:
    if params.get("MaxRecords") is None:
        return 50
    records = p.integer(params["MaxRecords"], "MaxRecords")
    if not 1 <= records <= MAX_RECORDS:
        raise p.validation(
            f"The value {records} for parameter MaxRecords is invalid: it must be between 1 "
            f"and {MAX_RECORDS}."
        )
    return records


def _alarm_types(params: dict[str, Any]) -> list[str]:
    types = p.members(params.get("AlarmTypes"), "AlarmTypes")
    for index, value in enumerate(types, 1):
        if value not in ALARM_TYPES:
            raise p.invalid_value(value, f"AlarmTypes.member.{index}")
    return types


def describe_alarms(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    names = _names(params.get("AlarmNames"), "AlarmNames")
    prefix = params.get("AlarmNamePrefix")
    if prefix is not None:
        prefix = p.string(prefix, "AlarmNamePrefix")
    if names and prefix is not None:
        raise p.error(
            "InvalidParameterCombinationException",
            "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you "
            "have specified both.",
        )
    state = params.get("StateValue")
    if state is not None and state not in STATES:
        raise p.invalid_value(state, "StateValue")
    action_prefix = params.get("ActionPrefix")
    if action_prefix is not None:
        action_prefix = p.string(action_prefix, "ActionPrefix", max_length=MAX_ARN)
    for member in ("ChildrenOfAlarmName", "ParentsOfAlarmName"):
        if params.get(member) is not None:
            p.string(params[member], member)
    types = _alarm_types(params)
    limit = _max_records(params)
    offset, digest = _page_token(params)
    wanted_metric = not types or "MetricAlarm" in types
    # Composite alarms (and their children and parents) do not exist here: those asks
    # answer no alarm.
    related = params.get("ChildrenOfAlarmName") or params.get("ParentsOfAlarmName")
    found = (
        selectors.alarms_list(
            account_id, names=names, prefix=prefix, state=state, action_prefix=action_prefix
        )
        if wanted_metric and not related
        else []
    )
    page = found[offset : offset + limit]
    answer: dict[str, Any] = {
        "MetricAlarms": [alarm_shape(alarm) for alarm in page],
        "CompositeAlarms": [],
    }
    if offset + limit < len(found):
        answer["NextToken"] = p.token_encode(offset + limit, digest)
    return answer


def describe_alarms_for_metric(
    account_id: str, params: dict[str, Any], now: float
) -> dict[str, Any]:
    for name in ("MetricName", "Namespace"):
        if params.get(name) is None:
            raise p.missing(name)
    metric_name = p.string(params["MetricName"], "MetricName")
    namespace = p.string(params["Namespace"], "Namespace")
    statistic, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if statistic is not None and statistic not in STATISTICS:
        raise p.invalid_value(statistic, "Statistic")
    dimensions = None
    if params.get("Dimensions") is not None:
        dimensions = [
            {"Name": n, "Value": v} for n, v in p.dimensions(params["Dimensions"], "Dimensions")
        ]
    period = p.integer(params["Period"], "Period") if params.get("Period") is not None else None
    unit = params.get("Unit")
    if unit is not None and (not isinstance(unit, str) or unit not in UNITS):
        raise p.invalid_value(unit, "Unit")
    wanted = {
        "Statistic": statistic,
        "ExtendedStatistic": extended,
        "Dimensions": dimensions,
        "Period": period,
        "Unit": unit,
    }
    alarms = [
        alarm
        for alarm in selectors.alarms_for_metric(account_id, namespace, metric_name)
        if all(
            value is None or alarm.config.get(member) == value for member, value in wanted.items()
        )
    ]
    return {"MetricAlarms": [alarm_shape(alarm) for alarm in alarms]}


def delete_alarms(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    if params.get("AlarmNames") is None:
        raise p.missing("AlarmNames")
    services.alarms_delete(account_id, _names(params["AlarmNames"], "AlarmNames"), now=now)
    return {}


def _actions_switch(enabled: bool) -> Any:
    def switch(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
        if params.get("AlarmNames") is None:
            raise p.missing("AlarmNames")
        names = _names(params["AlarmNames"], "AlarmNames")
        services.alarm_actions_enable(account_id, names, enabled, now=now)
        return {}

    return switch


enable_alarm_actions = _actions_switch(True)
disable_alarm_actions = _actions_switch(False)


def set_alarm_state(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    for member in ("AlarmName", "StateValue", "StateReason"):
        if params.get(member) is None:
            raise p.missing(member)
    name = p.string(params["AlarmName"], "AlarmName")
    state = params["StateValue"]
    if state not in STATES:
        raise p.invalid_value(state, "StateValue")
    reason = params["StateReason"]
    if not isinstance(reason, str) or len(reason) > MAX_STATE_REASON:
        raise p.validation(
            f"The parameter StateReason must be a string of at most {MAX_STATE_REASON} characters."
        )
    reason_data = params.get("StateReasonData") or ""
    if not isinstance(reason_data, str) or len(reason_data) > MAX_STATE_REASON_DATA:
        raise p.validation(
            f"The parameter StateReasonData must be a string of at most "
            f"{MAX_STATE_REASON_DATA} characters."
        )
    if reason_data:
        try:
            parsed = json.loads(reason_data)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            raise p.error("InvalidFormatFault", "StateReasonData is not a valid JSON object.")
    alarm = selectors.alarm_get(account_id, name)
    if alarm is None:
        raise p.error("ResourceNotFound", f"Alarm {name} not found", status=404)
    services.alarm_state_set(alarm, state, reason, reason_data, now)
    return {}


def describe_alarm_history(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    name = params.get("AlarmName")
    if name is not None:
        name = p.string(name, "AlarmName")
    if params.get("AlarmContributorId") is not None:
        p.string(params["AlarmContributorId"], "AlarmContributorId", max_length=16)
    types = _alarm_types(params)
    item_type = params.get("HistoryItemType")
    if item_type is not None and item_type not in HISTORY_TYPES:
        raise p.invalid_value(item_type, "HistoryItemType")
    start = p.timestamp(params["StartDate"], "StartDate") if params.get("StartDate") else None
    end = p.timestamp(params["EndDate"], "EndDate") if params.get("EndDate") else None
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise p.invalid_value(scan_by, "ScanBy")
    limit = _max_records(params)
    offset, digest = _page_token(params)
    if (types and "MetricAlarm" not in types) or (
        item_type is not None and item_type.startswith("AlarmContributor")
    ):
        return {"AlarmHistoryItems": []}
    rows = selectors.history_list(
        account_id,
        name=name,
        item_type=item_type,
        start=start,
        end=end,
        ascending=scan_by == "TimestampAscending",
    )
    page = list(rows[offset : offset + limit + 1])
    answer: dict[str, Any] = {"AlarmHistoryItems": [_history_shape(item) for item in page[:limit]]}
    if len(page) > limit:
        answer["NextToken"] = p.token_encode(offset + limit, digest)
    return answer


def _history_shape(item: AlarmHistory) -> dict[str, Any]:
    return {
        "AlarmName": item.alarm_name,
        "AlarmType": "MetricAlarm",
        "Timestamp": _moment(item.timestamp),
        "HistoryItemType": item.item_type,
        "HistorySummary": item.summary,
        "HistoryData": item.data,
    }


# ---- tags ----------------------------------------------------------------------------------


def _tagged_alarm(account_id: str, params: dict[str, Any]) -> MetricAlarm:
    if params.get("ResourceARN") is None:
        raise p.missing("ResourceARN")
    arn = p.string(params["ResourceARN"], "ResourceARN", max_length=MAX_ARN)
    prefix = f"arn:aws:cloudwatch:{arns.region()}:{account_id}:alarm:"
    if not _ARN.match(arn) or ":cloudwatch:" not in arn:
        raise p.invalid_value(arn, "ResourceARN")
    alarm = selectors.alarm_get(account_id, arn[len(prefix) :]) if arn.startswith(prefix) else None
    if alarm is None:
        raise p.error("ResourceNotFoundException", f"Resource {arn} not found.", status=404)
    return alarm


def tag_resource(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    alarm = _tagged_alarm(account_id, params)
    if params.get("Tags") is None:
        raise p.missing("Tags")
    add = _tags(params["Tags"])
    if len({**alarm.tags, **add}) > MAX_TAGS:
        raise p.invalid(f"A resource may have at most {MAX_TAGS} tags.")
    services.alarm_tags_set(alarm, add, ())
    return {}


def untag_resource(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    alarm = _tagged_alarm(account_id, params)
    if params.get("TagKeys") is None:
        raise p.missing("TagKeys")
    keys = p.members(params["TagKeys"], "TagKeys")
    if len(keys) > MAX_TAGS:
        raise p.invalid(f"The collection TagKeys must not have a size greater than {MAX_TAGS}.")
    removed = [
        p.string(key, f"TagKeys.member.{i}", max_length=128) for i, key in enumerate(keys, 1)
    ]
    services.alarm_tags_set(alarm, {}, removed)
    return {}


def list_tags_for_resource(account_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    alarm = _tagged_alarm(account_id, params)
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(alarm.tags.items())]}
