"""CloudWatch metric alarms through boto3 and the AWS CLI (issue 16, part 4): every alarm
operation in both wire forms with its errors and pages, and the issue's check: an alarm on
a function's Errors fires after a failing invoke and invokes its target function."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ROOT,
    Credentials,
    LiveServer,
    async_rows,
    client_error,
    client_for,
    create_function,
    make_zip,
)
from monitoring.tests import test_cloudwatch_custom_metrics as custom

# The CloudWatch clients of a fresh account in both wire forms, and the CLI runner.
cbor_model_dir = custom.cbor_model_dir
cloudwatch = custom.cloudwatch
raw_cloudwatch = custom.raw_cloudwatch
_cli = custom._cli

pytestmark = [pytest.mark.live]


def _alarm(client: Any, name: str, **overrides: Any) -> None:
    params: dict[str, Any] = {
        "AlarmName": name,
        "Namespace": "Shop",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "Page", "Value": "home"}],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 250.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    params.update(overrides)
    client.put_metric_alarm(**params)


def _refused(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return client_error(excinfo)


def test_an_alarm_is_put_and_described_as_cloudwatch_describes_it(
    cloudwatch: Any, credentials: Credentials
) -> None:
    _alarm(
        cloudwatch,
        "slow-home",
        AlarmDescription="home page is slow",
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:ops"],
        TreatMissingData="notBreaching",
        Unit="Milliseconds",
        Tags=[{"Key": "team", "Value": "web"}],
    )
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["slow-home"])["MetricAlarms"]
    assert alarm["AlarmArn"] == (
        f"arn:aws:cloudwatch:us-east-1:{credentials.account_id}:alarm:slow-home"
    )
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["AlarmDescription"] == "home page is slow"
    assert alarm["ActionsEnabled"] is True
    assert alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:ops"]
    assert alarm["OKActions"] == [] and alarm["InsufficientDataActions"] == []
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "Shop",
        "Latency",
        "Average",
    )
    assert alarm["Dimensions"] == [{"Name": "Page", "Value": "home"}]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 3, 2)
    assert alarm["Threshold"] == 250.0 and alarm["Unit"] == "Milliseconds"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert isinstance(alarm["StateUpdatedTimestamp"], dt.datetime)
    assert isinstance(alarm["AlarmConfigurationUpdatedTimestamp"], dt.datetime)
    found = cloudwatch.describe_alarms_for_metric(
        Namespace="Shop", MetricName="Latency", Dimensions=[{"Name": "Page", "Value": "home"}]
    )["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == ["slow-home"]
    assert (
        cloudwatch.describe_alarms_for_metric(
            Namespace="Shop", MetricName="Latency", Statistic="Maximum"
        )["MetricAlarms"]
        == []
    )
    tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "web"}]
    history = cloudwatch.describe_alarm_history(AlarmName="slow-home")["AlarmHistoryItems"]
    # The server's evaluator may already have moved it out of INSUFFICIENT_DATA (a
    # StateUpdate item): the creation is the one configuration item.
    [created] = [item for item in history if item["HistoryItemType"] == "ConfigurationUpdate"]
    assert created["HistorySummary"] == 'Alarm "slow-home" created'
    assert json.loads(created["HistoryData"])["type"] == "Create"


def test_a_math_alarm_keeps_its_metrics(cloudwatch: Any) -> None:
    metric = {"Namespace": "Shop", "MetricName": "Errors"}
    cloudwatch.put_metric_alarm(
        AlarmName="rate",
        Metrics=[
            {
                "Id": "e",
                "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
                "ReturnData": False,
            },
            {"Id": "r", "Expression": "e * 100", "Label": "rate"},
        ],
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["rate"])["MetricAlarms"]
    assert [m["Id"] for m in alarm["Metrics"]] == ["e", "r"]
    assert alarm["Metrics"][0]["MetricStat"]["Metric"]["MetricName"] == "Errors"
    assert "MetricName" not in alarm


def test_alarms_are_filtered_and_paged(cloudwatch: Any) -> None:
    for index in range(5):
        _alarm(
            cloudwatch, f"page-{index}", OKActions=[f"arn:aws:sns:us-east-1:123456789012:t{index}"]
        )
    _alarm(cloudwatch, "other")
    names: list[str] = []
    token: dict[str, str] = {}
    pages = 0
    while True:
        page = cloudwatch.describe_alarms(AlarmNamePrefix="page-", MaxRecords=2, **token)
        names += [a["AlarmName"] for a in page["MetricAlarms"]]
        pages += 1
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert names == [f"page-{i}" for i in range(5)] and pages == 3
    by_action = cloudwatch.describe_alarms(ActionPrefix="arn:aws:sns:us-east-1:123456789012:t3")
    assert [a["AlarmName"] for a in by_action["MetricAlarms"]] == ["page-3"]
    assert cloudwatch.describe_alarms(StateValue="ALARM")["MetricAlarms"] == []
    assert cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    code, _, _ = _refused(cloudwatch.describe_alarms, NextToken="garbage")
    assert code == "InvalidNextToken"


def test_set_alarm_state_runs_nothing_it_cannot_and_the_history_says_so(
    cloudwatch: Any,
) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    _alarm(cloudwatch, "manual", AlarmActions=[topic])
    cloudwatch.set_alarm_state(
        AlarmName="manual",
        StateValue="ALARM",
        StateReason="testing the pager",
        StateReasonData=json.dumps({"why": "test"}),
    )
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["manual"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing the pager")
    assert json.loads(alarm["StateReasonData"]) == {"why": "test"}
    history = cloudwatch.describe_alarm_history(AlarmName="manual", ScanBy="TimestampAscending")[
        "AlarmHistoryItems"
    ]
    assert [item["HistoryItemType"] for item in history] == [
        "ConfigurationUpdate",
        "StateUpdate",
        "Action",
    ]
    assert history[1]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert history[2]["HistorySummary"].startswith(f"Failed to execute action {topic}")
    only_actions = cloudwatch.describe_alarm_history(AlarmName="manual", HistoryItemType="Action")
    assert len(only_actions["AlarmHistoryItems"]) == 1
    first = cloudwatch.describe_alarm_history(AlarmName="manual", MaxRecords=2)
    second = cloudwatch.describe_alarm_history(
        AlarmName="manual", MaxRecords=2, NextToken=first["NextToken"]
    )
    assert len(first["AlarmHistoryItems"]) + len(second["AlarmHistoryItems"]) == 3
    assert "NextToken" not in second


def test_actions_are_disabled_and_enabled_and_alarms_deleted(cloudwatch: Any) -> None:
    _alarm(cloudwatch, "toggled")
    cloudwatch.disable_alarm_actions(AlarmNames=["toggled", "no-such-alarm"])
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["toggled"])["MetricAlarms"]
    assert alarm["ActionsEnabled"] is False
    cloudwatch.enable_alarm_actions(AlarmNames=["toggled"])
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["toggled"])["MetricAlarms"]
    assert alarm["ActionsEnabled"] is True
    cloudwatch.delete_alarms(AlarmNames=["toggled", "no-such-alarm"])
    assert cloudwatch.describe_alarms(AlarmNames=["toggled"])["MetricAlarms"] == []
    history = cloudwatch.describe_alarm_history(AlarmName="toggled")["AlarmHistoryItems"]
    assert history[0]["HistorySummary"] == 'Alarm "toggled" deleted'


def test_tags_are_added_listed_and_removed(cloudwatch: Any, credentials: Credentials) -> None:
    _alarm(cloudwatch, "tagged")
    arn = f"arn:aws:cloudwatch:us-east-1:{credentials.account_id}:alarm:tagged"
    cloudwatch.tag_resource(
        ResourceARN=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    cloudwatch.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]
    code, _, status = _refused(cloudwatch.list_tags_for_resource, ResourceARN=arn + "-gone")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_bad_alarm_requests_get_cloudwatchs_errors(raw_cloudwatch: Any) -> None:
    put = raw_cloudwatch.put_metric_alarm
    base: dict[str, Any] = {
        "AlarmName": "bad",
        "Namespace": "Shop",
        "MetricName": "Latency",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    assert _refused(put, **{**base, "AlarmName": "x" * 256})[0] == "InvalidParameterValue"
    no_threshold = {k: v for k, v in base.items() if k != "Threshold"}
    assert _refused(put, **no_threshold)[0] == "ValidationError"
    assert _refused(put, **{**base, "DatapointsToAlarm": 2})[0] == "ValidationError"
    assert _refused(put, **{**base, "TreatMissingData": "maybe"})[0] == "ValidationError"
    six = [f"arn:aws:sns:us-east-1:123456789012:t{i}" for i in range(6)]
    assert _refused(put, **{**base, "AlarmActions": six})[0] == "ValidationError"
    assert _refused(put, **{**base, "ExtendedStatistic": "p99"})[0] == (
        "InvalidParameterCombination"
    )
    assert (
        _refused(put, **{**no_threshold, "ComparisonOperator": "LessThanLowerThreshold"})[0]
        == "ValidationError"
    )
    missing = dict(base)
    del missing["EvaluationPeriods"]
    assert _refused(put, **missing)[0] == "MissingParameter"
    code, _, status = _refused(
        raw_cloudwatch.set_alarm_state, AlarmName="nope", StateValue="OK", StateReason="x"
    )
    assert (code, status) == ("ResourceNotFound", 404)
    put(**base)
    code, _, _ = _refused(
        raw_cloudwatch.set_alarm_state,
        AlarmName="bad",
        StateValue="OK",
        StateReason="x",
        StateReasonData="{not json",
    )
    assert code == "InvalidFormat"
    assert _refused(raw_cloudwatch.describe_alarms, MaxRecords=101)[0] == "ValidationError"
    many = [f"a{i}" for i in range(101)]
    assert _refused(raw_cloudwatch.describe_alarms, AlarmNames=many)[0] == "ValidationError"
    assert _refused(raw_cloudwatch.delete_alarms, AlarmNames=many)[0] == "ValidationError"


# ---- the check ---------------------------------------------------------------------

FAILING = "def handler(event, context):\n    raise RuntimeError('boom')\n"
PAGER = "import json\ndef handler(event, context):\n    print('ALARM-EVENT ' + json.dumps(event))\n"
EVALUATE = """
import sys
import django
django.setup()
from console.celery import app
app.loader.import_default_modules()
from monitoring.metrics.alarms.tasks import alarms_evaluate
print(alarms_evaluate.apply(args=(float(sys.argv[1]),)).get())
"""


def _evaluate(server: LiveServer, now: float) -> str:
    """Run the evaluation task in a process of the server's (its database, its broker, as a
    worker would), as of ``now``."""
    result = subprocess.run(
        [sys.executable, "-c", EVALUATE, str(now)],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pager_events(logs: Any, name: str) -> list[dict[str, Any]]:
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")
    except ClientError:
        return []
    return [
        json.loads(e["message"].split("ALARM-EVENT ", 1)[1])
        for e in found["events"]
        if "ALARM-EVENT " in e["message"]
    ]


def _until(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_an_errors_alarm_fires_after_a_failing_invoke_and_invokes_its_target(
    functory: LiveServer, lam: Any, credentials: Credentials
) -> None:
    client = client_for(functory, credentials, "cloudwatch")
    logs = client_for(functory, credentials, "logs")
    create_function(lam, "flaky", Code={"ZipFile": make_zip({"app.py": FAILING})})
    create_function(lam, "pager", Code={"ZipFile": make_zip({"app.py": PAGER})})
    create_function(lam, "unpermitted", Code={"ZipFile": make_zip({"app.py": PAGER})})
    alarm_arn = f"arn:aws:cloudwatch:us-east-1:{credentials.account_id}:alarm:flaky-errors"
    lam.add_permission(
        FunctionName="pager",
        StatementId="alarms",
        Action="lambda:InvokeFunction",
        Principal="lambda.alarms.cloudwatch.amazonaws.com",
        SourceArn=alarm_arn,
    )
    pager = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:pager"
    unpermitted = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:unpermitted"
    client.put_metric_alarm(
        AlarmName="flaky-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "flaky"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[pager, unpermitted],
    )
    failed_at = time.time()
    answer = lam.invoke(FunctionName="flaky", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"

    def errors_recorded() -> float | None:
        """The start of the minute the error was counted in (the invoke may end in the
        minute after the one it started in)."""
        points = client.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": "flaky"}],
            StartTime=dt.datetime.fromtimestamp(failed_at - 120, dt.UTC),
            EndTime=dt.datetime.fromtimestamp(failed_at + 120, dt.UTC),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return next((p["Timestamp"].timestamp() for p in points if p["Sum"] >= 1), None)

    minute = _until(errors_recorded)
    assert minute is not None
    # The first evaluation after the failing minute ends: that minute's tick, at most two
    # minutes after the invoke (the clock is the one thing injected).
    tick = minute + 60 + 1
    assert tick - failed_at <= 120
    _evaluate(functory, tick)
    [alarm] = client.describe_alarms(AlarmNames=["flaky-errors"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM", alarm["StateReason"]
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    events = _until(lambda: _pager_events(logs, "pager"))
    history = client.describe_alarm_history(AlarmName="flaky-errors")["AlarmHistoryItems"]
    assert len(events) == 1, (history, async_rows(functory, "pager"))
    [event] = events
    assert event["source"] == "aws.cloudwatch"
    assert event["alarmArn"] == alarm_arn
    assert event["accountId"] == credentials.account_id
    assert event["region"] == "us-east-1"
    data = event["alarmData"]
    assert data["alarmName"] == "flaky-errors"
    assert data["state"]["value"] == "ALARM"
    # The server's own beat may have evaluated the quiet minute before (notBreaching: OK).
    assert data["previousState"]["value"] in ("INSUFFICIENT_DATA", "OK")
    assert json.loads(data["state"]["reasonData"])["threshold"] == 1.0
    [metric] = data["configuration"]["metrics"]
    assert metric["metricStat"]["metric"] == {
        "namespace": "AWS/Lambda",
        "name": "Errors",
        "dimensions": {"FunctionName": "flaky"},
    }
    assert metric["metricStat"]["period"] == 60 and metric["metricStat"]["stat"] == "Sum"
    actions = {
        json.loads(item["HistoryData"])["notificationResource"]: item
        for item in client.describe_alarm_history(
            AlarmName="flaky-errors", HistoryItemType="Action"
        )["AlarmHistoryItems"]
    }
    assert actions[pager]["HistorySummary"] == f"Successfully executed action {pager}"
    assert actions[unpermitted]["HistorySummary"].startswith(
        f"Failed to execute action {unpermitted}"
    )
    refusal = json.loads(actions[unpermitted]["HistoryData"])
    assert refusal["actionState"] == "Failed"
    assert "lambda.alarms.cloudwatch.amazonaws.com" in refusal["error"]
    # Evaluated again in the same minute: nothing more happens (one transition, one event).
    _evaluate(functory, tick + 5)
    time.sleep(1)
    assert len(_pager_events(logs, "pager")) == 1


def test_the_aws_cli_puts_and_describes_an_alarm(
    functory: LiveServer, credentials: Credentials, tmp_path: Path
) -> None:
    _cli(
        functory,
        credentials,
        tmp_path,
        "put-metric-alarm",
        "--alarm-name", "cli-alarm",
        "--namespace", "Shop",
        "--metric-name", "Orders",
        "--statistic", "Sum",
        "--period", "300",
        "--evaluation-periods", "2",
        "--threshold", "10",
        "--comparison-operator", "LessThanThreshold",
        "--treat-missing-data", "breaching",
        "--dimensions", "Name=Store,Value=a",
    )  # fmt: skip
    described = _cli(
        functory, credentials, tmp_path, "describe-alarms", "--alarm-names", "cli-alarm"
    )
    [alarm] = described["MetricAlarms"]
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Period"] == 300 and alarm["Threshold"] == 10.0
    assert alarm["Dimensions"] == [{"Name": "Store", "Value": "a"}]
    _cli(functory, credentials, tmp_path, "delete-alarms", "--alarm-names", "cli-alarm")
    assert _cli(functory, credentials, tmp_path, "describe-alarms")["MetricAlarms"] == []
