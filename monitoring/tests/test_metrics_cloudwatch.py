"""CloudWatch GetMetricStatistics for AWS/Lambda, through boto3 and the real AWS CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import client_error, client_for, create_function, create_user, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

AWS = str(Path(sys.executable).with_name("aws"))
APP = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return "ok"
"""


def _window() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {"StartTime": now - dt.timedelta(minutes=10), "EndTime": now + dt.timedelta(minutes=2)}


def _total(datapoints: list[dict], stat: str) -> float:
    return sum(point[stat] for point in datapoints)


@pytest.fixture
def invoked(lam):
    """A function invoked three times, once failing, then as version 1 once."""
    create_function(lam, "watched", Code={"ZipFile": make_zip({"app.py": APP})})
    lam.publish_version(FunctionName="watched")
    for fail in (False, True, False):
        lam.invoke(FunctionName="watched", Payload=json.dumps({"fail": fail}))
    lam.invoke(FunctionName="watched", Qualifier="1", Payload=b"{}")
    return "watched"


def test_get_metric_statistics_answers_lambda_metrics(functory, credentials, invoked):
    cloudwatch = client_for(functory, credentials, "cloudwatch")

    def stats(metric: str, dimensions: list[dict], **kwargs) -> list[dict]:
        response = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=dimensions,
            Period=60,
            **_window(),
            **kwargs,
        )
        assert response["Label"] == metric
        return list(response["Datapoints"])

    function = [{"Name": "FunctionName", "Value": invoked}]
    invocations = stats("Invocations", function, Statistics=["Sum", "SampleCount"])
    assert _total(invocations, "Sum") == 4
    assert _total(invocations, "SampleCount") == 4
    assert all(point["Unit"] == "Count" for point in invocations)
    assert all(isinstance(point["Timestamp"], dt.datetime) for point in invocations)
    assert all(point["Timestamp"].second == 0 for point in invocations)
    assert _total(stats("Errors", function, Statistics=["Sum"]), "Sum") == 1
    version = [{"Name": "Resource", "Value": f"{invoked}:1"}]
    assert _total(stats("Invocations", version, Statistics=["Sum"]), "Sum") == 1
    assert _total(stats("Invocations", [], Statistics=["Sum"]), "Sum") == 4

    durations = stats("Duration", function, Statistics=["Maximum", "SampleCount"])
    assert _total(durations, "SampleCount") == 4
    assert all(point["Unit"] == "Milliseconds" for point in durations)
    percentiles = stats("Duration", function, ExtendedStatistics=["p50", "p99"])
    for point, plain in zip(percentiles, durations, strict=True):
        assert 0 < point["ExtendedStatistics"]["p50"] <= point["ExtendedStatistics"]["p99"]
        assert point["ExtendedStatistics"]["p99"] <= plain["Maximum"]

    # Another namespace or an unknown dimension has no data, as CloudWatch answers.
    assert (
        stats("Invocations", [{"Name": "ExecutedVersion", "Value": "1"}], Statistics=["Sum"]) == []
    )
    other = cloudwatch.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="Invocations", Period=60, Statistics=["Sum"], **_window()
    )
    assert other["Datapoints"] == []


def test_another_account_sees_none_of_the_functions_metrics(functory, invoked):
    stranger = client_for(functory, create_user(functory), "cloudwatch")
    response = stranger.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": invoked}],
        Period=60,
        Statistics=["Sum"],
        **_window(),
    )
    assert response["Datapoints"] == []


def test_get_metric_statistics_errors_as_cloudwatch_reports_them(functory, credentials):
    cloudwatch = client_for(functory, credentials, "cloudwatch", validate=False)
    now = dt.datetime.now(dt.UTC)
    base = {"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Period": 60}
    cases = [
        (
            {**base, "StartTime": now - dt.timedelta(hours=1), "EndTime": now},
            "InvalidParameterCombination",
            "Must specify either Statistics or ExtendedStatistics",
        ),
        (
            {
                **base,
                "StartTime": now - dt.timedelta(days=2),
                "EndTime": now,
                "Statistics": ["Sum"],
            },
            "InvalidParameterCombination",
            "exceeds the limit of 1,440",
        ),
        (
            {
                **base,
                "Period": 90,
                "StartTime": now - dt.timedelta(hours=1),
                "EndTime": now,
                "Statistics": ["Sum"],
            },
            "InvalidParameterValue",
            "must be a multiple of 60",
        ),
        (
            {
                **base,
                "StartTime": now,
                "EndTime": now - dt.timedelta(hours=1),
                "Statistics": ["Sum"],
            },
            "InvalidParameterValue",
            "StartTime must be less than",
        ),
        (
            {
                **base,
                "StartTime": now - dt.timedelta(hours=1),
                "EndTime": now,
                "Statistics": ["Median"],
            },
            "InvalidParameterValue",
            "invalid value: Median",
        ),
    ]
    for params, code, message in cases:
        with pytest.raises(ClientError) as excinfo:
            cloudwatch.get_metric_statistics(**params)
        got_code, got_message, status = client_error(excinfo)
        assert (got_code, status) == (code, 400)
        assert message in got_message


def test_the_aws_cli_gets_metric_statistics(functory, credentials, invoked, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    window = _window()
    result = subprocess.run(
        [
            AWS,
            "cloudwatch",
            "get-metric-statistics",
            "--namespace",
            "AWS/Lambda",
            "--metric-name",
            "Invocations",
            "--dimensions",
            f"Name=FunctionName,Value={invoked}",
            "--statistics",
            "Sum",
            "--period",
            "60",
            "--start-time",
            window["StartTime"].isoformat(),
            "--end-time",
            window["EndTime"].isoformat(),
            "--endpoint-url",
            functory.url,
            "--output",
            "json",
        ],
        env={
            "PATH": os.environ.get("PATH", ""),
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["Label"] == "Invocations"
    assert sum(point["Sum"] for point in output["Datapoints"]) == 4
