"""A rule target's dead-letter queue end to end: boto3's EventBridge calls on a live server
(its own Celery worker sends the dead letter), the queue on a moto server, the rule's
AWS/Events metrics through boto3's GetMetricStatistics."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import (
    AwsPeer,
    LiveServer,
    client_for,
    create_function,
    create_user,
    make_zip,
    run_server,
)

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory, {**aws_peer.env, "FUNCTORY_METRICS_FLUSH_SECONDS": "1"})


def test_an_event_a_function_refuses_reaches_the_targets_dlq_and_the_rules_metrics(
    functory: LiveServer, aws_peer: AwsPeer
) -> None:
    credentials = create_user(functory)
    lam = client_for(functory, credentials)
    events = client_for(functory, credentials, "events")
    cloudwatch = client_for(functory, credentials, "cloudwatch")
    sqs = aws_peer.client("sqs")
    # The function's policy does not let events.amazonaws.com invoke it.
    function_arn = create_function(lam, "private", Code={"ZipFile": make_zip()})["FunctionArn"]
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule_arn = events.put_rule(
        Name="orders", EventPattern=json.dumps({"source": ["com.example.orders"]})
    )["RuleArn"]
    target = {
        "Id": "t1",
        "Arn": function_arn,
        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120},
        "DeadLetterConfig": {"Arn": queue_arn},
    }
    assert events.put_targets(Rule="orders", Targets=[target])["FailedEntryCount"] == 0
    (listed,) = events.list_targets_by_rule(Rule="orders")["Targets"]
    assert listed["DeadLetterConfig"] == {"Arn": queue_arn}
    assert listed["RetryPolicy"] == target["RetryPolicy"]

    entry = {"Source": "com.example.orders", "DetailType": "Order", "Detail": '{"id": 1}'}
    (result,) = events.put_events(Entries=[entry])["Entries"]

    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=2
        ).get("Messages", [])
    (message,) = messages
    assert json.loads(message["Body"])["id"] == result["EventId"]
    got = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert got["RULE_ARN"] == rule_arn
    assert got["TARGET_ARN"] == function_arn
    assert got["ERROR_CODE"] == "NO_PERMISSIONS"
    assert got["RETRY_ATTEMPTS"] == "0"

    def total(metric: str) -> float:
        now = dt.datetime.now(dt.UTC)
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/Events",
            MetricName=metric,
            Dimensions=[{"Name": "RuleName", "Value": "orders"}],
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=2),
            Period=60,
            Statistics=["Sum"],
        )
        return sum(point["Sum"] for point in answer["Datapoints"])

    wanted = {"MatchedEvents": 1, "FailedInvocations": 1, "InvocationsSentToDlq": 1}
    deadline = time.monotonic() + 30
    while {m: total(m) for m in wanted} != wanted:
        assert time.monotonic() < deadline, {m: total(m) for m in wanted}
        time.sleep(0.5)

    # A dead-letter queue that is not an SQS queue is refused.
    target["DeadLetterConfig"] = {"Arn": "arn:aws:sns:us-east-1:123456789012:topic"}
    with pytest.raises(ClientError) as refused:
        events.put_targets(Rule="orders", Targets=[target])
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_throttled_target_is_retried_by_the_worker_then_dead_lettered(
    functory: LiveServer, aws_peer: AwsPeer
) -> None:
    credentials = create_user(functory)
    lam = client_for(functory, credentials)
    events = client_for(functory, credentials, "events")
    sqs = aws_peer.client("sqs")
    function_arn = create_function(lam, "throttled", Code={"ZipFile": make_zip()})["FunctionArn"]
    lam.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=0)
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule_arn = events.put_rule(
        Name="nightly", EventPattern=json.dumps({"source": ["com.example.batch"]})
    )["RuleArn"]
    lam.add_permission(
        FunctionName="throttled",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    target = {
        "Id": "t1",
        "Arn": function_arn,
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600},
        "DeadLetterConfig": {"Arn": queue_arn},
    }
    assert events.put_targets(Rule="nightly", Targets=[target])["FailedEntryCount"] == 0
    entry = {"Source": "com.example.batch", "DetailType": "Run", "Detail": "{}"}
    events.put_events(Entries=[entry])

    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=2
        ).get("Messages", [])
    (message,) = messages
    got = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert got["ERROR_CODE"] == "THROTTLING"
    assert got["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert got["RETRY_ATTEMPTS"] == "2"
