"""The MQTT poller against the machine's Mosquitto (127.0.0.1:1883): the aws:mq event
shape, counts exactly once, a failed batch resent by the broker (DUP), messages kept for a
poller that is away (persistent session), stopping, a lost connection found again."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from triggers.brokers import Engine
from triggers.pollers import mq, mqtt_poller
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Outcome
from triggers.pollers.mq import FUNCTION_FAILED, OK
from triggers.tests.broker_support import Function, Run, failing, mapping, proxy_to, until

URL = "mqtt://127.0.0.1:1883"


class Publisher:
    """The test's own MQTT client (QoS 1 publishes, waited for)."""

    def __init__(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.prefix = f"functory/test/{uuid.uuid4().hex[:10]}"

    def publish(self, topic: str, body: bytes, **user: str) -> None:
        properties = None
        if user:
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = list(user.items())
        info = self.client.publish(f"{self.prefix}/{topic}", body, qos=1, properties=properties)
        info.wait_for_publish(10)

    async def send(self, topic: str, body: bytes, **user: str) -> None:
        await asyncio.to_thread(self.publish, topic, body, **user)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def forget_session(config: MappingConfig) -> None:
    """Remove the mapping's persistent session from the broker (a clean start that
    expires at once)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=mqtt_poller.client_id(config), protocol=mqtt.MQTTv5
    )
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    client.connect("127.0.0.1", 1883, clean_start=True, properties=properties)
    client.loop_start()
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    publisher = Publisher()
    yield publisher
    publisher.close()


class Configs:
    def __init__(self) -> None:
        self.made: list[MappingConfig] = []

    def __call__(self, topic: str, **overrides: Any) -> MappingConfig:
        config = mapping(Engine.MQTT, URL, topic, **overrides)
        self.made.append(config)
        return config


@pytest.fixture
def configs() -> Iterator[Configs]:
    made = Configs()
    yield made
    for config in made.made:
        forget_session(config)


def bodies(function: Function) -> list[str]:
    return [
        base64.b64decode(message["data"]).decode()
        for event in function.events
        for message in event["messages"]
    ]


async def connected(run: Run) -> None:
    await until(lambda: run.poller.connections >= 1)
    await asyncio.sleep(0.2)  # the subscription reaches the broker


def test_an_mqtt_message_arrives_in_the_aws_mq_shape(
    publisher: Publisher, configs: Configs
) -> None:
    function = Function()
    config = configs(f"{publisher.prefix}/#", batch_size=10)

    async def scenario() -> None:
        async with Run(config, function, mqtt_poller.connect) as run_:
            await connected(run_)
            await publisher.send("sensors/1", b"21.5", unit="C")
            await until(lambda: bool(function.events))

    asyncio.run(scenario())
    (event,) = function.events
    assert (event["eventSource"], event["eventSourceArn"]) == ("aws:mq", config.event_source_arn)
    (message,) = event["messages"]
    assert message["destination"] == {"physicalName": f"{publisher.prefix}/sensors/1"}
    assert message["data"] == base64.b64encode(b"21.5").decode()
    assert message["properties"] == {"unit": "C"}
    assert (message["redelivered"], message["deliveryMode"]) == (False, 2)
    assert message["messageID"].startswith("ID:")


def test_each_of_200_mqtt_messages_reaches_the_function_exactly_once(
    publisher: Publisher, configs: Configs
) -> None:
    function = Function()
    config = configs(f"{publisher.prefix}/+", batch_size=20)
    sent = [f"m-{n}" for n in range(200)]

    async def scenario() -> None:
        async with Run(config, function, mqtt_poller.connect) as run_:
            await connected(run_)
            for body in sent:
                await publisher.send("work", body.encode())
            await until(lambda: len(bodies(function)) >= 200)
            await asyncio.sleep(0.5)
            assert run_.reports[-1] == OK

    asyncio.run(scenario())
    assert sorted(bodies(function)) == sorted(sent)
    assert all(len(event["messages"]) <= 20 for event in function.events)


def test_a_failed_mqtt_batch_is_resent_by_the_broker_marked_redelivered(
    publisher: Publisher, configs: Configs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mq, "MAX_RETRY_PAUSE_S", 0.05)
    answers = [failing]
    function = Function(lambda e: answers.pop(0)(e) if answers else Outcome(b"null", None))
    config = configs(f"{publisher.prefix}/#", batch_size=10)

    async def scenario() -> None:
        async with Run(config, function, mqtt_poller.connect) as run_:
            await connected(run_)
            await publisher.send("once", b"once")
            await until(lambda: len(function.events) >= 2)
            await until(lambda: run_.reports[-1] == OK)
            assert FUNCTION_FAILED in run_.reports
            await asyncio.sleep(0.5)  # an unacknowledged message would come a third time

    asyncio.run(scenario())
    assert bodies(function) == ["once", "once"]
    flags = [event["messages"][0]["redelivered"] for event in function.events]
    assert flags == [False, True]


def test_messages_wait_for_a_stopped_poller_and_nothing_is_delivered_meanwhile(
    publisher: Publisher, configs: Configs
) -> None:
    function = Function()
    config = configs(f"{publisher.prefix}/#", batch_size=10)

    async def scenario() -> None:
        async with Run(config, function, mqtt_poller.connect) as run_:
            await connected(run_)
            await publisher.send("a", b"before")
            await until(lambda: bool(function.events))
        for n in range(5):
            await publisher.send("a", f"away-{n}".encode())
        await asyncio.sleep(0.5)
        assert bodies(function) == ["before"]
        async with Run(config, function, mqtt_poller.connect):
            await until(lambda: len(bodies(function)) >= 6)
            await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert bodies(function) == ["before"] + [f"away-{n}" for n in range(5)]


def test_a_lost_mqtt_connection_is_reported_and_the_poller_reconnects(
    publisher: Publisher, configs: Configs
) -> None:
    function = Function()

    async def scenario() -> None:
        async with proxy_to(1883) as proxy:
            config = configs(f"{publisher.prefix}/#", batch_size=10)
            assert config.broker is not None
            config = replace(
                config, broker=replace(config.broker, url=f"mqtt://127.0.0.1:{proxy.port}")
            )
            async with Run(config, function, mqtt_poller.connect) as run_:
                await connected(run_)
                await publisher.send("x", b"first")
                await until(lambda: bodies(function) == ["first"])
                proxy.cut()
                await until(lambda: run_.reports[-1].startswith("PROBLEM: Lambda could not reach"))
                await publisher.send("x", b"second")  # kept in the session meanwhile
                proxy.refusing = False
                await until(lambda: "second" in bodies(function))
                await until(lambda: run_.reports[-1] == OK)

    asyncio.run(scenario())
    assert bodies(function) == ["first", "second"]


def test_an_unreachable_mqtt_broker_is_a_problem_result() -> None:
    config = mapping(Engine.MQTT, "mqtt://127.0.0.1:1", "functory/none")

    async def scenario() -> list[str]:
        async with Run(config, Function(), mqtt_poller.connect) as run_:
            await until(lambda: bool(run_.reports))
        return run_.reports

    reports = asyncio.run(scenario())
    assert reports[0] == "PROBLEM: Lambda could not reach the broker: Connection refused"
