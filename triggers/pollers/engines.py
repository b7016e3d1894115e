"""The Amazon MQ source's pollers: which engine reads a mapping is the broker registry's
(``triggers/brokers.py``), not the ARN's."""

from __future__ import annotations

from triggers.brokers import Engine
from triggers.pollers import mqtt_poller, nats_poller, rabbitmq
from triggers.pollers.base import Poller, PollerContext, PollerFactory
from triggers.pollers.config import ConfigProblem, MappingConfig
from triggers.pollers.mq import BrokerPoller, Connector

# How each engine's session is opened; the poller around it is the same for all.
_CONNECTORS: dict[Engine, Connector] = {
    Engine.RABBITMQ: rabbitmq.connect,
    Engine.NATS: nats_poller.connect,
    Engine.MQTT: mqtt_poller.connect,
}


def poller_factory() -> PollerFactory:
    def build(config: MappingConfig, context: PollerContext) -> Poller:
        broker = config.broker
        if broker is None or broker.engine not in _CONNECTORS:
            raise ConfigProblem(f"PROBLEM: No poller for the broker {config.event_source_arn}.")
        return BrokerPoller(
            config,
            invoker=context.invoker,
            report=context.report,
            may_deliver=context.may_deliver,
            connect=_CONNECTORS[broker.engine],
            name=broker.engine.value,
        )

    return build
