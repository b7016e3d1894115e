"""Amazon MQ mappings in process: the operator's broker registry, which mappings it lets a
tenant make, and what a poller sees when a broker leaves the registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from awsapi.errors import InvalidParameterValue
from functions.models import Function
from functions.tests.factories import function_row
from iam.models import Account
from triggers.brokers import Engine, RegistryError, broker_for, parse_registry, queue_problem
from triggers.models import EventSourceMapping
from triggers.pollers import engines, mqtt_poller, nats_poller, rabbitmq
from triggers.pollers.base import PollerContext
from triggers.pollers.config import ConfigProblem, mapping_config
from triggers.pollers.mq import BrokerPoller
from triggers.services import event_source_mappings as services
from triggers.tests.broker_support import Function as Recorder
from triggers.tests.broker_support import mapping

OWNER = "111122223333"
AUTH = [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:111122223333:secret:s"}]
REGISTRY = {
    "rabbit": {"engine": "rabbitmq", "url": "amqp://u:p@mq.internal:5672/"},
    "mine": {"engine": "mqtt", "url": "mqtt://m.internal", "accounts": [OWNER]},
    "theirs": {"engine": "nats", "url": "nats://n.internal:4222", "accounts": ["444455556666"]},
    "arn:aws:mq:us-east-1:111122223333:broker:exact:b-1": {
        "engine": "nats",
        "url": "nats://x.internal:4222",
        "jetstream": True,
        "max_deliver": 4,
    },
}


def arn(name: str, broker_id: str = "b-0000") -> str:
    return f"arn:aws:mq:us-east-1:{OWNER}:broker:{name}:{broker_id}"


# -- the registry -------------------------------------------------------------------------


def test_the_registry_names_brokers_by_name_or_whole_arn() -> None:
    registry = parse_registry(json.dumps(REGISTRY))
    assert registry["rabbit"].engine is Engine.RABBITMQ
    assert registry["rabbit"].accounts is None
    exact = registry["arn:aws:mq:us-east-1:111122223333:broker:exact:b-1"]
    assert (exact.jetstream, exact.max_deliver) == (True, 4)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("not json", "is not JSON"),
        ("[]", "must be a JSON object"),
        ('{"a": 1}', "must be an object"),
        ('{"a": {"engine": "kafka", "url": "amqp://h"}}', "engine must be"),
        ('{"a": {"engine": "rabbitmq", "url": "http://h"}}', "url must be a amqp://"),
        ('{"a": {"engine": "mqtt", "url": "amqp://h"}}', "url must be a mqtt://"),
        ('{"a": {"engine": "nats", "url": "nats://h", "accounts": "1"}}', "accounts must be"),
        ('{"a": {"engine": "nats", "url": "nats://h", "max_deliver": 0}}', "max_deliver must"),
    ],
)
def test_a_malformed_registry_is_refused_with_the_entry_named(raw: str, complaint: str) -> None:
    with pytest.raises(RegistryError, match=complaint):
        parse_registry(raw)


def test_a_broker_is_found_only_for_the_accounts_it_is_registered_for(settings: Any) -> None:
    settings.FUNCTORY_MQ_BROKERS = json.dumps(REGISTRY)
    assert broker_for(arn("rabbit"), OWNER) is not None
    assert broker_for(arn("rabbit"), "999999999999") is not None  # every account
    assert broker_for(arn("mine"), OWNER) is not None
    assert broker_for(arn("mine"), "999999999999") is None
    assert broker_for(arn("theirs"), OWNER) is None
    assert broker_for(arn("nowhere"), OWNER) is None
    assert broker_for(arn("exact", "b-1"), OWNER) is not None
    assert broker_for(arn("exact", "b-2"), OWNER) is None


def test_a_malformed_registry_setting_registers_nothing(settings: Any) -> None:
    settings.FUNCTORY_MQ_BROKERS = "{broken"
    assert broker_for(arn("rabbit"), OWNER) is None


@pytest.mark.parametrize(
    ("engine", "name", "ok"),
    [
        (Engine.RABBITMQ, "orders", True),
        (Engine.RABBITMQ, "q" * 256, False),
        (Engine.NATS, "orders.*.created", True),
        (Engine.NATS, "orders.>", True),
        (Engine.NATS, "orders.>.x", False),
        (Engine.NATS, "orders..x", False),
        (Engine.NATS, "orders x", False),
        (Engine.NATS, "ord*rs", False),
        (Engine.MQTT, "sensors/+/temp", True),
        (Engine.MQTT, "sensors/#", True),
        (Engine.MQTT, "#", True),
        (Engine.MQTT, "sensors/#/x", False),
        (Engine.MQTT, "sensors/a+", False),
        (Engine.MQTT, "$SYS/#", False),
    ],
)
def test_queue_names_follow_each_engines_syntax(engine: Engine, name: str, ok: bool) -> None:
    assert (queue_problem(engine, name) is None) is ok


# -- mappings -----------------------------------------------------------------------------


@pytest.fixture
def owner(db: Any) -> Account:
    return Account.objects.create(id=OWNER)


@pytest.fixture
def fn(owner: Account) -> Function:
    return function_row(owner, "worker")


@pytest.fixture
def create(
    owner: Account, fn: Function, settings: Any, django_capture_on_commit_callbacks: Any
) -> Callable[..., EventSourceMapping]:
    settings.FUNCTORY_MQ_BROKERS = json.dumps(REGISTRY)

    def make(**params: Any) -> EventSourceMapping:
        params.setdefault("FunctionName", fn.name)
        params.setdefault("SourceAccessConfigurations", AUTH)
        with django_capture_on_commit_callbacks(execute=True):
            return services.mapping_create(account=owner, params=params)

    return make


def rejected(create: Callable[..., EventSourceMapping], **params: Any) -> str:
    with pytest.raises(InvalidParameterValue) as excinfo:
        create(**params)
    return excinfo.value.message


def test_a_mapping_takes_its_queue_and_virtual_host_into_the_pollers_snapshot(
    create: Callable[..., EventSourceMapping],
) -> None:
    vhost = [*AUTH, {"Type": "VIRTUAL_HOST", "URI": "orders"}]
    mapping = create(
        EventSourceArn=arn("rabbit"), Queues=["jobs"], SourceAccessConfigurations=vhost
    )
    assert (mapping.batch_size, mapping.maximum_batching_window_in_seconds) == (100, 0)
    config = mapping_config(
        EventSourceMapping.objects.select_related("function__account").get(pk=mapping.pk)
    )
    assert (config.queue, config.virtual_host) == ("jobs", "orders")
    assert config.broker is not None and config.broker.url == "amqp://u:p@mq.internal:5672/"


def test_mappings_are_refused_for_brokers_queues_and_configurations_that_cant_be_read(
    create: Callable[..., EventSourceMapping],
) -> None:
    assert "is not registered for this account" in rejected(
        create, EventSourceArn=arn("theirs"), Queues=["a"]
    )
    assert "is not a NATS subject" in rejected(
        create, EventSourceArn=arn("exact", "b-1"), Queues=["a..b"]
    )
    assert "'#' must be its last level" in rejected(
        create, EventSourceArn=arn("mine"), Queues=["a/#/b"]
    )
    assert rejected(
        create,
        EventSourceArn=arn("rabbit"),
        Queues=["a"],
        SourceAccessConfigurations=[*AUTH, *AUTH],
    ) == ("Duplicate BASIC_AUTH source access configuration.")
    other_account = "arn:aws:mq:us-east-1:444455556666:broker:rabbit:b-1"
    assert "Cross-account" in rejected(create, EventSourceArn=other_account, Queues=["a"])
    assert "StartingPosition is not valid" in rejected(
        create, EventSourceArn=arn("rabbit"), Queues=["a"], StartingPosition="LATEST"
    )


def test_the_virtual_host_cannot_change_on_update(
    create: Callable[..., EventSourceMapping], django_capture_on_commit_callbacks: Any
) -> None:
    mapping = create(EventSourceArn=arn("rabbit"), Queues=["jobs"])
    with pytest.raises(InvalidParameterValue, match="VIRTUAL_HOST cannot be specified"):
        services.mapping_update(
            mapping=mapping,
            params={"SourceAccessConfigurations": [*AUTH, {"Type": "VIRTUAL_HOST", "URI": "x"}]},
        )
    with django_capture_on_commit_callbacks(execute=True):
        updated = services.mapping_update(mapping=mapping, params={"BatchSize": 7})
    assert updated.batch_size == 7


def test_a_broker_taken_out_of_the_registry_is_a_problem_for_the_poller(
    create: Callable[..., EventSourceMapping], settings: Any
) -> None:
    mapping = create(EventSourceArn=arn("rabbit"), Queues=["jobs"])
    settings.FUNCTORY_MQ_BROKERS = "{}"
    stored = EventSourceMapping.objects.select_related("function__account").get(pk=mapping.pk)
    with pytest.raises(ConfigProblem, match=r"PROBLEM: The broker .* is not registered"):
        mapping_config(stored)


def test_the_registry_picks_each_mappings_poller_by_engine() -> None:
    context = PollerContext(
        invoker=Recorder(),
        executor=ThreadPoolExecutor(1),
        report=lambda result: None,
        may_deliver=lambda: True,
    )
    build = engines.poller_factory()
    connects = {
        Engine.RABBITMQ: rabbitmq.connect,
        Engine.NATS: nats_poller.connect,
        Engine.MQTT: mqtt_poller.connect,
    }
    for engine, connect in connects.items():
        poller = build(mapping(engine, "x://h", "q"), context)
        assert isinstance(poller, BrokerPoller)
        assert poller._connect is connect
    unregistered = mapping(Engine.NATS, "nats://h", "q", broker=None)
    with pytest.raises(ConfigProblem, match="No poller for the broker"):
        build(unregistered, context)
