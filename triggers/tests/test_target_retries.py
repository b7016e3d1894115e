"""A rule target's RetryPolicy and DeadLetterConfig: deliveries that can't succeed go to the
dead-letter queue (a real SQS queue on a moto server) at once with AWS's attributes, throttled
ones are retried until the policy's attempts or event age run out, and the rule's AWS/Events
metrics count what happened. Retries and dead-letter sends run here as a worker runs them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from conftest import AwsPeer
from functions.models import Function
from functions.services.concurrency import concurrency_delete, concurrency_put
from iam.models import Account
from invocations import destinations
from invocations.models import AsyncInvocation
from monitoring.metrics.recorder import MetricsRecorder
from monitoring.metrics.services import CounterKey
from triggers.models import Rule
from triggers.rules import delivery, errors, events, metrics, services, taskqueue
from triggers.tests.helpers import allow_events, make_function

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/orders"


class Worker:
    """What the rules hand the Celery worker: retries (with their wait) and dead letters."""

    def __init__(self) -> None:
        self.retries: list[tuple[dict[str, Any], float]] = []
        self.dead_letters: list[dict[str, Any]] = []


class Stored:
    def __init__(self) -> None:
        self.totals: Counter[tuple[str, str]] = Counter()

    def __call__(self, counters: Mapping[CounterKey, int]) -> None:
        for key, value in counters.items():
            assert key.namespace == "AWS/Events"
            self.totals[(key.series, key.metric)] += value

    def rule(self, name: str) -> dict[str, int]:
        return {metric: n for (series, metric), n in self.totals.items() if series == name}


@pytest.fixture
def account() -> Account:
    account = Account.objects.create(id="123456789012")
    make_function(account)
    allow_events(account)
    return account


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Worker:
    worker = Worker()
    monkeypatch.setattr(
        taskqueue,
        "enqueue_target_retry",
        lambda payload, wait: worker.retries.append((payload, wait)),
    )
    monkeypatch.setattr(taskqueue, "enqueue_dead_letter", worker.dead_letters.append)
    return worker


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> Stored:
    store = Stored()
    monkeypatch.setattr(metrics, "recorder", MetricsRecorder(background=False, counter_store=store))
    return store


@pytest.fixture
def sqs(aws_peer: AwsPeer) -> Iterator[Any]:
    with override_settings(
        FUNCTORY_AWS_ENDPOINT_URL=aws_peer.url,
        FUNCTORY_AWS_ACCESS_KEY_ID="peer-key",
        FUNCTORY_AWS_SECRET_ACCESS_KEY="peer-secret",
    ):
        destinations._clients.clear()
        destinations._queue_urls.clear()
        yield aws_peer.client("sqs")
    destinations._clients.clear()
    destinations._queue_urls.clear()


def dead_letter_queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    answer = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )
    return list(answer.get("Messages") or [])


def orders_rule(account: Account, function: str = "fn", **target: Any) -> Rule:
    rule = services.rule_put(
        account,
        services.RuleInput(
            name="orders",
            schedule_expression="",
            event_pattern=json.dumps({"source": ["com.example.orders"]}),
            state=Rule.ENABLED,
            description="",
            role_arn="",
        ),
    )
    arn = f"arn:aws:lambda:us-east-1:{account.id}:function:{function}"
    assert services.targets_put(account, "orders", None, [{"Id": "t1", "Arn": arn, **target}]) == []
    return rule


def put_order(account: Account, django_capture_on_commit_callbacks: Any) -> str:
    entry = {"Source": "com.example.orders", "DetailType": "Order", "Detail": '{"id": 7}'}
    with django_capture_on_commit_callbacks(execute=True):
        (result,) = events.events_put(account, [entry], now=NOW)
    return result["EventId"]


def run_retry(payload: dict[str, Any], now: datetime, capture: Any) -> delivery.Outcome:
    with capture(execute=True):
        return delivery.retry(payload, now=now)


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}


def test_a_function_that_does_not_allow_eventbridge_sends_the_event_to_the_dlq_at_once(
    account: Account, worker: Worker, stored: Stored, sqs: Any, django_capture_on_commit_callbacks
) -> None:
    make_function(account, "private")  # no events.amazonaws.com statement
    url, arn = dead_letter_queue(sqs, "orders-dlq")
    orders_rule(account, "private", DeadLetterConfig={"Arn": arn})
    event_id = put_order(account, django_capture_on_commit_callbacks)

    assert worker.retries == []  # no retry mends a permission
    (message,) = worker.dead_letters
    assert delivery.dead_letter_send(message)
    (sent,) = received(sqs, url)
    body = json.loads(sent["Body"])
    assert body["id"] == event_id and body["detail"] == {"id": 7}
    got = attributes(sent)
    assert got["RULE_ARN"] == RULE_ARN
    assert got["TARGET_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:private"
    assert got["ERROR_CODE"] == "NO_PERMISSIONS"
    assert "events.amazonaws.com is not authorized" in got["ERROR_MESSAGE"]
    assert got["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in got
    assert AsyncInvocation.objects.count() == 0
    metrics.recorder.flush()
    assert stored.rule("orders") == {
        "TriggeredRules": 1,
        "MatchedEvents": 1,
        "Invocations": 1,
        "FailedInvocations": 1,
        "InvocationsSentToDlq": 1,
    }
    assert stored.rule("")["MatchedEvents"] == 1


def test_a_target_whose_function_is_gone_goes_to_the_dlq_as_no_resource(
    account: Account, worker: Worker, sqs: Any, django_capture_on_commit_callbacks
) -> None:
    url, arn = dead_letter_queue(sqs, "ghost-dlq")
    orders_rule(account, "ghost", DeadLetterConfig={"Arn": arn})
    put_order(account, django_capture_on_commit_callbacks)
    (message,) = worker.dead_letters
    assert delivery.dead_letter_send(message)
    (sent,) = received(sqs, url)
    assert attributes(sent)["ERROR_CODE"] == "NO_RESOURCE"
    assert worker.retries == []


def test_a_throttled_target_is_retried_then_dead_lettered_when_attempts_run_out(
    account: Account, worker: Worker, stored: Stored, sqs: Any, django_capture_on_commit_callbacks
) -> None:
    concurrency_put(function=Function.objects.get(name="fn"), reserved=0)
    url, arn = dead_letter_queue(sqs, "throttled-dlq")
    orders_rule(
        account,
        RetryPolicy={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        DeadLetterConfig={"Arn": arn},
    )
    put_order(account, django_capture_on_commit_callbacks)
    assert worker.dead_letters == []
    now = NOW
    for retry in (1, 2):
        ((payload, wait),) = worker.retries
        assert payload["retry"] == retry and wait > 0
        worker.retries.clear()
        now += timedelta(seconds=wait)
        run_retry(payload, now, django_capture_on_commit_callbacks)

    assert worker.retries == []
    (message,) = worker.dead_letters
    assert delivery.dead_letter_send(message)
    got = attributes(received(sqs, url)[0])
    assert got["ERROR_CODE"] == "THROTTLING"
    assert got["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert got["RETRY_ATTEMPTS"] == "2"
    metrics.recorder.flush()
    counted = stored.rule("orders")
    assert counted["RetryInvocationAttempts"] == 2
    assert counted["Invocations"] == counted["FailedInvocations"] == 1  # once, when it gave up


def test_a_throttled_target_gets_the_event_once_the_throttle_is_lifted(
    account: Account, worker: Worker, stored: Stored, django_capture_on_commit_callbacks
) -> None:
    function = Function.objects.get(name="fn")
    concurrency_put(function=function, reserved=0)
    orders_rule(account)  # AWS's default policy: 185 retries over 24 hours
    put_order(account, django_capture_on_commit_callbacks)
    ((payload, wait),) = worker.retries
    concurrency_delete(function=function)

    outcome = run_retry(payload, NOW + timedelta(seconds=wait), django_capture_on_commit_callbacks)
    assert outcome.delivered == 1
    (invocation,) = AsyncInvocation.objects.all()
    assert json.loads(bytes(invocation.payload))["source"] == "com.example.orders"
    metrics.recorder.flush()
    counted = stored.rule("orders")
    assert counted["Invocations"] == 1 and "FailedInvocations" not in counted


def test_retries_stop_at_the_maximum_event_age_and_without_a_dlq_the_event_is_dropped(
    account: Account, worker: Worker, stored: Stored, django_capture_on_commit_callbacks
) -> None:
    concurrency_put(function=Function.objects.get(name="fn"), reserved=0)
    orders_rule(account, RetryPolicy={"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60})
    put_order(account, django_capture_on_commit_callbacks)
    ((payload, _),) = worker.retries
    worker.retries.clear()

    outcome = run_retry(payload, NOW + timedelta(seconds=61), django_capture_on_commit_callbacks)
    assert outcome.failed == 1
    assert worker.retries == [] and worker.dead_letters == []
    metrics.recorder.flush()
    assert stored.rule("orders")["FailedInvocations"] == 1


def test_a_retry_for_a_removed_target_ends_quietly(
    account: Account, worker: Worker, django_capture_on_commit_callbacks
) -> None:
    concurrency_put(function=Function.objects.get(name="fn"), reserved=0)
    orders_rule(account)
    put_order(account, django_capture_on_commit_callbacks)
    ((payload, _),) = worker.retries
    worker.retries.clear()
    services.targets_remove(account, "orders", None, ["t1"])

    outcome = run_retry(payload, NOW + timedelta(seconds=5), django_capture_on_commit_callbacks)
    assert (outcome.delivered, outcome.failed, outcome.retrying) == (0, 0, 0)
    assert worker.retries == [] and worker.dead_letters == []


def test_a_dead_letter_queue_that_refuses_counts_as_failed_to_be_sent(
    account: Account, worker: Worker, stored: Stored, sqs: Any, django_capture_on_commit_callbacks
) -> None:
    make_function(account, "private")
    missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    orders_rule(account, "private", DeadLetterConfig={"Arn": missing})
    put_order(account, django_capture_on_commit_callbacks)
    (message,) = worker.dead_letters
    assert not delivery.dead_letter_send(message)
    metrics.recorder.flush()
    assert stored.rule("orders")["InvocationsFailedToBeSentToDlq"] == 1


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sns:us-east-1:123456789012:topic",
        "arn:aws:sqs:us-east-1:123456789012:queue.fifo",
        "not an arn",
    ],
)
def test_put_targets_takes_only_a_standard_sqs_queue_as_dead_letter_queue(
    account: Account, arn: str
) -> None:
    with pytest.raises(errors.Validation):
        orders_rule(account, DeadLetterConfig={"Arn": arn})


def test_the_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    assert delivery.backoff_s(0, draw=1.0) == delivery.FIRST_RETRY_S
    assert delivery.backoff_s(3, draw=1.0) == 8 * delivery.FIRST_RETRY_S
    assert delivery.backoff_s(3, draw=0.0) == 4 * delivery.FIRST_RETRY_S
    assert delivery.backoff_s(60, draw=1.0) == delivery.MAX_RETRY_S


def test_an_account_past_its_retries_a_minute_gives_up_at_once(
    account: Account,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    cache.clear()
    monkeypatch.setattr(delivery, "MAX_RETRIES_PER_MINUTE", 1)
    concurrency_put(function=Function.objects.get(name="fn"), reserved=0)
    orders_rule(account)
    put_order(account, django_capture_on_commit_callbacks)
    put_order(account, django_capture_on_commit_callbacks)
    assert len(worker.retries) == 1  # the second event is not retried
    cache.clear()
