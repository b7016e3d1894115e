"""SQS event source mappings end to end: a live server (real sandbox), mappings made with
boto3 through the Lambda API, queues on a moto server, side effects counted from the
function's own log lines (FilterLogEvents)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

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

# Each record becomes one line: "got <messageId> <ApproximateReceiveCount> <body>".
MARKER_CODE = """
def handler(event, context):
    for record in event["Records"]:
        print("got", record["messageId"], record["attributes"]["ApproximateReceiveCount"],
              record["body"])
"""


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory, {**aws_peer.env, "FUNCTORY_POLLER_LEASE_SECONDS": "3"})


class Tenant:
    """A fresh account on the server, its clients, and the peer's SQS."""

    def __init__(self, server: LiveServer, peer: AwsPeer) -> None:
        self.credentials = create_user(server)
        self.lam = client_for(server, self.credentials)
        self.logs = client_for(server, self.credentials, "logs")
        self.sqs = peer.client("sqs")

    def move_to(self, server: LiveServer) -> None:
        """Talk to another replica (same database) from now on."""
        self.lam = client_for(server, self.credentials)
        self.logs = client_for(server, self.credentials, "logs")

    def function(self, code: str = MARKER_CODE, **overrides: Any) -> str:
        name = f"sqs-{uuid.uuid4().hex[:8]}"
        create_function(self.lam, name, Code={"ZipFile": make_zip({"app.py": code})}, **overrides)
        return name

    def queue(self, *, fifo: bool = False, **attributes: str) -> tuple[str, str]:
        name = f"q-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
        if fifo:
            attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes}
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn

    def lines(self, name: str, prefix: str = "got ") -> list[str]:
        found: list[str] = []
        try:
            for page in self.logs.get_paginator("filter_log_events").paginate(
                logGroupName=f"/aws/lambda/{name}"
            ):
                found += [e["message"] for e in page["events"] if e["message"].startswith(prefix)]
        except self.logs.exceptions.ResourceNotFoundException:
            pass
        return found

    def receipts(self, name: str) -> Counter[str]:
        """How many times each message id reached the function."""
        return Counter(line.split()[1] for line in self.lines(name))

    def counts(self, url: str) -> tuple[int, int]:
        values = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return (
            int(values["ApproximateNumberOfMessages"]),
            int(values["ApproximateNumberOfMessagesNotVisible"]),
        )

    def send(
        self, url: str, bodies: list[str], *, backlog: int | None = None, **extra: Any
    ) -> list[str]:
        """Send the bodies ten to a call; returns the message ids in order.

        With ``backlog``, a batch waits until fewer than that many messages are in the queue
        (visible or in flight): moto's every receive and send walks the whole queue, several
        times per message, so a big backlog makes the peer, not the poller, the bottleneck.
        """
        ids: list[str] = []
        for start in range(0, len(bodies), 10):
            if backlog is not None:
                wait_for(lambda: sum(self.counts(url)) < backlog, what="the backlog to shrink")
            entries = [
                {"Id": str(n), "MessageBody": body, **extra}
                for n, body in enumerate(bodies[start : start + 10])
            ]
            answer = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            assert not answer.get("Failed"), answer
            by_entry = {item["Id"]: item["MessageId"] for item in answer["Successful"]}
            ids += [by_entry[str(n)] for n in range(len(entries))]
        return ids


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 120.0,
    what: str | Callable[[], str] = "",
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {said or condition}")
        time.sleep(0.25)


@pytest.fixture
def tenant(functory: LiveServer, aws_peer: AwsPeer) -> Tenant:
    return Tenant(functory, aws_peer)


def test_two_thousand_messages_are_each_processed_exactly_once(tenant: Tenant) -> None:
    # A batch that ran out of AWS's default 3 s on a loaded machine would come back only
    # after the visibility timeout: "in the absence of failures" needs room.
    name = tenant.function(Timeout=60)
    # "In the absence of failures": a loaded machine must not turn a slow batch into a
    # redelivery (at least once, as on AWS) because the visibility timeout ran out.
    url, arn = tenant.queue(VisibilityTimeout="900")
    mapping = tenant.lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10
    )
    assert mapping["State"] == "Creating"
    # Sent while the mapping consumes, never far ahead of it (see Tenant.send).
    ids = tenant.send(url, [f"m{n}" for n in range(2000)], backlog=100)

    wait_for(
        lambda: tenant.counts(url) == (0, 0),
        timeout=300,
        what=lambda: (
            f"an empty queue: (visible, in flight) = {tenant.counts(url)}, mapping "
            f"{tenant.lam.get_event_source_mapping(UUID=mapping['UUID'])}"
        ),
    )
    # Log lines are shipped in batches: the last ones may land a little after the deletes.
    wait_for(lambda: set(tenant.receipts(name)) >= set(ids), what="every message's log line")
    time.sleep(1)  # log lines still in flight would show up as duplicates now
    receipts = tenant.receipts(name)
    assert set(receipts) == set(ids)
    assert set(receipts.values()) == {1}
    assert len(tenant.lines(name)) == 2000
    got = tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled"
    assert got["LastProcessingResult"] == "OK"


def test_report_batch_item_failures_redelivers_only_the_failed_messages(tenant: Tenant) -> None:
    code = """
import itertools
import json
def handler(event, context):
    failed = []
    for record in event["Records"]:
        count = record["attributes"]["ApproximateReceiveCount"]
        print("got", record["messageId"], count, record["body"])
        if record["body"].startswith("fail") and count == "1":
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}
"""
    name = tenant.function(code)
    url, arn = tenant.queue(VisibilityTimeout="2")
    bodies = [("fail" if n % 4 == 0 else "fine") + str(n) for n in range(40)]
    ids = tenant.send(url, bodies)
    tenant.lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    wait_for(lambda: tenant.counts(url) == (0, 0), what="an empty queue")
    wait_for(lambda: len(tenant.lines(name)) >= 50, what="every log line")
    time.sleep(1)
    receipts = tenant.receipts(name)
    expected = {
        i: (2 if body.startswith("fail") else 1) for i, body in zip(ids, bodies, strict=True)
    }
    assert dict(receipts) == expected


def test_a_fifo_queue_is_processed_in_order_within_each_message_group(tenant: Tenant) -> None:
    code = """
import time
def handler(event, context):
    began = time.time_ns()
    time.sleep(0.02)
    items = " ".join(r["body"] for r in event["Records"])
    print("batch", began, time.time_ns(), items)
"""
    name = tenant.function(code)
    url, arn = tenant.queue(fifo=True)
    for n in range(90):
        group = f"g{n % 3}"
        tenant.sqs.send_message(QueueUrl=url, MessageBody=f"{group}:{n}", MessageGroupId=group)
    tenant.lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5)
    wait_for(lambda: tenant.counts(url) == (0, 0), what="an empty queue")

    def batches() -> list[tuple[int, int, list[str]]]:
        found = []
        for line in tenant.lines(name, "batch "):
            _, began, ended, *items = line.split()
            found.append((int(began), int(ended), items))
        return sorted(found)

    wait_for(lambda: sum(len(b[2]) for b in batches()) >= 90, what="every log line")
    for group in ("g0", "g1", "g2"):
        spans = [(b, e) for b, e, items in batches() if any(i.startswith(group) for i in items)]
        # One batch of a group in flight at a time: each began after the previous ended.
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))
        order = [
            int(i.split(":")[1]) for _, _, items in batches() for i in items if i.startswith(group)
        ]
        assert order == list(range(int(group[1]), 90, 3))


def test_nothing_is_delivered_a_second_after_disabling(tenant: Tenant) -> None:
    code = """
import time
def handler(event, context):
    print("at", time.time(), event["Records"][0]["body"])
"""
    name = tenant.function(code)
    url, arn = tenant.queue()
    mapping = tenant.lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=1
    )
    stop = threading.Event()

    def keep_sending() -> None:
        while not stop.is_set():
            # Each message carries when it was sent.
            tenant.sqs.send_message(QueueUrl=url, MessageBody=repr(time.time()))
            time.sleep(0.02)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        wait_for(lambda: len(tenant.lines(name, "at ")) >= 10, what="deliveries")
        answer = tenant.lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        disabled = time.time()
        assert answer["State"] == "Disabling"
        time.sleep(3)
    finally:
        stop.set()
        sender.join()
    time.sleep(1.5)  # the last log lines reach the store
    # No message sent a second after disabling was taken: the poller had stopped. (Judged
    # by when a message was sent, not when its handler ran: a batch taken just before the
    # stop may meet a slow cold start on a loaded machine.)
    late = [line for line in tenant.lines(name, "at ") if float(line.split()[2]) > disabled + 1]
    assert late == []
    assert tenant.counts(url)[0] > 0  # messages kept coming: they wait in the queue
    assert tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"

    # Enabled again, it takes up the backlog.
    tenant.lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    wait_for(lambda: tenant.counts(url) == (0, 0), what="the backlog processed")


def test_a_poison_message_reaches_the_dead_letter_queue_after_max_receive_count(
    tenant: Tenant,
) -> None:
    code = """
def handler(event, context):
    for record in event["Records"]:
        print("got", record["messageId"], record["attributes"]["ApproximateReceiveCount"],
              record["body"])
        if record["body"] == "poison":
            raise ValueError("cannot digest this")
"""
    name = tenant.function(code)
    dlq_url, dlq_arn = tenant.queue()
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    url, arn = tenant.queue(VisibilityTimeout="1", RedrivePolicy=redrive)
    (poison,) = tenant.send(url, ["poison"])
    mapping = tenant.lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=1
    )
    dead: list[dict[str, Any]] = []

    def in_dead_letter_queue() -> bool:
        dead.extend(
            tenant.sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
        )
        return bool(dead)

    wait_for(in_dead_letter_queue, what="the message in the dead-letter queue")
    assert [message["Body"] for message in dead] == ["poison"]
    assert dead[0]["MessageId"] == poison
    time.sleep(1)
    assert [line.split()[2] for line in tenant.lines(name)] == ["1", "2", "3"]
    result = tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"]
    assert result == "PROBLEM: Function call failed"
