"""Amazon MQ event source mappings end to end: a live server with a broker registry
(FUNCTORY_MQ_BROKERS), mappings made with boto3, the machine's RabbitMQ, a real function in
the sandbox whose log lines are counted; and the API's answers to mappings it refuses."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import aiormq
import pytest

from conftest import LiveServer, client_error, client_for, create_function, create_user, make_zip
from conftest import run_server as start_server

pytestmark = pytest.mark.live

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
REGISTRY = {
    "rabbit": {"engine": "rabbitmq", "url": AMQP},
    "events": {"engine": "nats", "url": "nats://127.0.0.1:4222"},
    "private": {"engine": "rabbitmq", "url": AMQP, "accounts": ["000000000000"]},
}
AUTH = [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:111122223333:secret:mq"}]
CODE = """
import base64
def handler(event, context):
    for messages in event["rmqMessagesByQueue"].values():
        for message in messages:
            print("got", base64.b64decode(message["data"]).decode(), message["redelivered"])
"""


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from start_server(
        tmp_path_factory,
        {"FUNCTORY_MQ_BROKERS": json.dumps(REGISTRY), "FUNCTORY_POLLER_LEASE_SECONDS": "3"},
    )


class Tenant:
    def __init__(self, server: LiveServer) -> None:
        self.credentials = create_user(server)
        self.lam = client_for(server, self.credentials)
        self.logs = client_for(server, self.credentials, "logs")

    def arn(self, broker: str) -> str:
        account = self.credentials.account_id
        return f"arn:aws:mq:us-east-1:{account}:broker:{broker}:b-{uuid.uuid4()}"

    def function(self) -> str:
        name = f"mq-{uuid.uuid4().hex[:8]}"
        create_function(self.lam, name, Code={"ZipFile": make_zip({"app.py": CODE})})
        return name

    def lines(self, name: str) -> list[str]:
        found: list[str] = []
        try:
            for page in self.logs.get_paginator("filter_log_events").paginate(
                logGroupName=f"/aws/lambda/{name}"
            ):
                found += [e["message"] for e in page["events"] if e["message"].startswith("got ")]
        except self.logs.exceptions.ResourceNotFoundException:
            pass
        return found


@pytest.fixture
def tenant(functory: LiveServer) -> Tenant:
    return Tenant(functory)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.25)


def amqp(*steps: Callable[[Any], Any]) -> list[Any]:
    """Run the steps on one channel of the machine's RabbitMQ; their answers in order."""

    async def main() -> list[Any]:
        connection = await aiormq.connect(AMQP)
        try:
            channel = await connection.channel()
            return [await step(channel) for step in steps]
        finally:
            await connection.close()

    return asyncio.run(main())


def publish(queue: str, bodies: list[str]) -> Callable[[Any], Any]:
    async def step(channel: Any) -> None:
        for body in bodies:
            await channel.basic_publish(body.encode(), routing_key=queue)

    return step


def count(queue: str) -> int:
    async def step(channel: Any) -> int:
        return int((await channel.queue_declare(queue, passive=True)).message_count)

    return int(amqp(step)[0])


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"functory-live-{uuid.uuid4().hex[:10]}"

    async def declare(channel: Any) -> None:
        await channel.queue_declare(name)

    async def delete(channel: Any) -> None:
        await channel.queue_delete(name)

    amqp(declare)
    yield name
    amqp(delete)


def test_messages_reach_a_real_function_once_and_disable_stops_delivery(
    tenant: Tenant, queue: str
) -> None:
    name = tenant.function()
    mapping = tenant.lam.create_event_source_mapping(
        EventSourceArn=tenant.arn("rabbit"),
        FunctionName=name,
        Queues=[queue],
        SourceAccessConfigurations=AUTH,
        BatchSize=20,
    )
    assert (mapping["State"], mapping["Queues"], mapping["BatchSize"]) == ("Creating", [queue], 20)
    sent = [f"m{n}" for n in range(200)]
    amqp(publish(queue, sent))
    wait_for(lambda: count(queue) == 0, what="an empty queue")
    wait_for(lambda: len(tenant.lines(name)) >= 200, what="every log line")
    time.sleep(1)  # a duplicate still in flight would show now
    receipts = Counter(line.split()[1] for line in tenant.lines(name))
    assert receipts == Counter(sent)
    got = tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert (got["State"], got["LastProcessingResult"]) == ("Enabled", "OK")

    tenant.lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    wait_for(
        lambda: tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    )
    time.sleep(1)
    amqp(publish(queue, ["after"]))
    time.sleep(2)
    assert count(queue) == 1
    assert len(tenant.lines(name)) == 200
    tenant.lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    wait_for(lambda: count(queue) == 0, what="the queue drained after enabling")
    tenant.lam.delete_event_source_mapping(UUID=mapping["UUID"])


def refused(tenant: Tenant, **params: Any) -> tuple[str, str, int]:
    params.setdefault("FunctionName", tenant.function())
    with pytest.raises(Exception) as excinfo:
        tenant.lam.create_event_source_mapping(**params)
    return client_error(excinfo)


def test_a_broker_must_be_registered_for_the_callers_account(tenant: Tenant) -> None:
    code, message, status = refused(
        tenant, EventSourceArn=tenant.arn("nowhere"), Queues=["q"], SourceAccessConfigurations=AUTH
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "is not registered for this account" in message
    code, message, status = refused(
        tenant, EventSourceArn=tenant.arn("private"), Queues=["q"], SourceAccessConfigurations=AUTH
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "is not registered for this account" in message


def test_queues_and_source_access_configurations_are_checked(tenant: Tenant) -> None:
    arn = tenant.arn("rabbit")
    code, message, _ = refused(tenant, EventSourceArn=arn, SourceAccessConfigurations=AUTH)
    assert (code, message) == (
        "InvalidParameterValueException",
        "Required 'queues' parameter is missing.",
    )
    code, _, status = refused(
        tenant, EventSourceArn=arn, Queues=["a", "b"], SourceAccessConfigurations=AUTH
    )
    assert (code, status) == ("ValidationException", 400)
    code, message, _ = refused(tenant, EventSourceArn=arn, Queues=["q"])
    assert message == "Required 'BASIC_AUTH' source access configuration is missing."
    code, message, _ = refused(
        tenant,
        EventSourceArn=arn,
        Queues=["q"],
        SourceAccessConfigurations=[*AUTH, {"Type": "SASL_SCRAM_512_AUTH", "URI": "arn:x"}],
    )
    assert code == "InvalidParameterValueException"
    assert message.startswith("Unsupported source access configuration type SASL_SCRAM_512_AUTH")
    code, message, _ = refused(
        tenant,
        EventSourceArn=tenant.arn("events"),
        Queues=["orders.>"],
        SourceAccessConfigurations=[*AUTH, {"Type": "VIRTUAL_HOST", "URI": "/"}],
    )
    assert message == "VIRTUAL_HOST is only supported for RabbitMQ brokers."
