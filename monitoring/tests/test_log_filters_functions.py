"""Log filters on real functions' log groups: a metric filter turns what a function prints
into CloudWatch metrics; a subscription filter hands its lines to another function."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import time
from typing import Any

import pytest

from conftest import LiveServer, client_for, create_function, create_user, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

PRINTER = """
import json

def handler(event, context):
    for latency in event.get("latencies", []):
        print(json.dumps({"level": "INFO", "op": "checkout", "latency": latency}))
    print("plain text line")
    return "ok"
"""

# Prints the event it receives as it is: the test decodes it.
RECEIVER = """
import json

def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    return "ok"
"""


def _wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _function(lam: Any, name: str, code: str) -> str:
    arn: str = create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})}, Timeout=30)[
        "FunctionArn"
    ]
    return arn


def test_a_metric_filter_on_a_functions_group_publishes_what_it_prints(functory: LiveServer):
    user = create_user(functory)
    lam = client_for(functory, user)
    logs = client_for(functory, user, "logs")
    cloudwatch = client_for(functory, user, "cloudwatch")
    _function(lam, "shop", PRINTER)
    logs.create_log_group(logGroupName="/aws/lambda/shop")
    logs.put_metric_filter(
        logGroupName="/aws/lambda/shop",
        filterName="latency",
        filterPattern='{ $.level = "INFO" && $.latency > 0 }',
        metricTransformations=[
            {
                "metricName": "CheckoutLatency",
                "metricNamespace": "Shop",
                "metricValue": "$.latency",
                "unit": "Milliseconds",
                "dimensions": {"Operation": "$.op"},
            }
        ],
    )
    response = lam.invoke(FunctionName="shop", Payload=json.dumps({"latencies": [100, 300, 0]}))
    assert "FunctionError" not in response

    def datapoints() -> list[float]:
        now = dt.datetime.now(dt.UTC)
        result = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "latency",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "Shop",
                            "MetricName": "CheckoutLatency",
                            "Dimensions": [{"Name": "Operation", "Value": "checkout"}],
                        },
                        "Period": 300,
                        "Stat": "Sum",
                    },
                },
                {
                    "Id": "count",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "Shop",
                            "MetricName": "CheckoutLatency",
                            "Dimensions": [{"Name": "Operation", "Value": "checkout"}],
                        },
                        "Period": 300,
                        "Stat": "SampleCount",
                    },
                },
            ],
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=5),
        )["MetricDataResults"]
        return [sum(r["Values"]) for r in result] if result[0]["Values"] else []

    assert _wait_for(datapoints) == [400.0, 2.0]
    metrics = cloudwatch.list_metrics(Namespace="Shop")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["CheckoutLatency"]


def test_a_subscription_filter_delivers_a_functions_lines_to_another_function(
    functory: LiveServer,
):
    user = create_user(functory)
    lam = client_for(functory, user)
    logs = client_for(functory, user, "logs")
    _function(lam, "shop", PRINTER)
    receiver = _function(lam, "receiver", RECEIVER)
    lam.add_permission(
        FunctionName="receiver",
        StatementId="from-logs",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn=f"arn:aws:logs:us-east-1:{user.account_id}:log-group:/aws/lambda/shop:*",
    )
    logs.create_log_group(logGroupName="/aws/lambda/shop")
    logs.put_subscription_filter(
        logGroupName="/aws/lambda/shop",
        filterName="checkout",
        filterPattern="{ $.op = checkout }",
        destinationArn=receiver,
    )
    lam.invoke(FunctionName="shop", Payload=json.dumps({"latencies": [5, 6]}))

    def received() -> list[dict[str, Any]]:
        try:
            events = logs.filter_log_events(
                logGroupName="/aws/lambda/receiver", filterPattern="RECEIVED"
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [json.loads(e["message"][len("RECEIVED ") :]) for e in events]

    def delivered() -> list[dict[str, Any]]:
        """Every delivery's payload, once both lines have arrived (the log writer may have
        stored them in one batch or two: one delivery per stored batch, as on AWS)."""
        payloads = [
            json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
            for event in received()
        ]
        lines = sum(len(payload["logEvents"]) for payload in payloads)
        return payloads if lines >= 2 else []

    payloads = _wait_for(delivered)
    assert payloads
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/shop")["logStreams"]
    for data in payloads:
        assert data["messageType"] == "DATA_MESSAGE"
        assert data["owner"] == user.account_id
        assert data["logGroup"] == "/aws/lambda/shop"
        assert data["subscriptionFilters"] == ["checkout"]
        assert data["logStream"] in {s["logStreamName"] for s in streams}
        assert all(isinstance(e["timestamp"], int) for e in data["logEvents"])
    events = sorted((e for data in payloads for e in data["logEvents"]), key=lambda e: e["id"])
    assert [json.loads(e["message"])["latency"] for e in events] == [5, 6]
    stored = logs.filter_log_events(logGroupName="/aws/lambda/shop", filterPattern="checkout")
    assert [e["id"] for e in events] == [e["eventId"] for e in stored["events"]]


def test_a_function_subscribed_to_its_own_group_runs_once_per_outside_call(
    functory: LiveServer,
):
    user = create_user(functory)
    lam = client_for(functory, user)
    logs = client_for(functory, user, "logs")
    arn = _function(lam, "echo", RECEIVER)
    lam.add_permission(
        FunctionName="echo",
        StatementId="from-logs",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
    )
    logs.create_log_group(logGroupName="/aws/lambda/echo")
    logs.put_subscription_filter(
        logGroupName="/aws/lambda/echo", filterName="self", filterPattern="", destinationArn=arn
    )
    outside = [
        lam.invoke(FunctionName="echo", Payload=json.dumps({"from": n}))["ResponseMetadata"][
            "RequestId"
        ]
        for n in range(3)
    ]

    def runs() -> int:
        events = logs.filter_log_events(
            logGroupName="/aws/lambda/echo", filterPattern='"START RequestId"'
        )["events"]
        return len(events)

    # Deliveries settle: their own lines are never delivered again (however the writer
    # happened to batch the outside calls' lines).
    seen = [-1]

    def settled() -> bool:
        now = runs()
        if now == seen[0] and now > len(outside):
            return True
        seen[0] = now
        time.sleep(2)
        return False

    assert _wait_for(settled) is True
    delivered: list[str] = []
    for event in logs.filter_log_events(
        logGroupName="/aws/lambda/echo", filterPattern='"RECEIVED"'
    )["events"]:
        payload = json.loads(event["message"].removeprefix("RECEIVED ").strip())
        if "awslogs" not in payload:
            continue  # an outside call's own event
        data = json.loads(gzip.decompress(base64.b64decode(payload["awslogs"]["data"])))
        delivered += [
            line["message"].split()[2]
            for line in data["logEvents"]
            if line["message"].startswith("START RequestId:")
        ]
    # Each outside call's lines were delivered once; no delivery's own lines were.
    assert sorted(delivered) == sorted(outside)
