"""Amazon MQ mappings under the poller runtime (in process, one database, the machine's
RabbitMQ): the registry picks the engine, LastProcessingResult follows the broker going away
and coming back, a disabled mapping stops within a check, and a broker taken out of the
registry is a PROBLEM and is not polled."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiormq
import pytest

from functions.tests.factories import function_row
from iam.models import Account
from triggers.models import EventSourceMapping
from triggers.pollers import engines
from triggers.pollers.runtime import Runtime
from triggers.services import event_source_mappings as services
from triggers.sources import SourceKind
from triggers.tests.broker_support import Function, proxy_to
from triggers.tests.test_rabbitmq_poller import bodies

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "123456789012"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
AUTH = [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s"}]


def register(settings: Any, **brokers: str) -> None:
    settings.FUNCTORY_MQ_BROKERS = json.dumps(
        {name: {"engine": "rabbitmq", "url": url} for name, url in brokers.items()}
    )


def make_mapping(broker: str, queue: str) -> EventSourceMapping:
    account, _ = Account.objects.get_or_create(id=ACCOUNT)
    function = function_row(account, f"fn-{uuid.uuid4().hex[:8]}")
    return services.mapping_create(
        account=account,
        params={
            "EventSourceArn": f"arn:aws:mq:us-east-1:{ACCOUNT}:broker:{broker}:b-1",
            "FunctionName": function.name,
            "Queues": [queue],
            "SourceAccessConfigurations": AUTH,
        },
    )


def result(mapping: EventSourceMapping) -> str:
    return EventSourceMapping.objects.get(pk=mapping.pk).last_processing_result


async def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


def runtime(function: Function) -> Runtime:
    return Runtime(
        invoker=function,
        factories={SourceKind.MQ: engines.poller_factory()},
        owner="host",
        lease_seconds=3,
        check_seconds=0.1,
        threads=4,
    )


class Rabbit:
    def __init__(self) -> None:
        self.connection: Any = None
        self.channel: Any = None
        self.queue = f"functory-test-{uuid.uuid4().hex[:10]}"

    async def __aenter__(self) -> Rabbit:
        self.connection = await aiormq.connect(AMQP)
        self.channel = await self.connection.channel()
        await self.channel.queue_declare(self.queue)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.queue_delete(self.queue)
        await self.connection.close()

    async def publish(self, *bodies: str) -> None:
        for body in bodies:
            await self.channel.basic_publish(body.encode(), routing_key=self.queue)

    async def count(self) -> int:
        return int((await self.channel.queue_declare(self.queue, passive=True)).message_count)


def test_the_runtime_shows_a_lost_broker_and_its_return_in_last_processing_result(
    settings: Any,
) -> None:
    function = Function()

    async def scenario() -> None:
        async with Rabbit() as rabbit, proxy_to(5672) as proxy:
            register(settings, rabbit=f"amqp://guest:guest@127.0.0.1:{proxy.port}/")
            mapping = await asyncio.to_thread(make_mapping, "rabbit", rabbit.queue)
            host = runtime(function)
            host.start()
            try:
                await rabbit.publish("one")
                await wait_for(lambda: bodies(function) == ["one"] and result(mapping) == "OK")
                proxy.cut()
                await wait_for(lambda: result(mapping).startswith("PROBLEM: Lambda could not"))
                assert "guest" not in await asyncio.to_thread(result, mapping)
                proxy.refusing = False
                await rabbit.publish("two")
                await wait_for(lambda: "two" in bodies(function) and result(mapping) == "OK")

                # Disabled: stopped within a check; what comes next stays queued.
                await asyncio.to_thread(
                    services.mapping_update, mapping=mapping, params={"Enabled": False}
                )
                await wait_for(lambda: not host.running)
                await rabbit.publish("three")
                await asyncio.sleep(1.0)
                assert bodies(function) == ["one", "two"]
                assert await rabbit.count() == 1
            finally:
                await host.stop()

    asyncio.run(scenario())


def test_a_broker_taken_out_of_the_registry_is_a_problem_and_is_not_polled(
    settings: Any,
) -> None:
    function = Function()

    async def scenario() -> None:
        async with Rabbit() as rabbit:
            register(settings, rabbit=AMQP)
            mapping = await asyncio.to_thread(make_mapping, "rabbit", rabbit.queue)
            settings.FUNCTORY_MQ_BROKERS = "{}"
            await rabbit.publish("unread")
            host = runtime(function)
            host.start()
            try:
                await wait_for(lambda: result(mapping).startswith("PROBLEM: The broker"))
                await asyncio.sleep(0.5)
                assert not host.running
                assert function.events == []
                assert await rabbit.count() == 1
            finally:
                await host.stop()

    asyncio.run(scenario())
