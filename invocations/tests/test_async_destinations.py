"""Dead-letter queues and destinations end to end: boto3 against a live server whose
worker delivers to a moto server (SQS, SNS) and to other functions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import (
    AwsPeer,
    Credentials,
    LiveServer,
    client_error,
    client_for,
    create_function,
    make_zip,
    run_server,
)
from console.tests.raw_http import signed
from invocations.asynchronous import retry_delay

pytestmark = pytest.mark.live

RETRY_BASE_SECONDS = 1.0
FAILING = "def handler(event, context):\n    raise ValueError('nope ' + str(event['n']))\n"


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Iterator[LiveServer]:
    """A server of its own: short retries, records sent to the moto server."""
    yield from run_server(
        tmp_path_factory,
        {"FUNCTORY_ASYNC_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS), **aws_peer.env},
    )


def _name() -> str:
    return f"dest-{uuid.uuid4().hex[:8]}"


def _queue(aws_peer: AwsPeer) -> tuple[Any, str, str]:
    sqs = aws_peer.client("sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, url, arn


def _messages(sqs: Any, url: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """Wait for ``count`` messages on the queue (and a little longer for any extra)."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        found += sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", [])
    assert len(found) >= count, f"{len(found)} of {count} messages arrived"
    found += sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    ).get("Messages", [])
    return found


def _starts(logs: Any, name: str) -> list[dict[str, Any]]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except Exception:
        return []
    return [e for e in events if e["message"].startswith("START RequestId:")]


def test_a_failing_event_is_tried_three_times_then_lands_in_the_dead_letter_queue(
    lam: Any, functory: LiveServer, credentials: Credentials, aws_peer: AwsPeer
) -> None:
    sqs, url, queue_arn = _queue(aws_peer)
    name = _name()
    create_function(
        lam,
        name,
        Code={"ZipFile": make_zip({"app.py": FAILING})},
        DeadLetterConfig={"TargetArn": queue_arn},
    )
    payload = json.dumps({"n": 41})
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    request_id = response["ResponseMetadata"]["RequestId"]

    (message,) = _messages(sqs, url, 1)
    assert message["Body"] == payload
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "nope 41"}

    starts = _starts(client_for(functory, credentials, "logs"), name)
    assert len(starts) == 3
    # The worker waited out each retry's delay (at least: a loaded machine only adds to it).
    times = sorted(s["timestamp"] for s in starts)
    for retry, gap in enumerate((times[1] - times[0], times[2] - times[1]), start=1):
        assert gap >= 1000 * retry_delay(retry, base=RETRY_BASE_SECONDS) * 0.9


def test_on_failure_and_on_success_destinations_get_the_aws_invocation_record(
    lam: Any, aws_peer: AwsPeer
) -> None:
    sqs, url, queue_arn = _queue(aws_peer)
    failing, succeeding = _name(), _name()
    create_function(lam, failing, Code={"ZipFile": make_zip({"app.py": FAILING})})
    lam.put_function_event_invoke_config(
        FunctionName=failing,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    code = "def handler(event, context):\n    return {'doubled': event['n'] * 2}\n"
    create_function(lam, succeeding, Code={"ZipFile": make_zip({"app.py": code})})
    lam.publish_version(FunctionName=succeeding)
    lam.create_alias(FunctionName=succeeding, Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(
        FunctionName=succeeding,
        Qualifier="live",
        DestinationConfig={"OnSuccess": {"Destination": queue_arn}},
    )
    failed = lam.invoke(FunctionName=failing, InvocationType="Event", Payload='{"n": 1}')
    succeeded = lam.invoke(
        FunctionName=succeeding, Qualifier="live", InvocationType="Event", Payload='{"n": 21}'
    )

    messages = _messages(sqs, url, 2)
    assert len(messages) == 2  # one record each, none twice
    records = {
        r["requestContext"]["requestId"]: r for r in (json.loads(m["Body"]) for m in messages)
    }
    assert len(records) == 2
    failure = records[failed["ResponseMetadata"]["RequestId"]]
    assert failure["version"] == "1.0"
    assert failure["timestamp"].endswith("Z")
    assert failure["requestContext"]["functionArn"].endswith(f":function:{failing}:$LATEST")
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 1
    assert failure["requestPayload"] == {"n": 1}
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["responsePayload"]["errorMessage"] == "nope 1"
    assert failure["responsePayload"]["errorType"] == "ValueError"

    success = records[succeeded["ResponseMetadata"]["RequestId"]]
    assert success["requestContext"]["functionArn"].endswith(f":function:{succeeding}:live")
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "1"}
    assert success["responsePayload"] == {"doubled": 42}


def test_a_function_destination_is_invoked_with_the_record(
    lam: Any, functory: LiveServer, credentials: Credentials
) -> None:
    source, target = _name(), _name()
    receiver = (
        "import json\ndef handler(event, context):\n    print('RECORD ' + json.dumps(event))\n"
    )
    create_function(lam, target, Code={"ZipFile": make_zip({"app.py": receiver})})
    create_function(lam, source, Code={"ZipFile": make_zip({"app.py": FAILING})})
    target_arn = lam.get_function(FunctionName=target)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=source,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": target_arn}},
    )
    response = lam.invoke(FunctionName=source, InvocationType="Event", Payload='{"n": 5}')

    logs = client_for(functory, credentials, "logs")
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{target}", filterPattern="RECORD"
            )["events"]
        except Exception:
            events = []
        lines = [e["message"] for e in events if e["message"].startswith("RECORD ")]
        time.sleep(0.25)
    assert len(lines) == 1, "the destination function did not run"
    record = json.loads(lines[0].removeprefix("RECORD "))
    assert record["requestContext"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"n": 5}


def _metric(
    server: LiveServer, credentials: Credentials, name: str, metric: str, stat: str = "Sum"
) -> float:
    """The function's ``metric`` over the last few minutes (every period added up)."""
    points = client_for(server, credentials, "cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=[stat],
    )["Datapoints"]
    return float(sum(p[stat] for p in points))


def _wait_for_metric(
    server: LiveServer, credentials: Credentials, name: str, metric: str, stat: str = "Sum"
) -> float:
    """The metric once it is non-zero (workers flush every few seconds), or 0 after a minute."""
    deadline = time.monotonic() + 60
    while not (value := _metric(server, credentials, name, metric, stat)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return value


def test_async_events_received_dropped_and_their_age_are_metrics(
    lam: Any, functory: LiveServer, credentials: Credentials
) -> None:
    name = _name()
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": FAILING})})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 0}')
    assert _wait_for_metric(functory, credentials, name, "AsyncEventsDropped") == 1
    assert _metric(functory, credentials, name, "AsyncEventsReceived") == 1
    # One age sample per attempt; the retry waited about a second more than the first.
    assert _metric(functory, credentials, name, "AsyncEventAge", "SampleCount") == 2
    assert _metric(functory, credentials, name, "AsyncEventAge", "Maximum") >= 900


def test_an_undeliverable_dead_letter_is_counted_in_dead_letter_errors(
    lam: Any, functory: LiveServer, credentials: Credentials
) -> None:
    name = _name()
    missing_queue = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    create_function(
        lam,
        name,
        Code={"ZipFile": make_zip({"app.py": FAILING})},
        DeadLetterConfig={"TargetArn": missing_queue},
    )
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 0}')
    assert _wait_for_metric(functory, credentials, name, "DeadLetterErrors") == 1
    assert _metric(functory, credentials, name, "DestinationDeliveryFailures") == 0
    listed = signed(
        functory, credentials, "GET", f"/_functory/async-invocations?FunctionName={name}"
    ).json()["AsyncInvocations"]
    (row,) = listed
    assert (row["Status"], row["Condition"], row["PendingDeliveries"]) == (
        "failed",
        "RetriesExhausted",
        [],
    )
    (failure,) = row["FailedDeliveries"]
    assert (failure["Kind"], failure["TargetArn"]) == ("dlq", missing_queue)
    assert "NonExistentQueue" in failure["Error"] or "QueueDoesNotExist" in failure["Error"]


def test_a_dead_letter_target_must_be_a_queue_or_a_topic(lam: Any) -> None:
    name = _name()
    create_function(lam, name)
    with pytest.raises(Exception) as excinfo:
        lam.update_function_configuration(
            FunctionName=name,
            DeadLetterConfig={"TargetArn": "arn:aws:lambda:us-east-1:123456789012:function:x"},
        )
    code, message, status = client_error(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "SQS queue or an Amazon SNS topic" in message
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    with pytest.raises(Exception) as excinfo:
        lam.update_function_configuration(
            FunctionName=name,
            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:" + "q" * 2100},
        )
    assert client_error(excinfo)[0] == "InvalidParameterValueException"


def test_with_reserved_concurrency_zero_events_go_to_the_dead_letter_queue_at_once(
    lam: Any, functory: LiveServer, credentials: Credentials, aws_peer: AwsPeer
) -> None:
    sqs, url, queue_arn = _queue(aws_peer)
    name = _name()
    create_function(
        lam,
        name,
        Code={"ZipFile": make_zip({"app.py": FAILING})},
        DeadLetterConfig={"TargetArn": queue_arn},
    )
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 3}')

    (message,) = _messages(sqs, url, 1, timeout=30)
    assert message["Body"] == '{"n": 3}'
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"]["StringValue"] == response["ResponseMetadata"]["RequestId"]
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "429"}
    assert _starts(client_for(functory, credentials, "logs"), name) == []
