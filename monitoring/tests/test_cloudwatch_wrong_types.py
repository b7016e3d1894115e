"""Every member of every CloudWatch operation, given a value of the wrong type (as a client
without validation or a crafted CBOR body sends), is answered with an AWS error, never an
unhandled exception (a 500)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from awsapi.errors import AWSError
from iam import services as accounts
from monitoring.metrics.cloudwatch import OPERATIONS

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
STAT = {
    "Metric": {
        "Namespace": "App",
        "MetricName": "m",
        "Dimensions": [{"Name": "d", "Value": "v"}],
    },
    "Period": 60,
    "Stat": "Sum",
    "Unit": "Count",
}
VALID: dict[str, dict[str, Any]] = {
    "PutMetricData": {
        "Namespace": "App",
        "MetricData": [
            {
                "MetricName": "m",
                "Dimensions": [{"Name": "d", "Value": "v"}],
                "Timestamp": NOW,
                "Values": [1.0],
                "Counts": [1.0],
                "Unit": "Count",
                "StorageResolution": 60,
            },
            {
                "MetricName": "m",
                "StatisticValues": {"SampleCount": 1.0, "Sum": 1.0, "Minimum": 1.0, "Maximum": 1.0},
            },
        ],
        "EntityMetricData": [{"Entity": {}, "MetricData": [{"MetricName": "e", "Value": 1.0}]}],
    },
    "ListMetrics": {
        "Namespace": "App",
        "MetricName": "m",
        "Dimensions": [{"Name": "d", "Value": "v"}],
        "RecentlyActive": "PT3H",
        "NextToken": "x",
    },
    "GetMetricData": {
        "MetricDataQueries": [
            {"Id": "m1", "MetricStat": STAT, "Label": "l", "ReturnData": True},
            {"Id": "e1", "Expression": "m1 * 2", "Period": 60},
        ],
        "StartTime": NOW - dt.timedelta(hours=1),
        "EndTime": NOW,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 10,
        "NextToken": "x",
    },
    "GetMetricStatistics": {
        "Namespace": "App",
        "MetricName": "m",
        "Dimensions": [{"Name": "d", "Value": "v"}],
        "StartTime": NOW - dt.timedelta(hours=1),
        "EndTime": NOW,
        "Period": 60,
        "Statistics": ["Sum"],
        "Unit": "Count",
    },
    "PutMetricAlarm": {
        "AlarmName": "a",
        "AlarmDescription": "d",
        "ActionsEnabled": True,
        "OKActions": ["arn:aws:sns:us-east-1:123456789012:t"],
        "AlarmActions": ["arn:aws:lambda:us-east-1:123456789012:function:f"],
        "InsufficientDataActions": ["arn:aws:automate:us-east-1:ec2:stop"],
        "MetricName": "m",
        "Namespace": "App",
        "Statistic": "Sum",
        "Dimensions": [{"Name": "d", "Value": "v"}],
        "Period": 60,
        "Unit": "Count",
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
        "EvaluateLowSampleCountPercentile": "ignore",
        "Tags": [{"Key": "k", "Value": "v"}],
    },
    # A math alarm (under another key: one operation, two shapes).
    "PutMetricAlarm ": {
        "AlarmName": "b",
        "Metrics": [
            {"Id": "m1", "MetricStat": STAT, "ReturnData": False},
            {"Id": "e1", "Expression": "m1 * 2", "Label": "l", "Period": 60},
            {"Id": "t1", "Expression": "[m1 * 0, m1 * 0 + 5]"},
        ],
        "ThresholdMetricId": "t1",
        "EvaluationPeriods": 1,
        "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
    },
    "DescribeAlarms": {
        "AlarmNames": ["a"],
        "StateValue": "OK",
        "ActionPrefix": "arn:",
        "AlarmTypes": ["MetricAlarm"],
        "MaxRecords": 10,
        "NextToken": "x",
    },
    "DescribeAlarmsForMetric": {
        "MetricName": "m",
        "Namespace": "App",
        "Statistic": "Sum",
        "Dimensions": [{"Name": "d", "Value": "v"}],
        "Period": 60,
        "Unit": "Count",
    },
    "DeleteAlarms": {"AlarmNames": ["gone"]},
    "SetAlarmState": {
        "AlarmName": "a",
        "StateValue": "ALARM",
        "StateReason": "r",
        "StateReasonData": "{}",
    },
    "DescribeAlarmHistory": {
        "AlarmName": "a",
        "AlarmTypes": ["MetricAlarm"],
        "HistoryItemType": "StateUpdate",
        "StartDate": NOW - dt.timedelta(hours=1),
        "EndDate": NOW + dt.timedelta(hours=1),
        "MaxRecords": 10,
        "ScanBy": "TimestampAscending",
        "NextToken": "x",
    },
    "EnableAlarmActions": {"AlarmNames": ["a"]},
    "DisableAlarmActions": {"AlarmNames": ["a"]},
    "TagResource": {
        "ResourceARN": "arn:aws:cloudwatch:us-east-1:730000000001:alarm:a",
        "Tags": [{"Key": "k2", "Value": "v"}],
    },
    "UntagResource": {
        "ResourceARN": "arn:aws:cloudwatch:us-east-1:730000000001:alarm:a",
        "TagKeys": ["k2"],
    },
    "ListTagsForResource": {"ResourceARN": "arn:aws:cloudwatch:us-east-1:730000000001:alarm:a"},
}
WRONG: list[Any] = [None, True, 7, -1.5, float("nan"), "x", "", [], [[]], {}, {"a": []}, NOW]


def _variants(value: Any) -> Iterator[Any]:
    """``value`` with one member (at any depth) replaced by each wrong value, or removed."""
    if isinstance(value, dict):
        for key, member in value.items():
            for replaced in (*WRONG, *_variants(member)):
                yield {**value, key: replaced}
            yield {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list):
        for index, member in enumerate(value):
            for replaced in (*WRONG, *_variants(member)):
                yield [*value[:index], replaced, *value[index + 1 :]]


def test_the_valid_requests_are_valid() -> None:
    account = accounts.account_get_or_create("730000000001")
    now = NOW.timestamp() + 60
    for operation, params in VALID.items():
        request = {k: v for k, v in params.items() if k != "NextToken"}
        OPERATIONS[operation.strip()](account.id, request, now)


@pytest.mark.parametrize("operation", sorted(VALID))
def test_a_member_of_the_wrong_type_is_an_aws_error(operation: str) -> None:
    account = accounts.account_get_or_create("730000000001")  # the ARNs above name it
    now = NOW.timestamp() + 60
    handler = OPERATIONS[operation.strip()]
    # The alarm the alarm operations name exists (so that they get past the lookup).
    OPERATIONS["PutMetricAlarm"](account.id, {**VALID["PutMetricAlarm"], "Tags": []}, now)
    tried = 0
    for params in _variants(VALID[operation]):
        tried += 1
        try:
            handler(account.id, params, now)
        except AWSError as error:
            assert 400 <= error.status < 500, (params, error.message)
    assert tried >= len(WRONG)
