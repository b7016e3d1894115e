"""The NATS poller against the machine's NATS server with JetStream (127.0.0.1:4222): the
aws:mq event shape, JetStream counts exactly once, nak and redelivery, MaxDeliver honoured,
stopping, a lost connection found again, and core subjects (at most once)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import nats
import pytest
from nats.js.api import StreamConfig

from triggers.brokers import Engine
from triggers.pollers import mq, nats_poller
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Outcome
from triggers.pollers.mq import FUNCTION_FAILED, OK
from triggers.tests.broker_support import Function, Run, failing, mapping, proxy_to, until

URL = "nats://127.0.0.1:4222"


class Server:
    """The test's own NATS connection: a stream of its own, publishing, cleaning up."""

    def __init__(self) -> None:
        self.client: Any = None
        self.js: Any = None
        self.streams: list[str] = []
        self.prefix = f"functory.test.{uuid.uuid4().hex[:10]}"

    async def open(self) -> None:
        self.client = await nats.connect(URL)
        self.js = self.client.jetstream()

    async def stream(self) -> str:
        name = f"FUNCTORY_TEST_{uuid.uuid4().hex[:10].upper()}"
        await self.js.add_stream(StreamConfig(name=name, subjects=[f"{self.prefix}.>"]))
        self.streams.append(name)
        return f"{self.prefix}.>"

    async def pending(self, config: MappingConfig, *, in_flight: bool = True) -> int:
        """Messages the mapping's consumer has yet to deliver (and, with ``in_flight``,
        delivered but not acknowledged)."""
        info = await self.js.consumer_info(self.streams[0], nats_poller.durable_name(config))
        return int(info.num_pending + (info.num_ack_pending if in_flight else 0))

    async def close(self) -> None:
        for name in self.streams:
            await self.js.delete_stream(name)
        await self.client.close()


Scenario = Callable[[Server], Awaitable[None]]


@pytest.fixture
def server() -> Callable[[Scenario], None]:
    def run(scenario: Scenario) -> None:
        async def main() -> None:
            server = Server()
            await server.open()
            try:
                await scenario(server)
            finally:
                await server.close()

        asyncio.run(main())

    return run


def bodies(function: Function) -> list[str]:
    return [
        base64.b64decode(message["data"]).decode()
        for event in function.events
        for message in event["messages"]
    ]


def jetstream(subject: str, **overrides: Any) -> MappingConfig:
    config = mapping(Engine.NATS, URL, subject, jetstream=True, **overrides)
    return config


# -- JetStream ----------------------------------------------------------------------------


def test_a_jetstream_message_arrives_in_the_aws_mq_shape(server: Any) -> None:
    function = Function()

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        config = jetstream(subject, batch_size=10)
        await nats_.js.publish(f"{nats_.prefix}.orders", b"hello", headers={"Kind": "order"})
        async with Run(config, function, nats_poller.connect):
            await until(lambda: bool(function.events))
        (event,) = function.events
        assert list(event) == ["eventSource", "eventSourceArn", "messages"]
        assert (event["eventSource"], event["eventSourceArn"]) == (
            "aws:mq",
            config.event_source_arn,
        )
        (message,) = event["messages"]
        assert message["messageID"] == f"ID:{nats_.streams[0]}:1"
        assert message["messageType"] == "jms/bytes-message"
        assert message["destination"] == {"physicalName": f"{nats_.prefix}.orders"}
        assert message["data"] == base64.b64encode(b"hello").decode()
        assert message["properties"] == {"Kind": "order"}
        assert (message["redelivered"], message["deliveryMode"]) == (False, 2)
        assert isinstance(message["timestamp"], int) and message["timestamp"] > 0
        assert await nats_.pending(config) == 0

    server(scenario)


def test_each_of_300_jetstream_messages_reaches_the_function_exactly_once(server: Any) -> None:
    function = Function()

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        config = jetstream(subject, batch_size=40)
        sent = [f"m-{n}" for n in range(300)]
        async with Run(config, function, nats_poller.connect) as run_:
            for body in sent:
                await nats_.js.publish(f"{nats_.prefix}.work", body.encode())
            await until(lambda: len(bodies(function)) >= 300)
            await asyncio.sleep(0.3)
            assert run_.reports[-1] == OK
        assert sorted(bodies(function)) == sorted(sent)
        assert all(len(event["messages"]) <= 40 for event in function.events)
        assert await nats_.pending(config) == 0

    server(scenario)


def test_a_failed_jetstream_batch_is_redelivered_and_max_deliver_is_honoured(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mq, "MAX_RETRY_PAUSE_S", 0.05)
    function = Function(failing)

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        config = jetstream(subject, batch_size=10)
        assert config.broker is not None
        config = replace(config, broker=replace(config.broker, max_deliver=3))
        await nats_.js.publish(f"{nats_.prefix}.poison", b"poison")
        async with Run(config, function, nats_poller.connect) as run_:
            await until(lambda: len(function.events) >= 3)
            await asyncio.sleep(0.5)  # a fourth delivery would come within the retry pause
            assert run_.reports[-1] == FUNCTION_FAILED
        flags = [event["messages"][0]["redelivered"] for event in function.events]
        assert flags == [False, True, True]
        assert await nats_.pending(config, in_flight=False) == 0

    server(scenario)


def test_a_failure_then_success_acks_the_redelivered_batch(server: Any) -> None:
    answers = [failing]
    function = Function(lambda e: answers.pop(0)(e) if answers else Outcome(b"null", None))

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        config = jetstream(subject, batch_size=10)
        await nats_.js.publish(f"{nats_.prefix}.once", b"once")
        async with Run(config, function, nats_poller.connect) as run_:
            await until(lambda: len(function.events) >= 2)
            await until(lambda: run_.reports[-1] == OK)
        assert bodies(function) == ["once", "once"]
        assert await nats_.pending(config) == 0

    server(scenario)


def test_a_batch_the_function_holds_past_the_ack_wait_is_not_delivered_twice(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nats_poller, "ACK_WAIT_S", 1.0)
    function = Function(delay=2.5)

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        config = jetstream(subject, batch_size=10)
        await nats_.js.publish(f"{nats_.prefix}.slow", b"slow")
        async with Run(config, function, nats_poller.connect) as run_:
            await until(lambda: run_.reports[-1:] == [OK], timeout=20)
            await asyncio.sleep(1.2)  # a redelivery after the ack wait would come now
        assert bodies(function) == ["slow"]
        assert await nats_.pending(config) == 0

    server(scenario)


def test_nothing_is_delivered_after_stop_and_the_durable_keeps_the_rest(server: Any) -> None:
    function = Function()

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        config = jetstream(subject, batch_size=10)
        async with Run(config, function, nats_poller.connect):
            await nats_.js.publish(f"{nats_.prefix}.a", b"before")
            await until(lambda: bool(function.events))
        for n in range(4):
            await nats_.js.publish(f"{nats_.prefix}.a", f"after-{n}".encode())
        await asyncio.sleep(0.5)
        assert bodies(function) == ["before"]
        assert await nats_.pending(config) == 4
        # The durable consumer resumes where the mapping left off.
        async with Run(config, function, nats_poller.connect):
            await until(lambda: len(bodies(function)) >= 5)
        assert bodies(function) == ["before"] + [f"after-{n}" for n in range(4)]

    server(scenario)


def test_a_lost_nats_connection_is_reported_and_the_poller_reconnects(server: Any) -> None:
    function = Function()

    async def scenario(nats_: Server) -> None:
        subject = await nats_.stream()
        async with proxy_to(4222) as proxy:
            config = jetstream(subject, batch_size=10)
            assert config.broker is not None
            config = replace(
                config, broker=replace(config.broker, url=f"nats://127.0.0.1:{proxy.port}")
            )
            async with Run(config, function, nats_poller.connect) as run_:
                await nats_.js.publish(f"{nats_.prefix}.x", b"first")
                await until(lambda: bodies(function) == ["first"])
                proxy.cut()
                await until(lambda: run_.reports[-1].startswith("PROBLEM: Lambda could not reach"))
                await nats_.js.publish(f"{nats_.prefix}.x", b"second")
                proxy.refusing = False
                await until(lambda: "second" in bodies(function))
                await until(lambda: run_.reports[-1] == OK)
        assert bodies(function) == ["first", "second"]

    server(scenario)


def test_a_subject_no_stream_holds_is_a_problem_result(server: Any) -> None:
    async def scenario(nats_: Server) -> None:
        config = jetstream(f"functory.nowhere.{uuid.uuid4().hex[:8]}")
        async with Run(config, Function(), nats_poller.connect) as run_:
            await until(lambda: bool(run_.reports))
        assert run_.reports[0].startswith("PROBLEM: Lambda could not reach the broker")

    server(scenario)


# -- core NATS ----------------------------------------------------------------------------


def test_core_subjects_deliver_each_message_published_while_connected_once(server: Any) -> None:
    function = Function()

    async def scenario(nats_: Server) -> None:
        config = mapping(Engine.NATS, URL, f"{nats_.prefix}.core.*", batch_size=25)
        sent = [f"c-{n}" for n in range(200)]
        async with Run(config, function, nats_poller.connect) as run_:
            await until(lambda: run_.poller.connections == 1)
            await asyncio.sleep(0.2)  # the subscription reaches the server
            for body in sent:
                await nats_.client.publish(f"{nats_.prefix}.core.{body}", body.encode())
            await until(lambda: len(bodies(function)) >= 200)
            await asyncio.sleep(0.3)
        assert sorted(bodies(function)) == sorted(sent)
        assert all(len(event["messages"]) <= 25 for event in function.events)
        first = function.events[0]["messages"][0]
        assert first["destination"]["physicalName"].startswith(f"{nats_.prefix}.core.")
        assert (first["redelivered"], first["deliveryMode"]) == (False, 1)

    server(scenario)
