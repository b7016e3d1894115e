"""Stream pollers under the poller runtime, with mappings and checkpoints in the database
and a real Kinesis peer (moto): checkpoints written by the lease holder, a host taking over
resumes after them with no gap, and disabling stops delivery within a second."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest

from conftest import AwsPeer
from triggers.models import EventSourceMapping, StreamCheckpoint
from triggers.pollers import dynamodb, kinesis
from triggers.pollers.runtime import Runtime
from triggers.sources import SourceKind
from triggers.tests.test_kinesis_poller import new_stream, peer_clients, put
from triggers.tests.test_poller_runtime import make_mapping, run, state, update, wait_for
from triggers.tests.test_sqs_poller import Function

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stream_client(aws_peer: AwsPeer) -> Any:
    return aws_peer.client("kinesis")


def runtime(aws_peer: AwsPeer, function: Function, name: str) -> Runtime:
    clients = peer_clients(aws_peer)
    return Runtime(
        invoker=function,
        factories={
            SourceKind.KINESIS: kinesis.poller_factory(clients, poll_s=0.05, relist_s=0.2),
            SourceKind.DYNAMODB: dynamodb.poller_factory(clients, poll_s=0.05, relist_s=0.2),
        },
        owner=name,
        lease_seconds=1.5,
        check_seconds=0.1,
        threads=16,
    )


def values_of(function: Function) -> list[str]:
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in function.records]


def test_another_host_resumes_after_the_checkpoints_with_no_gap(
    aws_peer: AwsPeer, stream_client: Any
) -> None:
    arn = new_stream(stream_client, shards=2)
    mapping = make_mapping(arn, StartingPosition="TRIM_HORIZON", BatchSize=10)
    values = [f"v{n}" for n in range(200)]
    put(stream_client, arn, values, key=lambda n: f"k{n}")
    first = Function(delay=0.02)
    second = Function()

    async def scenario() -> None:
        host = runtime(aws_peer, first, "host-a")
        host.start()
        try:
            await wait_for(lambda: len(first.records) >= 60)
        finally:
            await host.stop()
        other = runtime(aws_peer, second, "host-b")
        other.start()
        try:
            wanted = set(values) - set(values_of(first))
            await wait_for(lambda: wanted <= set(values_of(second)))
        finally:
            await other.stop()

    run(scenario)
    assert len(values_of(first)) < 200
    assert set(values_of(first)) | set(values_of(second)) == set(values)
    # At least once: only the batches in flight at the stop (one per shard) come again.
    assert len(set(values_of(first)) & set(values_of(second))) <= 2 * 10
    rows = StreamCheckpoint.objects.filter(mapping=mapping)
    assert {row.shard_id for row in rows} == {"shardId-000000000000", "shardId-000000000001"}
    assert all(row.sequence_number and not row.finished for row in rows)
    assert EventSourceMapping.objects.get(pk=mapping.pk).last_processing_result == "OK"


def test_nothing_is_delivered_a_second_after_a_stream_mapping_is_disabled(
    aws_peer: AwsPeer, stream_client: Any
) -> None:
    arn = new_stream(stream_client)
    mapping = make_mapping(arn, StartingPosition="LATEST", BatchSize=1)
    started: list[float] = []

    class Timed(Function):
        async def __call__(self, config: Any, payload: bytes) -> Any:
            started.append(time.monotonic())
            return await super().__call__(config, payload)

    function = Timed()

    async def scenario() -> None:
        host = runtime(aws_peer, function, "host-a")
        host.start()
        stop_putting = asyncio.Event()

        async def keep_putting() -> None:
            n = 0
            while not stop_putting.is_set():
                await asyncio.to_thread(
                    stream_client.put_record, StreamARN=arn, Data=str(n).encode(), PartitionKey="k"
                )
                n += 1
                await asyncio.sleep(0.01)

        putter = asyncio.create_task(keep_putting())
        try:
            await wait_for(lambda: len(function.records) >= 10)
            await asyncio.to_thread(update, mapping, Enabled=False)
            disabled = time.monotonic()
            await asyncio.sleep(2.0)
            assert not [moment for moment in started if moment > disabled + 1.0]
            assert await asyncio.to_thread(state, mapping) == EventSourceMapping.DISABLED
            assert not host.running
        finally:
            stop_putting.set()
            await putter
            await host.stop()

    run(scenario)
