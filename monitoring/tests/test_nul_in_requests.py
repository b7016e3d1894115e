"""A NUL character in any string a tenant sends to the Logs, CloudWatch or X-Ray APIs gets an
answer (stored as U+FFFD, as log lines are, or refused), never a 500: PostgreSQL's text
columns cannot hold it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import LiveServer, client_for, create_user

pytestmark = [pytest.mark.live]

NUL = "a\x00b"


def _answered(call: Any) -> Any:
    """The call's answer; an AWS error is an answer too, unless it is a 5xx."""
    try:
        return call()
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status < 500, error.response
        return None


def test_nul_characters_in_logs_metrics_and_traces_requests_are_answered(functory: LiveServer):
    user = create_user(functory)
    logs = client_for(functory, user, "logs")
    cloudwatch = client_for(functory, user, "cloudwatch")
    xray = client_for(functory, user, "xray")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now, "message": NUL}]
    )
    for pattern in (f'"{NUL}"', f'{{ $.x = "{NUL}" }}', f'[w="{NUL}", v]', "%a\x00b%"):
        _answered(lambda p=pattern: logs.filter_log_events(logGroupName="g", filterPattern=p))
    found = logs.filter_log_events(logGroupName="g", filterPattern='"a\ufffdb"')["events"]
    assert [event["message"] for event in found] == ["a\ufffdb"]
    _answered(
        lambda: logs.put_metric_filter(
            logGroupName="g",
            filterName=NUL,
            filterPattern=f'"{NUL}"',
            metricTransformations=[{"metricName": NUL, "metricNamespace": NUL, "metricValue": "1"}],
        )
    )
    _answered(lambda: logs.test_metric_filter(filterPattern=f'"{NUL}"', logEventMessages=[NUL]))
    _answered(
        lambda: logs.start_query(
            logGroupName="g",
            startTime=now // 1000 - 60,
            endTime=now // 1000 + 60,
            queryString=f'filter @message like "{NUL}"',
        )
    )
    _answered(lambda: logs.tag_resource(resourceArn=NUL, tags={NUL: NUL}))
    _answered(
        lambda: cloudwatch.put_metric_data(
            Namespace=NUL,
            MetricData=[
                {"MetricName": NUL, "Value": 1, "Dimensions": [{"Name": NUL, "Value": NUL}]}
            ],
        )
    )
    _answered(lambda: cloudwatch.list_metrics(Namespace=NUL))
    _answered(
        lambda: cloudwatch.put_metric_alarm(
            AlarmName=NUL,
            AlarmDescription=NUL,
            Namespace=NUL,
            MetricName=NUL,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    )
    _answered(lambda: cloudwatch.describe_alarms(AlarmNamePrefix=NUL))
    segment = {
        "name": NUL,
        "id": "70de5b6f19ff9a0a",
        "trace_id": "1-581cf771-a006649127e371903a2de979",
        "start_time": time.time(),
        "end_time": time.time(),
        "annotations": {NUL: NUL},
    }
    _answered(lambda: xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(segment)]))
