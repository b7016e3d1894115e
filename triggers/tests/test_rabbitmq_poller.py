"""The RabbitMQ poller against the machine's RabbitMQ (127.0.0.1:5672): AWS's rmq event,
exactly-once counts without failures, redelivery after a failure, poison messages
dead-lettered by the broker, stopping, and a connection lost and found again. The function
is a recording stand-in; ``test_mq_live.py`` runs a real one."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiormq
import pytest

from triggers.brokers import Engine
from triggers.filtering import compile_filter_criteria
from triggers.pollers import mq, rabbitmq
from triggers.pollers.invoke import Outcome
from triggers.pollers.mq import FUNCTION_FAILED, OK
from triggers.tests.broker_support import Function, Run, failing, mapping, proxy_to, until

URL = "amqp://guest:guest@127.0.0.1:5672/"


class Broker:
    """The test's own connection to RabbitMQ: declares, publishes, counts, cleans up."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.channel: Any = None
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    async def open(self) -> None:
        self.connection = await aiormq.connect(URL)
        self.channel = await self.connection.channel()

    async def queue(self, arguments: dict[str, Any] | None = None, **flags: Any) -> str:
        name = f"functory-test-{uuid.uuid4().hex[:10]}"
        await self.channel.queue_declare(name, arguments=arguments, **flags)
        self.queues.append(name)
        return name

    async def publish(
        self, queue: str, body: bytes, properties: aiormq.spec.Basic.Properties | None = None
    ) -> None:
        await self.channel.basic_publish(body, routing_key=queue, properties=properties)

    async def count(self, queue: str) -> int:
        declared = await self.channel.queue_declare(queue, passive=True)
        return int(declared.message_count)

    async def close(self) -> None:
        for name in self.queues:
            await self.channel.queue_delete(name)
        for name in self.exchanges:
            await self.channel.exchange_delete(name)
        await self.connection.close()


Scenario = Callable[[Broker], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        broker = Broker()
        await broker.open()
        try:
            await scenario(broker)
        finally:
            await broker.close()

    asyncio.run(main())


def messages_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    (messages,) = event["rmqMessagesByQueue"].values()
    return list(messages)


def bodies(function: Function) -> list[str]:
    return [
        base64.b64decode(message["data"]).decode()
        for event in function.events
        for messages in event["rmqMessagesByQueue"].values()
        for message in messages
    ]


@pytest.fixture
def rabbit() -> Callable[[Scenario], None]:
    return run


# -- the event ----------------------------------------------------------------------------


def test_it_delivers_a_message_in_awss_rmq_event_shape(rabbit: Any) -> None:
    function = Function()

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10)
        properties = aiormq.spec.Basic.Properties(
            content_type="text/plain",
            headers={"header1": "value1", "numberInHeader": 10, "flag": True},
            delivery_mode=1,
            priority=34,
            expiration="60000",
            timestamp=dt.datetime(1970, 1, 1, 0, 33, 41, tzinfo=dt.UTC),
            user_id="guest",
            message_id="m-1",
        )
        await broker.publish(queue, b'{"timeout":0,"data":"CZrmf0Gw8Ov4bqLQxD4E"}', properties)
        async with Run(config, function, rabbitmq.connect):
            await until(lambda: bool(function.events))
        assert await broker.count(queue) == 0
        (event,) = function.events
        assert event == {
            "eventSource": "aws:rmq",
            "eventSourceArn": config.event_source_arn,
            "rmqMessagesByQueue": {
                f"{queue}::/": [
                    {
                        "basicProperties": {
                            "contentType": "text/plain",
                            "contentEncoding": None,
                            "headers": {
                                "header1": {"bytes": list(b"value1")},
                                "numberInHeader": 10,
                                "flag": True,
                            },
                            "deliveryMode": 1,
                            "priority": 34,
                            "correlationId": None,
                            "replyTo": None,
                            "expiration": "60000",
                            "messageId": "m-1",
                            "timestamp": "Jan 1, 1970, 12:33:41 AM",
                            "type": None,
                            "userId": "guest",
                            "appId": None,
                            "clusterId": None,
                            "bodySize": 43,
                        },
                        "redelivered": False,
                        "data": base64.b64encode(
                            b'{"timeout":0,"data":"CZrmf0Gw8Ov4bqLQxD4E"}'
                        ).decode(),
                    }
                ]
            },
        }

    rabbit(scenario)


def test_it_prints_timestamps_as_awss_events_do() -> None:
    assert rabbitmq.aws_timestamp(dt.datetime(2024, 3, 9, 13, 5, 7)) == "Mar 9, 2024, 1:05:07 PM"
    assert rabbitmq.aws_timestamp(dt.datetime(2024, 3, 9, 0, 0, 0)) == "Mar 9, 2024, 12:00:00 AM"
    assert rabbitmq.aws_timestamp(dt.datetime(2024, 3, 9, 12, 0, 0)) == "Mar 9, 2024, 12:00:00 PM"


def test_it_connects_to_the_mappings_virtual_host() -> None:
    assert rabbitmq.broker_url("amqp://u:p@h:5672/", "/") == "amqp://u:p@h:5672/"
    assert rabbitmq.broker_url("amqp://u:p@h:5672/x?heartbeat=30", "orders/eu") == (
        "amqp://u:p@h:5672/orders%2Feu?heartbeat=30"
    )


# -- counts -------------------------------------------------------------------------------


def test_each_of_300_messages_reaches_the_function_exactly_once(rabbit: Any) -> None:
    function = Function()

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=50)
        sent = [f"m-{n}" for n in range(300)]
        async with Run(config, function, rabbitmq.connect) as run_:
            for body in sent:
                await broker.publish(queue, body.encode())
            await until(lambda: len(bodies(function)) >= 300)
            await asyncio.sleep(0.3)  # anything delivered twice would show now
            assert run_.reports[-1] == OK
        assert sorted(bodies(function)) == sorted(sent)
        assert all(len(messages_of(e)) <= 50 for e in function.events)
        assert await broker.count(queue) == 0

    rabbit(scenario)


def test_filter_criteria_drop_messages_unseen_and_ack_them(rabbit: Any) -> None:
    function = Function()

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        filters = compile_filter_criteria({"Filters": [{"Pattern": '{"data": {"keep": [true]}}'}]})
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10, filters=filters)
        async with Run(config, function, rabbitmq.connect):
            for n in range(6):
                await broker.publish(queue, json.dumps({"keep": n % 2 == 0, "n": n}).encode())
            await until(lambda: len(bodies(function)) >= 3)
            await asyncio.sleep(0.3)
        assert sorted(json.loads(b)["n"] for b in bodies(function)) == [0, 2, 4]
        assert await broker.count(queue) == 0

    rabbit(scenario)


# -- failures -----------------------------------------------------------------------------


def test_a_failed_batch_comes_back_marked_redelivered(
    rabbit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mq, "MAX_RETRY_PAUSE_S", 0.05)
    answers = [failing, lambda event: Outcome(b"null", None)]
    function = Function(lambda event: answers.pop(0)(event) if answers else Outcome(b"null", None))

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10)
        await broker.publish(queue, b"once")
        async with Run(config, function, rabbitmq.connect) as run_:
            await until(lambda: len(function.events) >= 2)
            await until(lambda: run_.reports[-1] == OK)
            assert FUNCTION_FAILED in run_.reports
        first, second = (messages_of(e)[0] for e in function.events)
        assert (first["redelivered"], second["redelivered"]) == (False, True)
        assert await broker.count(queue) == 0

    rabbit(scenario)


def test_a_poison_message_is_dead_lettered_after_the_queues_delivery_limit(
    rabbit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mq, "MAX_RETRY_PAUSE_S", 0.05)
    function = Function(failing)

    async def scenario(broker: Broker) -> None:
        dead = await broker.queue()
        exchange = f"functory-test-dlx-{uuid.uuid4().hex[:8]}"
        await broker.channel.exchange_declare(exchange, exchange_type="fanout")
        broker.exchanges.append(exchange)
        await broker.channel.queue_bind(dead, exchange, routing_key="")
        queue = await broker.queue(
            {
                "x-queue-type": "quorum",
                "x-delivery-limit": 2,
                "x-dead-letter-exchange": exchange,
            },
            durable=True,
        )
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10)
        await broker.publish(queue, b"poison")
        async with Run(config, function, rabbitmq.connect):
            for _ in range(200):
                if await broker.count(dead) == 1:
                    break
                await asyncio.sleep(0.1)
        assert await broker.count(dead) == 1
        assert await broker.count(queue) == 0
        # The first delivery and two redeliveries (the limit), all failed.
        assert bodies(function) == ["poison"] * 3

    rabbit(scenario)


def test_a_message_failing_after_six_redeliveries_is_dead_lettered_as_aws_gives_up(
    rabbit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mq, "MAX_RETRY_PAUSE_S", 0.05)
    function = Function(failing)

    async def scenario(broker: Broker) -> None:
        dead = await broker.queue()
        exchange = f"functory-test-dlx-{uuid.uuid4().hex[:8]}"
        await broker.channel.exchange_declare(exchange, exchange_type="fanout")
        broker.exchanges.append(exchange)
        await broker.channel.queue_bind(dead, exchange, routing_key="")
        queue = await broker.queue(
            {"x-queue-type": "quorum", "x-dead-letter-exchange": exchange}, durable=True
        )
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10)
        await broker.publish(queue, b"poison")
        async with Run(config, function, rabbitmq.connect):
            for _ in range(300):
                if await broker.count(dead) == 1:
                    break
                await asyncio.sleep(0.1)
        assert await broker.count(dead) == 1
        assert await broker.count(queue) == 0
        assert bodies(function) == ["poison"] * (1 + rabbitmq.MAX_REDELIVERIES)

    rabbit(scenario)


# -- stopping and refusing ----------------------------------------------------------------


def test_nothing_is_delivered_after_stop_and_the_rest_stays_queued(rabbit: Any) -> None:
    function = Function()

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10)
        run_ = Run(config, function, rabbitmq.connect)
        async with run_:
            await broker.publish(queue, b"before")
            await until(lambda: bool(function.events))
        for n in range(5):
            await broker.publish(queue, f"after-{n}".encode())
        await asyncio.sleep(1.0)
        assert bodies(function) == ["before"]
        assert await broker.count(queue) == 5

    rabbit(scenario)


def test_a_refused_delivery_hands_the_messages_back(rabbit: Any) -> None:
    function = Function()

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        config = mapping(Engine.RABBITMQ, URL, queue, batch_size=10)
        run_ = Run(config, function, rabbitmq.connect)
        run_.allowed = False
        async with run_:
            await broker.publish(queue, b"held")
            await asyncio.sleep(1.0)
            assert function.events == []
            run_.allowed = True
            await until(lambda: bool(function.events))
        assert bodies(function) == ["held"]

    rabbit(scenario)


# -- the broker going away ----------------------------------------------------------------


def test_a_lost_connection_is_reported_and_the_poller_reconnects(rabbit: Any) -> None:
    function = Function()

    async def scenario(broker: Broker) -> None:
        queue = await broker.queue()
        async with proxy_to(5672) as proxy:
            url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
            config = mapping(Engine.RABBITMQ, url, queue, batch_size=10)
            async with Run(config, function, rabbitmq.connect) as run_:
                await broker.publish(queue, b"first")
                await until(lambda: bodies(function) == ["first"])
                proxy.cut()
                await until(lambda: run_.reports[-1].startswith("PROBLEM: Lambda could not reach"))
                await broker.publish(queue, b"second")
                await asyncio.sleep(0.3)
                assert bodies(function) == ["first"]
                proxy.refusing = False
                await until(lambda: "second" in bodies(function))
                await until(lambda: run_.reports[-1] == OK)
                assert run_.poller.connections >= 2
        assert await broker.count(queue) == 0

    rabbit(scenario)


def test_a_missing_queue_is_a_problem_result(rabbit: Any) -> None:
    async def scenario(broker: Broker) -> None:
        config = mapping(Engine.RABBITMQ, URL, f"functory-test-missing-{uuid.uuid4().hex[:8]}")
        async with Run(config, Function(), rabbitmq.connect) as run_:
            await until(lambda: bool(run_.reports))
        assert run_.reports[0].startswith("PROBLEM: Lambda could not reach the broker")
        assert "NOT_FOUND" in run_.reports[0]
        assert "guest" not in run_.reports[0]

    rabbit(scenario)


def test_stopping_does_not_wait_for_a_broker_that_never_answers() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, answers nothing

    async def scenario() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        config = mapping(Engine.RABBITMQ, f"amqp://guest:guest@127.0.0.1:{port}/", "q")
        run_ = Run(config, Function(), rabbitmq.connect)
        run_.poller.start()
        await asyncio.sleep(0.3)  # the connect is waiting for the broker's greeting
        # The connect would wait CONNECT_TIMEOUT_S (10 s); a stop cuts it short.
        await asyncio.wait_for(run_.poller.stop(), 5.0)
        server.close()

    asyncio.run(scenario())
