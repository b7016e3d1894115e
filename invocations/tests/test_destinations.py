"""Dead-letter queues and destinations, service level: what an ended event owes, the
records' shape, delivery to a real SQS/SNS peer (a moto server) and failures counted."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, transaction
from django.test import override_settings
from django.utils import timezone

from conftest import AwsPeer
from functions.models import EventInvokeConfig, FunctionVersion
from functions.tests.factories import function_row
from iam.models import Account
from invocations import asynchronous, destinations, taskqueue
from invocations.models import AsyncInvocation
from invocations.tests.factories import async_invocation_row
from monitoring.metrics.models import MetricPoint
from monitoring.metrics.recorder import recorder

Status = AsyncInvocation.Status
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:{}"


@pytest.fixture
def account(db: None) -> Account:
    return Account.objects.create(id="123456789012")


@pytest.fixture
def peer(aws_peer: AwsPeer) -> Iterator[AwsPeer]:
    """This process's deliveries go to the moto server (fresh clients for the settings)."""
    with override_settings(
        FUNCTORY_AWS_ENDPOINT_URL=aws_peer.url,
        FUNCTORY_AWS_ACCESS_KEY_ID="peer-key",
        FUNCTORY_AWS_SECRET_ACCESS_KEY="peer-secret",
    ):
        destinations._clients.clear()
        destinations._queue_urls.clear()
        yield aws_peer
    destinations._clients.clear()
    destinations._queue_urls.clear()


@pytest.fixture
def nowhere() -> Iterator[None]:
    """Deliveries go to a port nobody listens on: every send fails (for real)."""
    with override_settings(
        FUNCTORY_AWS_ENDPOINT_URL="http://127.0.0.1:9",
        FUNCTORY_AWS_ACCESS_KEY_ID="k",
        FUNCTORY_AWS_SECRET_ACCESS_KEY="s",
    ):
        destinations._clients.clear()
        destinations._queue_urls.clear()
        yield
    destinations._clients.clear()
    destinations._queue_urls.clear()


def _queue(peer: AwsPeer) -> tuple[Any, str, str]:
    sqs = peer.client("sqs")
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, url, arn


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    ).get("Messages", [])
    return messages


def _failed_event(account: Account, **fields: Any) -> AsyncInvocation:
    """An event that failed three times on a function error, as the worker leaves it."""
    now = timezone.now()
    values: dict[str, Any] = {
        "payload": b'{"order": 7}',
        "created": now - timedelta(minutes=3),
        "finished": now,
        "status": Status.FAILED,
        "condition": destinations.RETRIES_EXHAUSTED,
        "attempts": 3,
        "function_errors": 3,
        "executed_version": "$LATEST",
        "error_code": 200,
        "function_error": "Unhandled",
        "last_error": 'Unhandled: {"errorMessage": "nope"}',
        "response_payload": b'{"errorMessage": "nope", "errorType": "ValueError"}',
    }
    values.update(fields)
    return async_invocation_row(account, values.pop("function_name", "fn"), **values)


def _configure(account: Account, *, dead_letter: str = "", **config: Any) -> None:
    function = function_row(account, "fn")
    FunctionVersion.objects.filter(function=function).update(dead_letter_target_arn=dead_letter)
    if config:
        EventInvokeConfig.objects.create(
            function=function, qualifier="$LATEST", last_modified=timezone.now(), **config
        )


def test_the_record_of_a_failed_event_has_aws_shape(account: Account) -> None:
    event = _failed_event(account)
    record = destinations.invocation_record(event)
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
    assert record["requestContext"] == {
        "requestId": event.request_id,
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"] == {"errorMessage": "nope", "errorType": "ValueError"}


def test_the_record_of_an_event_invoked_through_an_alias_names_the_alias(
    account: Account,
) -> None:
    event = _failed_event(account, qualifier="live", executed_version="3")
    record = destinations.invocation_record(event)
    assert record["requestContext"]["functionArn"].endswith(":function:fn:live")
    assert record["responseContext"]["executedVersion"] == "3"


def test_a_dead_letter_message_carries_the_first_kilobyte_of_the_error(
    account: Account,
) -> None:
    long_message = "é" * 2000
    event = _failed_event(
        account, response_payload=json.dumps({"errorMessage": long_message}).encode()
    )
    attributes = destinations.dead_letter_attributes(event)
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": event.request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    message = attributes["ErrorMessage"]["StringValue"]
    assert len(message.encode()) <= 1024 and message == "é" * 512


def test_a_failed_event_owes_its_dead_letter_queue_and_its_on_failure_destination(
    account: Account,
) -> None:
    dead_letter = QUEUE_ARN.format("dlq")
    _configure(
        account,
        dead_letter=dead_letter,
        on_failure="arn:aws:sns:us-east-1:123456789012:failures",
        on_success="arn:aws:sqs:us-east-1:123456789012:successes",
    )
    event = _failed_event(account)
    config = asynchronous.event_invoke_settings(event).config
    assert destinations.delivery_plan(event, succeeded=False, config=config) == [
        {"kind": "dlq", "arn": dead_letter},
        {"kind": "destination", "arn": "arn:aws:sns:us-east-1:123456789012:failures"},
    ]
    assert destinations.delivery_plan(event, succeeded=True, config=config) == [
        {"kind": "destination", "arn": "arn:aws:sqs:us-east-1:123456789012:successes"}
    ]


def test_an_event_of_a_deleted_function_owes_nothing(account: Account) -> None:
    event = _failed_event(account, function_name="gone")
    assert destinations.delivery_plan(event, succeeded=False, config=None) == []


def test_an_event_past_its_maximum_age_lands_in_sqs_with_the_event_age_condition(
    account: Account, peer: AwsPeer
) -> None:
    sqs, url, arn = _queue(peer)
    _configure(account, maximum_event_age=60, on_failure=arn)
    event = AsyncInvocation.objects.create(
        account=account,
        function_name="fn",
        payload=b'{"late": true}',
        request_id=str(uuid.uuid4()),
        next_attempt_at=timezone.now(),
        created=timezone.now() - timedelta(seconds=61),
    )
    assert asynchronous.async_invocation_run(event.pk) == Status.FAILED
    (message,) = _receive(sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"late": True}
    assert "responsePayload" not in record
    event.refresh_from_db()
    assert event.deliveries == [] and not event.delivery_pending and event.claimed_until is None


def test_a_dead_letter_message_is_the_event_itself_with_the_aws_attributes(
    account: Account, peer: AwsPeer
) -> None:
    sqs, url, arn = _queue(peer)
    event = _failed_event(account, deliveries=[{"kind": "dlq", "arn": arn}], delivery_pending=True)
    assert destinations.deliveries_send(event.pk) == 0
    (message,) = _receive(sqs, url)
    assert message["Body"] == '{"order": 7}'
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"]["StringValue"] == event.request_id
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"]["StringValue"] == "nope"


def test_an_sns_destination_gets_the_record(account: Account, peer: AwsPeer) -> None:
    sqs, url, queue_arn = _queue(peer)
    sns = peer.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    event = _failed_event(
        account, deliveries=[{"kind": "destination", "arn": topic}], delivery_pending=True
    )
    assert destinations.deliveries_send(event.pk) == 0
    (message,) = _receive(sqs, url)
    assert json.loads(message["Body"])["requestContext"]["requestId"] == event.request_id


def test_undeliverable_records_are_counted_noted_and_not_retried(
    account: Account, nowhere: None
) -> None:
    event = _failed_event(
        account,
        deliveries=[
            {"kind": "dlq", "arn": QUEUE_ARN.format("dlq")},
            {"kind": "destination", "arn": QUEUE_ARN.format("records")},
        ],
        delivery_pending=True,
        claimed_until=timezone.now() + timedelta(minutes=1),
    )
    recorder.discard()
    assert destinations.deliveries_send(event.pk) == 2
    event.refresh_from_db()
    assert event.deliveries == [] and not event.delivery_pending and event.claimed_until is None
    assert [e["kind"] for e in event.delivery_errors] == ["dlq", "destination"]
    assert all("EndpointConnectionError" in e["error"] for e in event.delivery_errors)
    recorder.flush()
    # Summed over the function's points: the two failures may fall either side of a minute.
    points = MetricPoint.objects.filter(function_name="fn", qualifier="")
    assert sum(point.dead_letter_errors for point in points) == 1
    assert sum(point.destination_delivery_failures for point in points) == 1


def test_the_sweeper_resends_the_records_of_a_worker_that_died(
    account: Account, monkeypatch: pytest.MonkeyPatch, nowhere: None
) -> None:
    from invocations.tasks import async_invocation_deliver

    sent: list[int] = []
    monkeypatch.setattr(taskqueue, "enqueue_delivery", sent.append)
    _failed_event(  # a worker still holds this one
        account,
        deliveries=[{"kind": "dlq", "arn": QUEUE_ARN.format("dlq")}],
        delivery_pending=True,
        claimed_until=timezone.now() + timedelta(minutes=1),
    )
    abandoned = _failed_event(
        account,
        deliveries=[{"kind": "dlq", "arn": QUEUE_ARN.format("dlq")}],
        delivery_pending=True,
        claimed_until=timezone.now() - timedelta(seconds=1),
    )
    assert asynchronous.async_invocations_sweep() == 1
    assert sent == [abandoned.pk]
    # The sweeper leased it: the next sweep leaves it to the worker it went to.
    assert asynchronous.async_invocations_sweep() == 0
    # The task the sweeper queued sends what is left (here: to nowhere, so it is noted).
    assert async_invocation_deliver.apply(args=(abandoned.pk,)).get() == 1
    abandoned.refresh_from_db()
    assert not abandoned.delivery_pending and abandoned.deliveries == []
    assert [e["kind"] for e in abandoned.delivery_errors] == ["dlq"]


def test_ended_events_are_deleted_after_the_retention_but_waiting_ones_are_kept(
    account: Account,
) -> None:
    old = timezone.now() - timedelta(days=8)
    expired = _failed_event(account, finished=old)
    undelivered = _failed_event(
        account, finished=old, delivery_pending=True, deliveries=[{"kind": "dlq", "arn": "x"}]
    )
    recent = _failed_event(account)
    waiting = _failed_event(account, status=Status.RETRYING, finished=None, created=old)
    assert asynchronous.async_invocations_expire() == 1
    remaining = set(AsyncInvocation.objects.values_list("pk", flat=True))
    assert remaining == {undelivered.pk, recent.pk, waiting.pk}
    assert expired.pk not in remaining


def test_records_go_only_to_the_aws_accounts_the_operator_allows(
    account: Account, peer: AwsPeer
) -> None:
    sqs, url, arn = _queue(peer)  # in the moto account 123456789012
    event = _failed_event(account, deliveries=[{"kind": "dlq", "arn": arn}], delivery_pending=True)
    with override_settings(FUNCTORY_AWS_TARGET_ACCOUNTS=["111111111111"]):
        assert destinations.deliveries_send(event.pk) == 1
    assert _receive(sqs, url) == []
    event.refresh_from_db()
    (failure,) = event.delivery_errors
    assert "can't be sent to account 123456789012" in failure["error"]


def test_a_database_error_while_planning_keeps_the_attempt_instead_of_dropping_the_dlq(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(account, dead_letter=QUEUE_ARN.format("dlq"))
    event = _failed_event(account)

    def database_away(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(destinations, "function_resolve", database_away)
    with pytest.raises(OperationalError):
        destinations.delivery_plan(event, succeeded=False, config=None)


@pytest.mark.django_db(transaction=False)
def test_a_task_run_eagerly_inside_a_transaction_keeps_its_callers_connection(
    account: Account,
) -> None:
    from invocations.tasks import async_invocations_expire

    with transaction.atomic():
        _failed_event(account, finished=timezone.now() - timedelta(days=30))
        assert async_invocations_expire.apply().get() == 1
        # Still the same open transaction (on PostgreSQL a closed connection would raise).
        assert AsyncInvocation.objects.count() == 0


def test_an_s3_on_failure_destination_gets_the_record_as_a_json_object(
    account: Account, peer: AwsPeer
) -> None:
    s3 = peer.client("s3")
    bucket = f"records-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    event = _failed_event(
        account,
        deliveries=[{"kind": "destination", "arn": f"arn:aws:s3:::{bucket}"}],
        delivery_pending=True,
    )
    assert destinations.deliveries_send(event.pk) == 0
    (listed,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert event.finished is not None
    day = event.finished.strftime("%Y/%m/%d")
    assert listed["Key"].startswith(f"aws/lambda/async/fn/{day}/")
    body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
    assert json.loads(body) == destinations.invocation_record(event)


def test_an_eventbridge_destination_gets_the_record_as_an_event(
    account: Account, peer: AwsPeer
) -> None:
    sqs, url, queue_arn = _queue(peer)
    events = peer.client("events")
    bus = events.create_event_bus(Name=f"bus-{uuid.uuid4().hex[:8]}")["EventBusArn"]
    rule = f"all-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    event = _failed_event(
        account, deliveries=[{"kind": "destination", "arn": bus}], delivery_pending=True
    )
    assert destinations.deliveries_send(event.pk) == 0
    (message,) = _receive(sqs, url)
    delivered = json.loads(message["Body"])
    assert delivered["source"] == "lambda"
    assert delivered["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert delivered["detail"]["requestContext"]["requestId"] == event.request_id
