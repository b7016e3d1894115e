"""The poller runtime, in process with two runtimes standing for two hosts on one database
and a real SQS peer (moto): one poller per mapping, takeover after a holder dies, changes
and disabling picked up within a check, states settled. The live tests do the same with
real servers, a real sandbox and a real SIGKILL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from conftest import AwsPeer
from functions.tests.factories import function_row
from iam.models import Account
from triggers.models import EventSourceMapping, Lease
from triggers.pollers.runtime import Runtime
from triggers.pollers.sqs import poller_factory
from triggers.services import event_source_mappings as services
from triggers.sources import SourceKind
from triggers.tests.test_sqs_poller import Function, counts, new_queue, peer_client

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_S = 1.5
CHECK_S = 0.1


@pytest.fixture
def sqs(aws_peer: AwsPeer) -> Any:
    return aws_peer.client("sqs")


def make_mapping(arn: str, **params: Any) -> EventSourceMapping:
    """A mapping made as CreateEventSourceMapping makes one."""
    account, _ = Account.objects.get_or_create(id="123456789012")
    function = function_row(account, f"fn-{uuid.uuid4().hex[:8]}")
    return services.mapping_create(
        account=account, params={"EventSourceArn": arn, "FunctionName": function.name, **params}
    )


def update(mapping: EventSourceMapping, **params: Any) -> None:
    """As UpdateEventSourceMapping does it (from the test's loop: in a thread)."""
    services.mapping_update(mapping=mapping, params=params)


def runtime(aws_peer: AwsPeer, function: Function, name: str) -> Runtime:
    return Runtime(
        invoker=function,
        factories={SourceKind.SQS: poller_factory(peer_client(aws_peer))},
        owner=name,
        lease_seconds=LEASE_S,
        check_seconds=CHECK_S,
        threads=16,
    )


async def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def state(mapping: EventSourceMapping) -> str:
    return EventSourceMapping.objects.get(pk=mapping.pk).state


def test_one_of_two_hosts_polls_a_mapping(aws_peer: AwsPeer, sqs: Any) -> None:
    url, arn = new_queue(sqs)
    mapping = make_mapping(arn)
    function = Function()

    async def scenario() -> None:
        hosts = [runtime(aws_peer, function, "host-a"), runtime(aws_peer, function, "host-b")]
        for host in hosts:
            host.start()
        try:
            await wait_for(lambda: any(host.running for host in hosts))
            for start in range(0, 50, 10):
                sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "MessageBody": str(start + n)} for n in range(10)],
                )
            await wait_for(lambda: len(function.records) >= 50 and counts(sqs, url) == (0, 0))
            assert sorted(len(host.running) for host in hosts) == [0, 1]
        finally:
            for host in hosts:
                await host.stop()

    run(scenario)
    assert sorted(int(record["body"]) for record in function.records) == list(range(50))
    assert EventSourceMapping.objects.get(pk=mapping.pk).last_processing_result == "OK"
    # A clean stop gives the lease up.
    assert not Lease.objects.exists()


def test_a_dead_hosts_mapping_moves_to_another_once_its_lease_expires(
    aws_peer: AwsPeer, sqs: Any
) -> None:
    url, arn = new_queue(sqs)
    make_mapping(arn)
    function = Function()

    async def scenario() -> None:
        first = runtime(aws_peer, function, "host-a")
        first.start()
        await wait_for(lambda: bool(first.running))
        second = runtime(aws_peer, function, "host-b")
        second.start()
        try:
            # host-a dies: its loop stops, nothing is released, the lease just ages.
            assert first._task is not None
            first._task.cancel()
            for running in first.running.values():
                await running.poller.stop()
            died = time.monotonic()
            sqs.send_message(QueueUrl=url, MessageBody="after the death")
            await wait_for(lambda: bool(function.records))
            assert time.monotonic() - died >= LEASE_S * 0.5
            assert len(second.running) == 1
        finally:
            await second.stop()

    run(scenario)
    assert [record["body"] for record in function.records] == ["after the death"]


def test_nothing_is_delivered_a_second_after_a_mapping_is_disabled(
    aws_peer: AwsPeer, sqs: Any
) -> None:
    url, arn = new_queue(sqs)
    mapping = make_mapping(arn, BatchSize=1)
    started: list[float] = []

    class Timed(Function):
        async def __call__(self, config: Any, payload: bytes) -> Any:
            started.append(time.monotonic())
            return await super().__call__(config, payload)

    function = Timed()

    async def scenario() -> None:
        host = runtime(aws_peer, function, "host-a")
        host.start()
        stop_sending = asyncio.Event()

        async def send() -> None:
            n = 0
            while not stop_sending.is_set():
                await asyncio.to_thread(sqs.send_message, QueueUrl=url, MessageBody=str(n))
                n += 1
                await asyncio.sleep(0.01)

        sender = asyncio.create_task(send())
        try:
            await wait_for(lambda: len(function.records) >= 20)
            await asyncio.to_thread(update, mapping, Enabled=False)
            disabled = time.monotonic()
            await asyncio.sleep(2.0)
            assert not [moment for moment in started if moment > disabled + 1.0]
            assert await asyncio.to_thread(state, mapping) == EventSourceMapping.DISABLED
            assert not host.running
        finally:
            stop_sending.set()
            await sender
            await host.stop()

    run(scenario)


def test_a_changed_mapping_is_polled_with_its_new_settings(aws_peer: AwsPeer, sqs: Any) -> None:
    _url, arn = new_queue(sqs)
    mapping = make_mapping(arn, BatchSize=1)
    function = Function()

    async def scenario() -> None:
        host = runtime(aws_peer, function, "host-a")
        host.start()
        try:
            await wait_for(lambda: bool(host.running))
            await asyncio.to_thread(update, mapping, BatchSize=7)

            def reconfigured() -> bool:
                return [r.poller.config.batch_size for r in host.running.values()] == [7]

            await wait_for(reconfigured)
        finally:
            await host.stop()

    run(scenario)


def test_a_deleted_mapping_stops_being_polled(aws_peer: AwsPeer, sqs: Any) -> None:
    url, arn = new_queue(sqs)
    mapping = make_mapping(arn)
    function = Function()

    async def scenario() -> None:
        host = runtime(aws_peer, function, "host-a")
        host.start()
        try:
            await wait_for(lambda: bool(host.running))
            await asyncio.to_thread(services.mapping_delete, mapping=mapping)
            await wait_for(lambda: not host.running)
            sqs.send_message(QueueUrl=url, MessageBody="nobody reads this")
            await asyncio.sleep(0.5)
            assert function.events == []
        finally:
            await host.stop()

    run(scenario)


def test_a_mapping_of_a_source_without_a_poller_is_left_alone(aws_peer: AwsPeer) -> None:
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    make_mapping(arn, StartingPosition="LATEST")
    function = Function()

    async def scenario() -> None:
        host = runtime(aws_peer, function, "host-a")
        host.start()
        try:
            await asyncio.sleep(0.5)
            assert not host.running
        finally:
            await host.stop()

    run(scenario)
    assert not Lease.objects.exists()


def test_mappings_are_shared_out_when_a_second_host_joins(aws_peer: AwsPeer, sqs: Any) -> None:
    arns = [new_queue(sqs)[1] for _ in range(6)]
    for arn in arns:
        make_mapping(arn)
    function = Function()

    async def scenario() -> None:
        first = runtime(aws_peer, function, "host-a")
        first.start()
        second: Runtime | None = None
        try:
            await wait_for(lambda: len(first.running) == 6)  # alone, it polls every mapping
            second = runtime(aws_peer, function, "host-b")
            second.start()
            joined = second
            await wait_for(lambda: len(first.running) == 3 and len(joined.running) == 3)
            # Each mapping has one poller: the halves are disjoint.
            assert not set(first.running) & set(joined.running)
            await joined.stop()
            second = None
            await wait_for(lambda: len(first.running) == 6)  # and takes them all back
        finally:
            await first.stop()
            if second is not None:
                await second.stop()

    run(scenario)
