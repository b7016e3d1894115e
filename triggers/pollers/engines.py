"""The Amazon MQ source's pollers: which engine reads a mapping is the broker registry's
(``triggers/brokers.py``), not the ARN's."""

from __future__ import annotations

from triggers.brokers import Engine
from triggers.pollers import mqtt_poller, nats_poller, rabbitmq
from triggers.pollers.base import Poller, PollerContext, PollerFactory
from triggers.pollers.config import ConfigProblem, MappingConfig

_FACTORIES: dict[Engine, PollerFactory] = {
    Engine.RABBITMQ: rabbitmq.poller_factory(),
    Engine.NATS: nats_poller.poller_factory(),
    Engine.MQTT: mqtt_poller.poller_factory(),
}


def poller_factory() -> PollerFactory:
    def build(config: MappingConfig, context: PollerContext) -> Poller:
        broker = config.broker
        if broker is None or broker.engine not in _FACTORIES:
            raise ConfigProblem(f"PROBLEM: No poller for the broker {config.event_source_arn}.")
        return _FACTORIES[broker.engine](config, context)

    return build
