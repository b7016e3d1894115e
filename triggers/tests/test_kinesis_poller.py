"""The Kinesis poller against a real Kinesis peer (a moto server), in process: the event's
shape, order per shard, checkpoints and resuming, resharding, retries, OnFailure, bisection,
partial batch responses, starting positions, filters and stopping. The function is a
recording stand-in; checkpoints are kept in memory here (the database's are tested with the
runtime below and in the live test)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import AwsPeer
from triggers.filtering import compile_filter_criteria
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Outcome, Throttled
from triggers.pollers.kinesis import KinesisPoller, KinesisSource
from triggers.pollers.stream_records import Position
from triggers.pollers.streams import StreamPoller
from triggers.pollers.threads import DaemonThreadPool
from triggers.services.stream_checkpoints import Checkpoint
from triggers.tests.test_sqs_poller import Function, mapping

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


class MemoryCheckpoints:
    """Checkpoints kept in a dict (the database's are tested elsewhere)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Checkpoint] = {}
        self.parents: dict[str, tuple[str, ...]] = {}
        # Where finished shards are noted, in order (with a test's other events).
        self.log: list[tuple[str, str, str]] = []

    def load(self, mapping_uuid: str) -> dict[str, Checkpoint]:
        return {shard: row for (uuid, shard), row in self.rows.items() if uuid == mapping_uuid}

    def save(
        self,
        mapping_uuid: str,
        shard_id: str,
        sequence_number: str,
        *,
        parent_shard_ids: tuple[str, ...] = (),
        finished: bool = False,
    ) -> None:
        previous = self.rows.get((mapping_uuid, shard_id))
        kept = sequence_number or (previous.sequence_number if previous else "")
        if previous and previous.sequence_number and kept:
            assert int(kept) >= int(previous.sequence_number), "a checkpoint went back"
        self.rows[(mapping_uuid, shard_id)] = Checkpoint(shard_id, kept, finished, time.time())
        self.parents[shard_id] = parent_shard_ids
        if finished:
            self.log.append(("finished", shard_id, ""))


def peer_clients(aws_peer: AwsPeer) -> Callable[[str, str], Any]:
    made: dict[str, Any] = {}

    def client(service: str, region: str) -> Any:
        if service not in made:
            made[service] = boto3.client(
                service,
                endpoint_url=aws_peer.url,
                region_name="us-east-1",
                aws_access_key_id="peer-key",
                aws_secret_access_key="peer-secret",
                config=Config(max_pool_connections=32),
            )
        return made[service]

    return client


@pytest.fixture
def kinesis(aws_peer: AwsPeer) -> Any:
    return aws_peer.client("kinesis")


@pytest.fixture
def clients(aws_peer: AwsPeer) -> Iterator[Callable[[str, str], Any]]:
    yield peer_clients(aws_peer)


def new_stream(kinesis: Any, shards: int = 1) -> str:
    name = f"s-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return str(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    )


def put(kinesis: Any, arn: str, values: list[str], key: Callable[[int], str] = str) -> None:
    """Put the values (as data), 100 to a call, partition keys from ``key(n)``."""
    for start in range(0, len(values), 100):
        entries = [
            {"Data": value.encode(), "PartitionKey": key(start + n)}
            for n, value in enumerate(values[start : start + 100])
        ]
        answer = kinesis.put_records(StreamARN=arn, Records=entries)
        assert not answer.get("FailedRecordCount"), answer


def stream_mapping(arn: str, **overrides: Any) -> MappingConfig:
    values: dict[str, Any] = {
        "batch_size": 25,
        "starting_position": "TRIM_HORIZON",
        "role_arn": ROLE,
    }
    values.update(overrides)
    return mapping(arn, **values)


def data(record: dict[str, Any]) -> str:
    return base64.b64decode(record["kinesis"]["data"]).decode()


class Run:
    """A Kinesis poller on an event loop of the test's own."""

    def __init__(
        self,
        config: MappingConfig,
        function: Function,
        clients: Callable[[str, str], Any],
        checkpoints: MemoryCheckpoints | None = None,
        source: type[KinesisSource] = KinesisSource,
    ) -> None:
        self.source = source
        self.reports: list[str] = []
        self.allowed = True
        self.checkpoints = checkpoints or MemoryCheckpoints()
        self.executor = DaemonThreadPool(16, "test-stream-pollers")
        self.config = config
        self.function = function
        self.clients = clients

    def poller(self) -> StreamPoller:
        return KinesisPoller(
            self.config,
            invoker=self.function,
            executor=self.executor,
            report=self.reports.append,
            may_deliver=lambda: self.allowed,
            source_factory=self.source,
            client_factory=self.clients,
            checkpoints=self.checkpoints,
            poll_s=0.05,
            relist_s=0.2,
        )

    def until(
        self,
        condition: Callable[[], bool],
        timeout: float = 30.0,
        during: Callable[[], None] | None = None,
    ) -> None:
        async def scenario() -> None:
            poller = self.poller()
            poller.start()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            if during is not None:
                await asyncio.to_thread(during)
            try:
                while not await asyncio.to_thread(condition):
                    assert loop.time() < deadline, "the condition never held"
                    await asyncio.sleep(0.05)
            finally:
                await poller.stop()

        try:
            asyncio.run(scenario())
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = DaemonThreadPool(16, "test-stream-pollers")


def by_shard(records: list[dict[str, Any]]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for record in records:
        shard, sequence = record["eventID"].split(":")
        assert sequence == record["kinesis"]["sequenceNumber"]
        found[shard].append(int(sequence))
    return found


# -- the event and the order --------------------------------------------------------------


def test_it_delivers_records_in_lambdas_kinesis_event_shape(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    before = time.time()
    kinesis.put_record(StreamARN=arn, Data=b'{"hello": "world"}', PartitionKey="pk-1")
    function = Function()
    Run(stream_mapping(arn), function, clients).until(lambda: bool(function.events))

    assert list(function.events[0]) == ["Records"]
    (record,) = function.records
    assert list(record) == [
        "kinesis",
        "eventSource",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "awsRegion",
        "eventSourceARN",
    ]
    inner = record["kinesis"]
    assert list(inner) == [
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    ]
    assert inner["kinesisSchemaVersion"] == "1.0"
    assert inner["partitionKey"] == "pk-1"
    assert base64.b64decode(inner["data"]) == b'{"hello": "world"}'
    assert isinstance(inner["approximateArrivalTimestamp"], float)
    assert before - 5 < inner["approximateArrivalTimestamp"] < time.time() + 5
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventVersion"] == "1.0"
    assert record["eventID"] == f"shardId-000000000000:{inner['sequenceNumber']}"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["invokeIdentityArn"] == ROLE
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == arn


def test_records_arrive_in_order_per_shard_each_once(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis, shards=3)
    values = [f"v{n}" for n in range(300)]
    put(kinesis, arn, values, key=lambda n: f"key-{n % 17}")
    function = Function()
    run = Run(stream_mapping(arn, batch_size=20), function, clients)
    run.until(lambda: len(function.records) >= 300)

    assert sorted(data(record) for record in function.records) == sorted(values)
    shards = by_shard(function.records)
    assert len(shards) == 3
    for sequences in shards.values():
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == len(sequences)
    assert all(len(event["Records"]) <= 20 for event in function.events)
    assert run.reports[-1] == "OK"
    # Every shard's checkpoint is its last record.
    for shard, sequences in shards.items():
        assert run.checkpoints.rows[(run.config.uuid, shard)].sequence_number == str(sequences[-1])


def test_a_shards_next_batch_waits_for_the_one_before(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, [f"v{n}" for n in range(60)])
    function = Function(delay=0.05)
    Run(stream_mapping(arn, batch_size=10), function, clients).until(
        lambda: len(function.records) >= 60
    )
    assert function.peak == 1


def test_a_parallelization_factor_runs_batches_side_by_side_in_order_per_key(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, [f"{n % 8}:{n}" for n in range(160)], key=lambda n: f"key-{n % 8}")
    function = Function(delay=0.05)
    Run(stream_mapping(arn, batch_size=5, parallelization_factor=4), function, clients).until(
        lambda: len(function.records) >= 160
    )
    assert function.peak > 1
    per_key: dict[str, list[int]] = defaultdict(list)
    for record in function.records:
        key, n = data(record).split(":")
        per_key[key].append(int(n))
    assert len(per_key) == 8
    for numbers in per_key.values():
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == len(numbers)


def test_the_batching_window_gathers_records_put_apart(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    function = Function()

    def trickle() -> None:
        for n in range(6):
            kinesis.put_record(StreamARN=arn, Data=f"v{n}".encode(), PartitionKey="k")
            time.sleep(0.1)

    Run(stream_mapping(arn, batch_size=100, batching_window_s=2), function, clients).until(
        lambda: len(function.records) >= 6, during=trickle
    )
    assert len(function.events) == 1


def test_a_large_batch_is_split_to_fit_six_megabytes(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    for _ in range(8):
        kinesis.put_record(StreamARN=arn, Data=b"x" * 900_000, PartitionKey="k")
    function = Function()
    Run(stream_mapping(arn, batch_size=100), function, clients).until(
        lambda: len(function.records) >= 8
    )
    assert len(function.events) >= 2
    assert all(len(json.dumps(event)) <= 6 * 1024 * 1024 for event in function.events)


# -- checkpoints and resharding -----------------------------------------------------------


def test_a_restarted_poller_resumes_after_its_checkpoint_without_a_gap(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis, shards=2)
    first = [f"a{n}" for n in range(200)]
    put(kinesis, arn, first, key=lambda n: f"k{n}")
    checkpoints = MemoryCheckpoints()
    config = stream_mapping(arn, batch_size=10)
    function = Function(delay=0.01)
    Run(config, function, clients, checkpoints).until(lambda: len(function.records) >= 60)
    seen_first = {data(record) for record in function.records}
    assert len(seen_first) < 200  # stopped mid-stream

    second = [f"b{n}" for n in range(100)]
    put(kinesis, arn, second, key=lambda n: f"k{n}")
    again = Function()
    wanted = set(first + second) - seen_first
    Run(config, again, clients, checkpoints).until(
        lambda: wanted <= {data(record) for record in again.records}
    )
    # No gap; what is delivered again is at most the batch in flight at the stop, per shard.
    redelivered = seen_first & {data(record) for record in again.records}
    assert len(redelivered) <= 2 * 10


def test_a_split_shard_is_read_to_its_end_before_its_children(kinesis: Any, clients: Any) -> None:
    """moto's SplitShard closes the parent and lists the children, but keeps putting records
    into the parent (the first shard whose hash range fits), so the children stay empty:
    what is checked is the order of the reading, and that no record of the parent is lost
    or repeated across the split."""
    arn = new_stream(kinesis)
    values = [f"a{n}" for n in range(100)]
    put(kinesis, arn, values, key=lambda n: f"k{n}")
    log: list[tuple[str, str, str]] = []

    class Recording(KinesisSource):
        def iterator(self, shard_id: str, position: Position) -> str:
            log.append(("iterator", shard_id, position.kind))
            return super().iterator(shard_id, position)

    checkpoints = MemoryCheckpoints()
    checkpoints.log = log
    function = Function(delay=0.02)

    def split_while_flowing() -> None:
        while len(function.records) < 20:
            time.sleep(0.01)
        kinesis.split_shard(
            StreamARN=arn, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
        )

    children = {"shardId-000000000001", "shardId-000000000002"}
    run = Run(stream_mapping(arn, batch_size=5), function, clients, checkpoints, Recording)
    run.until(
        lambda: children <= {shard for kind, shard, _ in log if kind == "iterator"},
        during=split_while_flowing,
    )
    assert [data(record) for record in function.records] == values
    finished_at = log.index(("finished", "shardId-000000000000", ""))
    for child in children:
        assert log.index(("iterator", child, "TRIM_HORIZON")) > finished_at
        assert checkpoints.parents.get(child, ("shardId-000000000000",)) == (
            "shardId-000000000000",
        )
    assert checkpoints.rows[(run.config.uuid, "shardId-000000000000")].finished


# -- failures -----------------------------------------------------------------------------


def failing_on(word: str, error: str = "Unhandled") -> Callable[[dict[str, Any]], Outcome]:
    def answer(event: dict[str, Any]) -> Outcome:
        if any(word in data(record) for record in event["Records"]):
            return Outcome(b'{"errorMessage": "boom"}', error)
        return Outcome(b"null", None)

    return answer


def new_queue(aws_peer: AwsPeer) -> tuple[Any, str, str]:
    sqs = aws_peer.client("sqs")
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, url, arn


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def collect(sqs: Any, url: str, into: list[dict[str, Any]]) -> bool:
    into.extend(received(sqs, url))
    return bool(into)


def test_a_failing_batch_is_retried_then_sent_to_on_failure_and_skipped(
    kinesis: Any, clients: Any, aws_peer: AwsPeer
) -> None:
    sqs, url, queue_arn = new_queue(aws_peer)
    arn = new_stream(kinesis)
    put(kinesis, arn, ["ok1", "bad", "ok2"])
    put(kinesis, arn, ["later"])
    function = Function(answer=failing_on("bad"))
    config = stream_mapping(arn, batch_size=3, maximum_retry_attempts=2, on_failure=queue_arn)
    run = Run(config, function, clients)
    run.until(lambda: any(data(r) == "later" for r in function.records))

    bad_invocations = [e for e in function.events if any(data(r) == "bad" for r in e["Records"])]
    assert len(bad_invocations) == 3  # the first try and two retries
    (failure,) = received(sqs, url)
    assert list(failure) == [
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "KinesisBatchInfo",
    ]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    )
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["version"] == "1.0"
    info = failure["KinesisBatchInfo"]
    sequences = [r["kinesis"]["sequenceNumber"] for r in bad_invocations[0]["Records"]]
    assert info["shardId"] == "shardId-000000000000"
    assert info["startSequenceNumber"] == sequences[0]
    assert info["endSequenceNumber"] == sequences[-1]
    assert info["batchSize"] == 3
    assert info["streamArn"] == arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert "PROBLEM: Function call failed" in run.reports
    assert run.reports[-1] == "OK"


def test_records_older_than_the_maximum_age_are_given_up_unseen(
    kinesis: Any, clients: Any, aws_peer: AwsPeer
) -> None:
    sqs, url, queue_arn = new_queue(aws_peer)
    arn = new_stream(kinesis)
    put(kinesis, arn, ["old1", "old2"])
    time.sleep(1.2)
    function = Function()
    config = stream_mapping(arn, maximum_record_age_s=1, on_failure=queue_arn)
    messages: list[dict[str, Any]] = []
    Run(config, function, clients).until(lambda: collect(sqs, url, messages))
    assert function.events == []
    (failure,) = messages
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["KinesisBatchInfo"]["batchSize"] == 2


def test_bisection_isolates_a_poison_record(kinesis: Any, clients: Any, aws_peer: AwsPeer) -> None:
    sqs, url, queue_arn = new_queue(aws_peer)
    arn = new_stream(kinesis)
    values = [f"ok{n}" for n in range(8)]
    values[5] = "bad"
    put(kinesis, arn, values)
    function = Function(answer=failing_on("bad"))
    config = stream_mapping(
        arn,
        batch_size=8,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=0,
        on_failure=queue_arn,
    )
    messages: list[dict[str, Any]] = []
    Run(config, function, clients).until(lambda: collect(sqs, url, messages))
    sizes = [len(event["Records"]) for event in function.events]
    # Halves until the poison record is alone: [0-3] ok, [4-7] fails, [4,5] fails, [4] ok,
    # [5] given up, [6,7] ok.
    assert sizes == [8, 4, 4, 2, 1, 1, 2]
    succeeded = [
        data(r)
        for e in function.events
        for r in e["Records"]
        if not any(data(x) == "bad" for x in e["Records"])
    ]
    assert sorted(succeeded) == sorted(v for v in values if v != "bad")
    (failure,) = messages
    assert failure["KinesisBatchInfo"]["batchSize"] == 1


def test_a_partial_batch_response_retries_from_the_lowest_failed_record(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, [f"v{n}" for n in range(6)])
    failed_once: set[str] = set()

    def answer(event: dict[str, Any]) -> Outcome:
        for record in event["Records"]:
            if data(record) in ("v2", "v4") and data(record) not in failed_once:
                failed_once.add(data(record))
                sequence = record["kinesis"]["sequenceNumber"]
                return Outcome(
                    json.dumps({"batchItemFailures": [{"itemIdentifier": sequence}]}).encode(),
                    None,
                )
        return Outcome(b'{"batchItemFailures": []}', None)

    function = Function(answer=answer)
    config = stream_mapping(arn, batch_size=6, report_batch_item_failures=True)
    run = Run(config, function, clients)
    run.until(lambda: len(function.events) >= 3 and run.reports[-1] == "OK")
    batches = [[data(r) for r in e["Records"]] for e in function.events]
    assert batches[:3] == [
        ["v0", "v1", "v2", "v3", "v4", "v5"],
        ["v2", "v3", "v4", "v5"],
        ["v4", "v5"],
    ]


def test_a_malformed_partial_batch_response_fails_the_whole_batch(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, ["v0", "v1"])
    function = Function(
        answer=lambda event: Outcome(b'{"batchItemFailures": [{"itemIdentifier": "nope"}]}', None)
    )
    config = stream_mapping(arn, report_batch_item_failures=True, maximum_retry_attempts=1)
    run = Run(config, function, clients)
    run.until(lambda: len(function.events) >= 2)
    assert [len(e["Records"]) for e in function.events[:2]] == [2, 2]


# -- where reading starts, filters, stopping ----------------------------------------------


def test_latest_skips_what_was_there_and_trim_horizon_reads_it(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, ["before"])
    latest = Function()
    run = Run(stream_mapping(arn, starting_position="LATEST"), latest, clients)

    def later() -> None:
        time.sleep(0.5)
        put(kinesis, arn, ["after"])

    run.until(lambda: bool(latest.records), during=later)
    assert [data(r) for r in latest.records] == ["after"]

    oldest = Function()
    Run(stream_mapping(arn, starting_position="TRIM_HORIZON"), oldest, clients).until(
        lambda: len(oldest.records) >= 2
    )
    assert [data(r) for r in oldest.records] == ["before", "after"]


def test_a_poller_begun_at_latest_resumes_from_then_before_any_record(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, ["before"])
    checkpoints = MemoryCheckpoints()
    config = stream_mapping(arn, starting_position="LATEST")
    time.sleep(1.1)  # moto's AT_TIMESTAMP counts in whole seconds
    Run(config, Function(), clients, checkpoints).until(lambda: bool(checkpoints.rows))
    put(kinesis, arn, ["while stopped"])
    function = Function()
    Run(config, function, clients, checkpoints).until(lambda: bool(function.records))
    assert [data(r) for r in function.records] == ["while stopped"]


def test_at_timestamp_starts_at_the_first_record_from_then(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, ["early"])
    time.sleep(1.1)
    moment = time.time()
    time.sleep(0.1)
    put(kinesis, arn, ["late1", "late2"])
    function = Function()
    config = stream_mapping(
        arn, starting_position="AT_TIMESTAMP", starting_position_timestamp=moment
    )
    Run(config, function, clients).until(lambda: len(function.records) >= 2)
    assert [data(r) for r in function.records] == ["late1", "late2"]


def test_filter_criteria_drop_what_they_should_and_move_on(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    put(
        kinesis,
        arn,
        [
            json.dumps({"kind": "a", "n": 1}),
            json.dumps({"kind": "b", "n": 2}),
            "plain",
            json.dumps({"kind": "a", "n": 3}),
        ],
    )
    put(kinesis, arn, [json.dumps({"kind": "a", "n": 4})])
    filters = compile_filter_criteria({"Filters": [{"Pattern": '{"data": {"kind": ["a"]}}'}]})
    function = Function()
    run = Run(stream_mapping(arn, filters=filters), function, clients)
    run.until(lambda: len(function.records) >= 3)
    assert [json.loads(data(r))["n"] for r in function.records] == [1, 3, 4]
    (checkpoint,) = run.checkpoints.rows.values()
    assert checkpoint.sequence_number == function.records[-1]["kinesis"]["sequenceNumber"]


def test_nothing_is_delivered_once_delivery_is_refused(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    function = Function()
    run = Run(stream_mapping(arn), function, clients)
    state = {"phase": 0}

    def scenario() -> None:
        put(kinesis, arn, ["first"])
        while not function.records:
            time.sleep(0.02)
        run.allowed = False
        time.sleep(0.2)
        put(kinesis, arn, ["second"])
        time.sleep(1.0)
        state["phase"] = 1

    run.until(lambda: state["phase"] == 1, during=scenario)
    assert [data(r) for r in function.records] == ["first"]


# -- tumbling windows ---------------------------------------------------------------------


def test_tumbling_windows_carry_state_and_end_with_a_final_invocation(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, [f"v{n}" for n in range(10)])
    # Read after their window has ended: it still closes only once all its records are read.
    time.sleep(2.1)

    def count(event: dict[str, Any]) -> Outcome:
        total = event["state"].get("count", 0) + len(event["Records"])
        return Outcome(json.dumps({"state": {"count": total}}).encode(), None)

    function = Function(answer=count)
    config = stream_mapping(arn, batch_size=3, tumbling_window_s=2)

    def finals() -> list[dict[str, Any]]:
        return [e for e in function.events if e["isFinalInvokeForWindow"]]

    Run(config, function, clients).until(lambda: sum(e["state"]["count"] for e in finals()) >= 10)
    first = function.events[0]
    assert list(first) == [
        "Records",
        "window",
        "state",
        "shardId",
        "eventSourceARN",
        "isFinalInvokeForWindow",
        "isWindowTerminatedEarly",
    ]
    assert first["state"] == {}
    assert first["shardId"] == "shardId-000000000000"
    assert first["eventSourceARN"] == arn
    assert first["isWindowTerminatedEarly"] is False
    by_window: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in function.events:
        by_window[event["window"]["start"]].append(event)
    for events in by_window.values():
        *batches, final = events
        assert final["isFinalInvokeForWindow"] and final["Records"] == []
        assert not any(e["isFinalInvokeForWindow"] for e in batches)
        seen = 0
        for event in batches:
            assert event["state"] == ({"count": seen} if seen else {})
            assert 1 <= len(event["Records"]) <= 3
            seen += len(event["Records"])
            start = datetime.strptime(event["window"]["start"], "%Y-%m-%dT%H:%M:%SZ")
            end = datetime.strptime(event["window"]["end"], "%Y-%m-%dT%H:%M:%SZ")
            assert (end - start).total_seconds() == 2
            low, high = start.replace(tzinfo=UTC).timestamp(), end.replace(tzinfo=UTC).timestamp()
            for record in event["Records"]:
                assert low <= int(record["kinesis"]["approximateArrivalTimestamp"]) < high
        assert final["state"] == {"count": seen}
    assert sorted(data(r) for r in function.records) == sorted(f"v{n}" for n in range(10))


def test_throttles_are_retried_without_using_up_retries(kinesis: Any, clients: Any) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, ["v0", "v1"])
    throttles = {"left": 3}

    class Busy(Function):
        async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome:
            if throttles["left"]:
                throttles["left"] -= 1
                raise Throttled("Rate exceeded")
            return await super().__call__(config, payload)

    function = Busy()
    run = Run(stream_mapping(arn, maximum_retry_attempts=0), function, clients)
    run.until(lambda: bool(function.records))
    assert [data(r) for r in function.records] == ["v0", "v1"]
    assert throttles["left"] == 0
    assert run.reports[-1] == "OK"


def test_a_failure_record_can_go_to_an_sns_topic(
    kinesis: Any, clients: Any, aws_peer: AwsPeer
) -> None:
    sqs, url, queue_arn = new_queue(aws_peer)
    sns = aws_peer.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    arn = new_stream(kinesis)
    put(kinesis, arn, ["bad"])
    function = Function(answer=failing_on("bad"))
    config = stream_mapping(arn, maximum_retry_attempts=0, on_failure=topic)
    messages: list[dict[str, Any]] = []
    Run(config, function, clients).until(lambda: collect(sqs, url, messages))
    (failure,) = messages
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["KinesisBatchInfo"]["batchSize"] == 1


def test_a_stream_that_cant_be_read_shows_in_the_last_processing_result(
    kinesis: Any, clients: Any
) -> None:
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/no-such-stream"
    run = Run(stream_mapping(arn), Function(), clients)
    run.until(lambda: bool(run.reports))
    assert run.reports[0].startswith("PROBLEM: Kinesis answered ResourceNotFoundException")


def test_a_new_parallelization_factor_applies_to_a_running_poller(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, [f"{n % 6}:{n}" for n in range(120)], key=lambda n: f"key-{n % 6}")
    function = Function(delay=0.03)
    config = stream_mapping(arn, batch_size=4)
    run = Run(config, function, clients)

    async def scenario() -> None:
        poller = run.poller()
        poller.start()
        try:
            while len(function.records) < 12:
                await asyncio.sleep(0.02)
            assert function.peak == 1
            poller.update(replace(config, generation=2, parallelization_factor=3))
            deadline = asyncio.get_running_loop().time() + 30
            while {data(r) for r in function.records} != {f"{n % 6}:{n}" for n in range(120)}:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
        finally:
            await poller.stop()

    try:
        asyncio.run(scenario())
    finally:
        run.executor.shutdown(wait=False, cancel_futures=True)
    assert function.peak > 1
    per_key: dict[str, list[int]] = defaultdict(list)
    for record in function.records:
        key, n = data(record).split(":")
        per_key[key].append(int(n))
    for numbers in per_key.values():
        assert numbers == sorted(numbers)


def test_streams_of_accounts_the_operator_did_not_allow_are_not_read(
    kinesis: Any, clients: Any, settings: Any
) -> None:
    settings.FUNCTORY_AWS_TARGET_ACCOUNTS = ["999999999999"]
    arn = new_stream(kinesis)
    put(kinesis, arn, ["secret"])
    function = Function()
    run = Run(stream_mapping(arn), function, clients)
    run.until(lambda: bool(run.reports))
    assert run.reports[0] == "PROBLEM: Streams of account 123456789012 can't be read here."
    assert function.events == []


def test_a_batch_the_platform_failed_to_deliver_is_tried_again_in_order(
    kinesis: Any, clients: Any
) -> None:
    arn = new_stream(kinesis)
    put(kinesis, arn, [f"v{n}" for n in range(6)])
    crashes = {"left": 1}

    class Crashing(Function):
        async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome:
            if crashes["left"]:
                crashes["left"] -= 1
                raise RuntimeError("the database went away")
            return await super().__call__(config, payload)

    function = Crashing()
    Run(stream_mapping(arn, batch_size=3), function, clients).until(
        lambda: len(function.records) >= 6
    )
    assert [data(r) for r in function.records] == [f"v{n}" for n in range(6)]
