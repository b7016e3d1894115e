"""Alarm evaluation in process, with an injected clock: M out of N, each TreatMissingData
mode, math alarms, a threshold metric's band, SetAlarmState undone by the next evaluation,
two evaluators making one transition, actions recorded in the history, hostile input."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection

from awsapi.errors import AWSError
from iam import services as accounts
from monitoring.metrics import custom_services
from monitoring.metrics.alarms import evaluation, services
from monitoring.metrics.alarms.evaluation import Datapoint, Rule
from monitoring.metrics.alarms.models import AlarmHistory, MetricAlarm
from monitoring.metrics.cloudwatch import alarms as api
from monitoring.metrics.custom_services import Aggregate, SeriesName
from monitoring.metrics.services import MINUTE

NOW = 1_700_002_800.0  # a whole hour
LATENCY = SeriesName("Shop", "Latency", ())
ERRORS = SeriesName("Shop", "Errors", ())


# ---- the rule alone ------------------------------------------------------------------------


def _points(pattern: str) -> list[Datapoint]:
    """``X`` breaching (value 10), ``0`` not (value 0), ``-`` missing; oldest first."""
    values = {"X": 10.0, "0": 0.0, "-": None}
    return [Datapoint(60 * i, values[c]) for i, c in enumerate(pattern)]


@pytest.mark.parametrize(
    ("pattern", "missing", "ignore", "breaching", "not_breaching"),
    [
        # M = 3 of N = 5, as in AWS's table of how missing data is treated.
        ("0-X-X", "OK", "OK", "ALARM", "OK"),
        ("-----", "INSUFFICIENT_DATA", None, "ALARM", "OK"),
        ("0XX-X", "ALARM", "ALARM", "ALARM", "ALARM"),
        ("00000", "OK", "OK", "OK", "OK"),
        ("XXX00", "ALARM", "ALARM", "ALARM", "ALARM"),
        ("0X-X-", "OK", "OK", "ALARM", "OK"),
        ("----X", "OK", "OK", "ALARM", "OK"),
    ],
)
def test_m_of_n_and_each_treat_missing_data_mode_decide_as_aws_documents(
    pattern: str, missing: str, ignore: str | None, breaching: str, not_breaching: str
) -> None:
    for mode, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        rule = Rule("GreaterThanThreshold", 5, 3, mode, threshold=5.0)
        assert evaluation.decide(rule, _points(pattern), now=NOW).state == expected, mode


def test_the_reasons_say_what_crossed_as_cloudwatch_words_them() -> None:
    rule = Rule("GreaterThanOrEqualToThreshold", 1, 1, threshold=1.0, statistic="Sum")
    alarm = evaluation.decide(rule, [Datapoint(1_699_999_980, 2.0)], now=NOW)
    assert alarm.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (14/11/23 22:13:00)] was "
        "greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM "
        "transition)."
    )
    data = json.loads(alarm.reason_data)
    assert data["statistic"] == "Sum" and data["threshold"] == 1.0
    assert data["recentDatapoints"] == [2.0]
    unknown = evaluation.decide(rule, [Datapoint(0, None)], now=NOW)
    assert unknown.reason == "Insufficient Data: 1 datapoint was unknown."


def test_band_operators_compare_with_the_threshold_metrics_lower_and_upper_values() -> None:
    outside = Rule("LessThanLowerOrGreaterThanUpperThreshold", 1, 1)
    assert evaluation.breaches(outside, Datapoint(0, 11.0, 5.0, 10.0)) is True
    assert evaluation.breaches(outside, Datapoint(0, 4.0, 5.0, 10.0)) is True
    assert evaluation.breaches(outside, Datapoint(0, 7.0, 5.0, 10.0)) is False
    assert evaluation.breaches(outside, Datapoint(0, 7.0)) is None  # no band: missing
    lower = Rule("LessThanLowerThreshold", 1, 1)
    assert evaluation.breaches(lower, Datapoint(0, 11.0, 5.0, 10.0)) is False


# ---- alarms on stored data -----------------------------------------------------------------


@pytest.fixture
def account_id(db: Any) -> str:
    return str(accounts.account_get_or_create(None).id)


def _publish(account_id: str, series: SeriesName, minute: float, value: float) -> None:
    aggregate = Aggregate()
    aggregate.add(value)
    key = (series, "None", int(minute) // MINUTE * MINUTE)
    custom_services.custom_data_store(account_id, {key: aggregate}, now=minute)


def _put(account_id: str, **params: Any) -> MetricAlarm:
    api.put_metric_alarm(account_id, params, NOW)
    return MetricAlarm.objects.get(account_id=account_id, name=params["AlarmName"])


def _latency_alarm(account_id: str, **overrides: Any) -> MetricAlarm:
    params: dict[str, Any] = {
        "AlarmName": "slow",
        "Namespace": "Shop",
        "MetricName": "Latency",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 100.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    params.update(overrides)
    return _put(account_id, **params)


def _state(account_id: str, name: str = "slow") -> str:
    return MetricAlarm.objects.get(account_id=account_id, name=name).state


def test_a_new_alarm_waits_in_insufficient_data_and_two_of_three_breaching_minutes_fire_it(
    account_id: str,
) -> None:
    _latency_alarm(account_id, EvaluationPeriods=3, DatapointsToAlarm=2)
    assert _state(account_id) == "INSUFFICIENT_DATA"
    services.alarms_evaluate(NOW)
    assert _state(account_id) == "INSUFFICIENT_DATA"
    _publish(account_id, LATENCY, NOW, 50.0)
    _publish(account_id, LATENCY, NOW + 60, 500.0)
    services.alarms_evaluate(NOW + 120)  # periods NOW-60 (missing), NOW, NOW+60
    assert _state(account_id) == "OK"
    _publish(account_id, LATENCY, NOW + 120, 300.0)
    services.alarms_evaluate(NOW + 180)
    alarm = MetricAlarm.objects.get(account_id=account_id, name="slow")
    assert alarm.state == "ALARM"
    assert "2 out of the last 3 datapoints" in alarm.state_reason
    summaries = list(
        AlarmHistory.objects.filter(account_id=account_id, item_type="StateUpdate")
        .order_by("timestamp")
        .values_list("summary", flat=True)
    )
    assert summaries == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
    ]


def test_an_alarm_is_evaluated_once_a_minute_however_often_the_task_runs(
    account_id: str,
) -> None:
    _latency_alarm(account_id, EvaluationPeriods=1, DatapointsToAlarm=1)
    _publish(account_id, LATENCY, NOW, 500.0)
    services.alarms_evaluate(NOW + 30)  # evaluates (the period NOW-60: missing)
    assert _state(account_id) == "INSUFFICIENT_DATA"
    services.alarms_evaluate(NOW + 61)  # 31 s later: not due yet
    assert _state(account_id) == "INSUFFICIENT_DATA"
    services.alarms_evaluate(NOW + 90)
    assert _state(account_id) == "ALARM"


def test_ignore_keeps_the_state_and_breaching_fires_on_silence(account_id: str) -> None:
    _latency_alarm(account_id, AlarmName="quiet", EvaluationPeriods=1, TreatMissingData="ignore")
    _latency_alarm(
        account_id, AlarmName="silent", EvaluationPeriods=1, TreatMissingData="breaching"
    )
    _latency_alarm(
        account_id, AlarmName="calm", EvaluationPeriods=1, TreatMissingData="notBreaching"
    )
    _latency_alarm(account_id, AlarmName="unknown", EvaluationPeriods=1)
    services.alarms_evaluate(NOW + 60)
    assert _state(account_id, "quiet") == "INSUFFICIENT_DATA"
    assert _state(account_id, "silent") == "ALARM"
    assert _state(account_id, "calm") == "OK"
    assert _state(account_id, "unknown") == "INSUFFICIENT_DATA"


def test_a_math_alarm_evaluates_its_expression(account_id: str) -> None:
    stat = {"Period": 60, "Stat": "Sum"}
    _put(
        account_id,
        AlarmName="error-rate",
        Metrics=[
            {
                "Id": "e",
                "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Errors"}, **stat},
                "ReturnData": False,
            },
            {
                "Id": "l",
                "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency"}, **stat},
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * e / l", "Label": "rate"},
        ],
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    _publish(account_id, ERRORS, NOW, 1.0)
    _publish(account_id, LATENCY, NOW, 20.0)
    services.alarms_evaluate(NOW + 60)
    assert _state(account_id, "error-rate") == "OK"  # 5 %
    _publish(account_id, ERRORS, NOW + 60, 5.0)
    _publish(account_id, LATENCY, NOW + 60, 20.0)
    services.alarms_evaluate(NOW + 120)
    assert _state(account_id, "error-rate") == "ALARM"  # 25 %


def test_a_threshold_metric_gives_the_band_the_alarm_compares_with(account_id: str) -> None:
    stat = {"Period": 60, "Stat": "Maximum"}
    _put(
        account_id,
        AlarmName="band",
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency"}, **stat},
            },
            {"Id": "t1", "Expression": "[m1 * 0 + 10, m1 * 0 + 20]"},
        ],
        ThresholdMetricId="t1",
        EvaluationPeriods=1,
        ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
    )
    _publish(account_id, LATENCY, NOW, 15.0)
    services.alarms_evaluate(NOW + 60)
    assert _state(account_id, "band") == "OK"
    _publish(account_id, LATENCY, NOW + 60, 25.0)
    services.alarms_evaluate(NOW + 120)
    assert _state(account_id, "band") == "ALARM"


def test_set_alarm_state_holds_until_the_next_evaluation_says_otherwise(account_id: str) -> None:
    _latency_alarm(account_id, EvaluationPeriods=1)
    _publish(account_id, LATENCY, NOW, 1.0)
    services.alarms_evaluate(NOW + 60)
    assert _state(account_id) == "OK"
    api.set_alarm_state(
        account_id,
        {"AlarmName": "slow", "StateValue": "ALARM", "StateReason": "testing"},
        NOW + 70,
    )
    alarm = MetricAlarm.objects.get(account_id=account_id, name="slow")
    assert (alarm.state, alarm.state_reason) == ("ALARM", "testing")
    _publish(account_id, LATENCY, NOW + 60, 1.0)
    services.alarms_evaluate(NOW + 120)
    assert _state(account_id) == "OK"


def test_two_evaluators_of_one_alarm_make_one_transition_and_run_its_actions_once(
    account_id: str,
) -> None:
    _latency_alarm(
        account_id, EvaluationPeriods=1, AlarmActions=["arn:aws:sns:us-east-1:123456789012:t"]
    )
    _publish(account_id, LATENCY, NOW, 500.0)
    # Both read the alarm before either wrote (what two workers of one tick would see).
    first = MetricAlarm.objects.get(account_id=account_id, name="slow")
    second = MetricAlarm.objects.get(account_id=account_id, name="slow")
    assert services.alarm_evaluate(first, NOW + 60) is True
    assert services.alarm_evaluate(second, NOW + 60) is False
    # And two ticks of the same minute: the second claims nothing.
    MetricAlarm.objects.filter(pk=first.pk).update(evaluated_at=0, state="OK")
    assert services.alarms_evaluate(NOW + 60) + services.alarms_evaluate(NOW + 60) == 1
    history = AlarmHistory.objects.filter(account_id=account_id)
    assert history.filter(item_type="StateUpdate").count() == 2
    assert history.filter(item_type="Action").count() == 2


def test_actions_no_runner_takes_are_recorded_as_failed_not_dropped(account_id: str) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    missing = f"arn:aws:lambda:us-east-1:{account_id}:function:nothing-here"
    stop = "arn:aws:automate:us-east-1:ec2:stop"
    _latency_alarm(account_id, EvaluationPeriods=1, AlarmActions=[topic, missing, stop])
    api.set_alarm_state(
        account_id, {"AlarmName": "slow", "StateValue": "ALARM", "StateReason": "test"}, NOW
    )
    actions = {
        json.loads(item.data)["notificationResource"]: item
        for item in AlarmHistory.objects.filter(account_id=account_id, item_type="Action")
    }
    assert set(actions) == {topic, missing, stop}
    assert json.loads(actions[stop].data)["actionState"] == "Failed"
    assert actions[topic].summary.startswith(f"Failed to execute action {topic}.")
    assert "not supported" in json.loads(actions[topic].data)["error"]
    assert json.loads(actions[missing].data)["actionState"] == "Failed"


def test_disabled_actions_do_not_run(account_id: str) -> None:
    _latency_alarm(
        account_id, AlarmActions=["arn:aws:sns:us-east-1:123456789012:t"], ActionsEnabled=False
    )
    api.set_alarm_state(
        account_id, {"AlarmName": "slow", "StateValue": "ALARM", "StateReason": "test"}, NOW
    )
    assert not AlarmHistory.objects.filter(account_id=account_id, item_type="Action").exists()


# ---- hostile input -------------------------------------------------------------------------


def _refused(account_id: str, **params: Any) -> AWSError:
    with pytest.raises(AWSError) as raised:
        _latency_alarm(account_id, **params)
    assert raised.value.status == 400
    return raised.value


def test_hostile_alarms_are_refused_with_cloudwatchs_errors(account_id: str) -> None:
    assert _refused(account_id, AlarmName="a" * 256).code == "InvalidParameterValueException"
    many = [f"arn:aws:sns:us-east-1:123456789012:t{i}" for i in range(1000)]
    assert _refused(account_id, AlarmActions=many).code == "ValidationException"
    assert _refused(account_id, OKActions=["not an arn"]).code == "ValidationException"
    deep = "(" * 200 + "m1" + ")" * 200
    metrics = [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency"},
                                    "Period": 60, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "e1", "Expression": deep},
    ]  # fmt: skip
    error = _refused(
        account_id, Namespace=None, MetricName=None, Statistic=None, Period=None, Metrics=metrics
    )
    assert error.code == "ValidationException"
    eleven = [{"Id": f"e{i}", "Expression": "1", "ReturnData": i == 0} for i in range(11)]
    assert (
        _refused(
            account_id, Namespace=None, MetricName=None, Statistic=None, Period=None, Metrics=eleven
        ).code
        == "ValidationException"
    )
    assert _refused(account_id, DatapointsToAlarm=4).code == "ValidationException"
    assert _refused(account_id, Period=5).code == "ValidationException"
    assert _refused(account_id, Period=90).code == "ValidationException"
    assert _refused(account_id, Period=60, EvaluationPeriods=1441).code == "ValidationException"
    assert _refused(account_id, TreatMissingData="sometimes").code == "ValidationException"
    assert _refused(account_id, Threshold=None).code == "ValidationException"
    assert (
        _refused(account_id, ComparisonOperator="LessThanLowerThreshold", Threshold=None).code
        == "ValidationException"
    )
    assert _refused(account_id, ExtendedStatistic="p99").code == (
        "InvalidParameterCombinationException"
    )
    assert not MetricAlarm.objects.filter(account_id=account_id).exists()


def test_an_account_stops_at_its_alarm_limit(account_id: str, settings: Any) -> None:
    settings.FUNCTORY_MAX_ALARMS_PER_ACCOUNT = 2
    _latency_alarm(account_id, AlarmName="a")
    _latency_alarm(account_id, AlarmName="b")
    _latency_alarm(account_id, AlarmName="b", Threshold=5.0)  # an update is no new alarm
    assert _refused(account_id, AlarmName="c").code == "LimitExceededFault"


@pytest.mark.django_db(transaction=True)
def test_evaluators_racing_on_every_alarm_fire_each_once() -> None:
    """Four workers run the same tick at once over ten alarms: each alarm moves once, its
    action runs once."""
    account_id = str(accounts.account_get_or_create("720000000011").id)
    for index in range(10):
        _latency_alarm(
            account_id,
            AlarmName=f"race-{index}",
            AlarmActions=["arn:aws:sns:us-east-1:123456789012:t"],
        )
    _publish(account_id, LATENCY, NOW, 500.0)
    workers = 4
    start = threading.Barrier(workers)
    failures: list[BaseException] = []
    changed: list[int] = []

    def worker() -> None:
        try:
            start.wait()
            changed.append(services.alarms_evaluate(NOW + 60))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sum(changed) == 10
    history = AlarmHistory.objects.filter(account_id=account_id)
    assert history.filter(item_type="StateUpdate").count() == 10
    assert history.filter(item_type="Action").count() == 10
    assert set(MetricAlarm.objects.values_list("state", flat=True)) == {"ALARM"}


def test_a_day_of_breaching_minutes_fits_the_reason_and_its_data() -> None:
    rule = Rule("GreaterThanThreshold", 1440, 1440, threshold=1.0)
    verdict = evaluation.decide(rule, [Datapoint(60 * i, 1e300) for i in range(1440)], now=NOW)
    assert verdict.state == "ALARM"
    assert len(verdict.reason) <= 1023
    assert len(verdict.reason_data) <= 4000


@pytest.mark.django_db(transaction=True)
def test_simultaneous_puts_of_one_new_alarm_make_one_alarm() -> None:
    account_id = str(accounts.account_get_or_create("720000000012").id)
    workers = 4
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            _latency_alarm(account_id, AlarmName="same", Threshold=float(n))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert MetricAlarm.objects.filter(account_id=account_id).count() == 1
    history = AlarmHistory.objects.filter(account_id=account_id, item_type="ConfigurationUpdate")
    assert history.filter(summary='Alarm "same" created').count() == 1
    assert history.count() == workers


def test_beat_runs_the_evaluation_every_minute(settings: Any) -> None:
    """What ``serve``'s embedded worker (and any scaled beat) schedules."""
    from monitoring.metrics.alarms import tasks

    assert "monitoring.metrics.alarms.tasks" in settings.CELERY_IMPORTS
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == tasks.ALARMS_EVALUATE
    ]
    assert entry["schedule"] <= services.EVALUATE_EVERY_S
    assert tasks.alarms_evaluate.name == tasks.ALARMS_EVALUATE


def test_a_percentile_alarm_reads_its_extended_statistic(account_id: str) -> None:
    _latency_alarm(account_id, AlarmName="p90", Statistic=None, ExtendedStatistic="p90")
    aggregate = Aggregate()
    for value in range(1, 101):
        aggregate.add(float(value))
    custom_services.custom_data_store(account_id, {(LATENCY, "None", int(NOW)): aggregate}, now=NOW)
    services.alarms_evaluate(NOW + 60)
    alarm = MetricAlarm.objects.get(account_id=account_id, name="p90")
    assert alarm.state == "OK"  # p90 of 1..100 is about 90, under 100
    assert json.loads(alarm.state_reason_data)["statistic"] == "p90"


def test_a_math_alarms_event_lists_its_metrics_and_expression(account_id: str) -> None:
    metric = {"Namespace": "Shop", "MetricName": "Errors"}
    alarm = _put(
        account_id,
        AlarmName="math-event",
        AlarmDescription="errors doubled",
        Metrics=[
            {
                "Id": "e",
                "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
                "ReturnData": False,
            },
            {"Id": "twice", "Expression": "e * 2", "Label": "doubled"},
        ],
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    event = services.alarm_event(alarm, {"value": "OK"}, {"value": "ALARM"}, NOW)
    configuration = event["alarmData"]["configuration"]
    assert configuration["description"] == "errors doubled"
    assert configuration["metrics"] == [
        {
            "id": "e",
            "metricStat": {
                "metric": {"namespace": "Shop", "name": "Errors", "dimensions": {}},
                "period": 60,
                "stat": "Sum",
            },
            "returnData": False,
        },
        {"id": "twice", "expression": "e * 2", "label": "doubled", "returnData": True},
    ]
    assert event["time"] == "2023-11-14T23:00:00.000+0000"
