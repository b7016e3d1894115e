"""The SQS poller against a real SQS peer (a moto server), in process: the event's shape,
batching, what is deleted after success, failure and partial failure, filters, stopping,
scaling and a broker that can't be reached. The function is a recording stand-in here;
the live tests run real functions in the sandbox."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import AwsPeer
from iam.models import Account
from triggers.filtering import compile_filter_criteria
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Outcome, Throttled
from triggers.pollers.responses import failed_items
from triggers.pollers.sqs import Item, SqsPoller, event_payload, split_by_size
from triggers.pollers.threads import DaemonThreadPool

ACCOUNT = "123456789012"


class Function:
    """Stands in for the mapping's function: records every event, answers as told."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], Outcome] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda event: Outcome(b"null", None))
        self.delay = delay
        self.running = 0
        self.peak = 0

    async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome:
        event = json.loads(payload)
        self.events.append(event)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delay)
            return self.answer(event)
        finally:
            self.running -= 1

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for event in self.events for record in event["Records"]]


@pytest.fixture
def sqs(aws_peer: AwsPeer) -> Any:
    return aws_peer.client("sqs")


def peer_client(aws_peer: AwsPeer) -> Callable[[str], Any]:
    client = boto3.client(
        "sqs",
        endpoint_url=aws_peer.url,
        region_name="us-east-1",
        aws_access_key_id="peer-key",
        aws_secret_access_key="peer-secret",
        config=Config(max_pool_connections=32, read_timeout=40),
    )
    return lambda region: client


def new_queue(sqs: Any, *, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    name = f"q-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
    if fifo:
        attributes = {"FifoQueue": "true", **attributes}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def mapping(arn: str, **overrides: Any) -> MappingConfig:
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "generation": 1,
        "account": Account(id=ACCOUNT),
        "function_name": "f",
        "qualifier": None,
        "event_source_arn": arn,
        "batch_size": 10,
        "batching_window_s": 0,
        "filters": None,
        "report_batch_item_failures": False,
        "maximum_concurrency": 2,
    }
    values.update(overrides)
    return MappingConfig(**values)


def counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    values = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(values["ApproximateNumberOfMessages"]),
        int(values["ApproximateNumberOfMessagesNotVisible"]),
    )


class Run:
    """A poller on an event loop of the test's own, with what it reported."""

    def __init__(self, config: MappingConfig, function: Function, client: Callable[[str], Any]):
        self.reports: list[str] = []
        self.allowed = True
        self.executor = DaemonThreadPool(16, "test-pollers")
        self.poller = SqsPoller(
            config,
            invoker=function,
            executor=self.executor,
            report=self.reports.append,
            may_deliver=lambda: self.allowed,
            client_factory=client,
        )

    def until(self, condition: Callable[[], bool], timeout: float = 120.0) -> None:
        async def scenario() -> None:
            self.poller.start()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            try:
                while not await asyncio.to_thread(condition):
                    assert loop.time() < deadline, "the condition never held"
                    await asyncio.sleep(0.05)
            finally:
                await self.poller.stop()

        try:
            asyncio.run(scenario())
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def client(aws_peer: AwsPeer) -> Iterator[Callable[[str], Any]]:
    yield peer_client(aws_peer)


# -- the event ----------------------------------------------------------------------------


def test_it_delivers_a_message_in_lambdas_sqs_event_shape(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "Kind": {"DataType": "String", "StringValue": "order"},
            "Count": {"DataType": "Number", "StringValue": "7"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    function = Function()
    Run(mapping(arn), function, client).until(lambda: bool(function.events))

    assert list(function.events[0]) == ["Records"]
    (record,) = function.events[0]["Records"]
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"hello": "world"}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    attributes = record["attributes"]
    assert list(attributes)[:2] == ["ApproximateReceiveCount", "SentTimestamp"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert {"SenderId", "ApproximateFirstReceiveTimestamp"} <= set(attributes)
    assert all(isinstance(value, str) for value in attributes.values())
    assert record["messageAttributes"] == {
        "Kind": {
            "stringValue": "order",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "Count": {
            "stringValue": "7",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "Blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert counts(sqs, url) == (0, 0)


def test_a_message_without_attributes_has_an_empty_map_and_no_attribute_digest(
    sqs: Any, client: Any
) -> None:
    url, arn = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="plain")
    function = Function()
    Run(mapping(arn), function, client).until(lambda: bool(function.events))
    (record,) = function.records
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record


def test_fifo_records_carry_group_sequence_and_deduplication_ids(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, fifo=True)
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="one", MessageGroupId="g1", MessageDeduplicationId="d1"
    )
    function = Function()
    Run(mapping(arn), function, client).until(lambda: bool(function.events))
    (record,) = function.records
    attributes = record["attributes"]
    assert attributes["MessageGroupId"] == "g1"
    assert attributes["MessageDeduplicationId"] == "d1"
    assert attributes["SequenceNumber"] == sent["SequenceNumber"]
    assert list(attributes).index("SequenceNumber") < list(attributes).index("SenderId")


def test_fifo_groups_arrive_in_order_with_one_batch_of_a_group_in_flight(
    sqs: Any, client: Any
) -> None:
    url, arn = new_queue(sqs, fifo=True, ContentBasedDeduplication="true")
    for n in range(60):
        sqs.send_message(QueueUrl=url, MessageBody=f"{n % 3} {n}", MessageGroupId=f"g{n % 3}")
    in_flight: dict[str, int] = {}
    overlaps: list[str] = []

    class Grouped(Function):
        async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome:
            groups = {r["attributes"]["MessageGroupId"] for r in json.loads(payload)["Records"]}
            for group in groups:
                if in_flight.get(group):
                    overlaps.append(group)
                in_flight[group] = in_flight.get(group, 0) + 1
            try:
                return await super().__call__(config, payload)
            finally:
                for group in groups:
                    in_flight[group] -= 1

    function = Grouped(delay=0.02)
    Run(mapping(arn, batch_size=4, maximum_concurrency=3), function, client).until(
        lambda: len(function.records) >= 60
    )
    assert not overlaps
    for group in "012":
        seen = [int(r["body"].split()[1]) for r in function.records if r["body"][0] == group]
        assert seen == sorted(seen) and len(seen) == 20


# -- batching -----------------------------------------------------------------------------


def test_the_batching_window_gathers_up_to_the_batch_size(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs)
    for start in range(0, 25, 5):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": str(start + n)} for n in range(5)],
        )
    function = Function()
    config = mapping(arn, batch_size=25, batching_window_s=2, maximum_concurrency=1)
    Run(config, function, client).until(lambda: len(function.records) >= 25)
    assert [len(event["Records"]) for event in function.events] == [25]
    assert sorted(int(r["body"]) for r in function.records) == list(range(25))


def test_without_a_window_a_batch_is_what_one_receive_returns(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(3)]
    )
    function = Function()
    Run(mapping(arn, batch_size=2, maximum_concurrency=1), function, client).until(
        lambda: len(function.records) >= 3
    )
    assert all(len(event["Records"]) <= 2 for event in function.events)


def test_a_batch_larger_than_an_invocation_takes_is_split_in_order() -> None:
    items = [Item({"messageId": str(n), "body": "x" * 100}) for n in range(10)]
    parts = split_by_size(items, limit=500)
    assert [item for part in parts for item in part] == items
    assert all(len(event_payload(part)) <= 500 for part in parts)
    assert len(parts) > 1
    (lonely,) = split_by_size(items[:1], limit=10)
    assert lonely == items[:1]


# -- what is deleted ----------------------------------------------------------------------


def test_a_failed_invocation_deletes_nothing(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="60")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(3)]
    )
    function = Function(lambda event: Outcome(b'{"errorMessage": "boom"}', "Unhandled"))
    run = Run(mapping(arn), function, client)
    run.until(lambda: len(function.records) >= 3)
    assert counts(sqs, url) == (0, 3)
    assert "PROBLEM: Function call failed" in run.reports


def test_report_batch_item_failures_redelivers_only_the_reported(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="1")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(6)]
    )

    def answer(event: dict[str, Any]) -> Outcome:
        failed = [
            {"itemIdentifier": r["messageId"]}
            for r in event["Records"]
            if int(r["body"]) % 3 == 0 and r["attributes"]["ApproximateReceiveCount"] == "1"
        ]
        return Outcome(json.dumps({"batchItemFailures": failed}).encode(), None)

    function = Function(answer)
    config = mapping(arn, report_batch_item_failures=True, maximum_concurrency=1)
    Run(config, function, client).until(lambda: counts(sqs, url) == (0, 0), timeout=30)
    seen: dict[str, list[str]] = {}
    for record in function.records:
        seen.setdefault(record["body"], []).append(record["attributes"]["ApproximateReceiveCount"])
    once, twice = ["1"], ["1", "2"]
    assert seen == {"0": twice, "1": once, "2": once, "3": twice, "4": once, "5": once}


def test_without_report_batch_item_failures_a_partial_response_deletes_all(
    sqs: Any, client: Any
) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="60")
    sqs.send_message(QueueUrl=url, MessageBody="x")

    def answer(event: dict[str, Any]) -> Outcome:
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
        return Outcome(json.dumps({"batchItemFailures": failed}).encode(), None)

    function = Function(answer)
    Run(mapping(arn), function, client).until(lambda: bool(function.events))
    assert counts(sqs, url) == (0, 0)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"null", frozenset()),
        (b"", frozenset()),
        (b"{}", frozenset()),
        (b'{"batchItemFailures": null}', frozenset()),
        (b'{"batchItemFailures": []}', frozenset()),
        (b'{"batchItemFailures": [{"itemIdentifier": "a"}]}', frozenset({"a"})),
        (b'{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "a"}]}', {"a"}),
        # The whole batch failed: not JSON, an empty, null, misnamed or unknown identifier.
        (b"not json", None),
        (b'"ok"', None),
        (b"[]", None),
        (b'{"batchItemFailures": {"itemIdentifier": "a"}}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        (b'{"batchItemFailures": [{"messageId": "a"}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', None),
        (b'{"batchItemFailures": ["a"]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": 5}]}', None),
    ],
)
def test_partial_batch_responses_follow_awss_rules(payload: bytes, expected: Any) -> None:
    assert failed_items(payload, {"a", "b"}) == expected


def test_a_malformed_partial_response_keeps_the_whole_batch(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="60")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(2)]
    )
    function = Function(lambda event: Outcome(b'{"batchItemFailures": [{"id": "x"}]}', None))
    config = mapping(arn, report_batch_item_failures=True)
    Run(config, function, client).until(lambda: len(function.records) >= 2)
    assert counts(sqs, url) == (0, 2)


# -- filters ------------------------------------------------------------------------------


def test_messages_the_filters_drop_are_deleted_unseen(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs)
    bodies = ['{"kind": "keep", "n": 1}', '{"kind": "drop"}', "plain text", '{"kind": "keep"}']
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    filters = compile_filter_criteria({"Filters": [{"Pattern": '{"body": {"kind": ["keep"]}}'}]})
    function = Function()
    Run(mapping(arn, filters=filters), function, client).until(lambda: counts(sqs, url) == (0, 0))
    assert sorted(r["body"] for r in function.records) == sorted([bodies[0], bodies[3]])


# -- stopping, throttles, scaling, a lost broker -------------------------------------------


def test_stopping_hands_back_the_messages_in_hand_at_once(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="300")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(3)]
    )
    function = Function()
    config = mapping(arn, batch_size=50, batching_window_s=30, maximum_concurrency=1)
    # Stops while the batching window is still open: nothing was invoked.
    Run(config, function, client).until(lambda: counts(sqs, url) == (0, 3))
    assert function.events == []
    assert counts(sqs, url) == (3, 0)


def test_nothing_is_invoked_while_delivery_is_refused(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="300")
    sqs.send_message(QueueUrl=url, MessageBody="held back")
    function = Function()
    run = Run(mapping(arn), function, client)
    run.allowed = False
    run.until(lambda: run.poller.refused >= 2)
    assert function.events == []
    # Each refusal handed the message straight back: it is visible, not in flight.
    assert counts(sqs, url) == (1, 0)


def test_a_throttled_batch_is_offered_again(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    attempts = []

    class Busy(Function):
        async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome:
            attempts.append(payload)
            if len(attempts) < 3:
                raise Throttled("Rate Exceeded.")
            return await super().__call__(config, payload)

    function = Busy()
    Run(mapping(arn), function, client).until(lambda: counts(sqs, url) == (0, 0))
    assert len(attempts) == 3 and len(function.records) == 1


def test_concurrency_grows_with_the_backlog_up_to_the_maximum(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs)
    for start in range(0, 300, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": str(start + n)} for n in range(10)],
        )
    # Slow enough that three batches overlap even when receives are slow (a loaded machine).
    function = Function(delay=0.3)
    Run(mapping(arn, maximum_concurrency=3), function, client).until(
        lambda: len(function.records) >= 300, timeout=60
    )
    assert function.peak == 3
    assert sorted(int(r["body"]) for r in function.records) == list(range(300))


def test_a_broker_out_of_reach_is_reported_then_polled_again(sqs: Any, aws_peer: AwsPeer) -> None:
    url, arn = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="after the outage")
    reachable = peer_client(aws_peer)("us-east-1")
    nowhere = boto3.client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"total_max_attempts": 1}),
    )
    calls = {"n": 0}

    def flaky(region: str) -> Any:
        calls["n"] += 1
        return nowhere if calls["n"] <= 3 else reachable

    function = Function()
    run = Run(mapping(arn), function, flaky)
    run.until(lambda: bool(function.events), timeout=30)
    assert run.reports[0].startswith("PROBLEM: Lambda could not reach SQS")
    assert run.reports[-1] == "OK"


def test_a_missing_queue_is_reported(sqs: Any, client: Any) -> None:
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue-{uuid.uuid4().hex[:6]}"
    function = Function()
    run = Run(mapping(arn), function, client)
    run.until(lambda: bool(run.reports))
    assert run.reports[0].startswith("PROBLEM: SQS answered")
    assert "does not exist" in run.reports[0]


def test_a_new_snapshot_applies_to_the_next_batch(sqs: Any, client: Any) -> None:
    url, arn = new_queue(sqs)
    config = mapping(arn, batch_size=1, maximum_concurrency=1)
    function = Function()
    run = Run(config, function, client)
    sqs.send_message(QueueUrl=url, MessageBody="first")

    def updated_after_first() -> bool:
        if len(function.records) == 1 and run.poller.config.batch_size == 1:
            run.poller.update(replace(config, generation=2, batch_size=5, batching_window_s=1))
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(4)]
            )
        return len(function.records) >= 5

    run.until(updated_after_first)
    sizes = [len(event["Records"]) for event in function.events]
    # A long poll already waiting under the old snapshot may take one more message alone.
    assert sizes[0] == 1 and max(sizes) > 1 and sum(sizes) == 5
