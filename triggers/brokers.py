"""The operator's registry of self-hosted brokers that Amazon MQ event source mappings read.

AWS's shape for an Amazon MQ mapping is ``EventSourceArn`` =
``arn:aws:mq:<region>:<account>:broker:<name>:<id>``, ``Queues`` (one name) and
``SourceAccessConfigurations`` (``BASIC_AUTH``: a Secrets Manager secret; ``VIRTUAL_HOST``
for RabbitMQ). Here there is no Amazon MQ and no Secrets Manager: the operator lists the
brokers in ``FUNCTORY_MQ_BROKERS`` (JSON), by broker name or full ARN::

    {"orders": {"engine": "rabbitmq", "url": "amqp://user:pass@mq.internal:5672/",
                "accounts": ["123456789012"]},
     "telemetry": {"engine": "mqtt", "url": "mqtt://sensors.internal:1883"},
     "events": {"engine": "nats", "url": "nats://nats.internal:4222", "jetstream": true,
                "max_deliver": 5}}

A mapping's ARN only *selects* an entry (its name, or the whole ARN when that is the key);
the connection goes to the entry's URL with the entry's credentials. The ``BASIC_AUTH``
secret ARN a mapping must still give (as on AWS) is stored and not read. So a tenant can't
point a mapping at an arbitrary host, nor at a broker registered for other accounts
(``accounts``, default: every account). Create and Update refuse a mapping whose broker is
not registered for the caller (InvalidParameterValueException); a broker removed from the
registry later shows as a ``PROBLEM`` LastProcessingResult and nothing is polled.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

from triggers.sources import parse_arn

logger = logging.getLogger(__name__)


class Engine(enum.Enum):
    RABBITMQ = "rabbitmq"
    NATS = "nats"
    MQTT = "mqtt"


_SCHEMES = {
    Engine.RABBITMQ: ("amqp", "amqps"),
    Engine.NATS: ("nats", "tls"),
    Engine.MQTT: ("mqtt", "mqtts"),
}


@dataclass(frozen=True)
class Broker:
    key: str
    engine: Engine
    url: str
    # None: every account may use it.
    accounts: frozenset[str] | None
    # NATS: consume through a JetStream durable consumer (else core subjects), and the
    # deliveries that consumer makes of a message before giving up on it (-1: no limit).
    jetstream: bool = False
    max_deliver: int = -1

    def allows(self, account_id: str) -> bool:
        return self.accounts is None or account_id in self.accounts


class RegistryError(ValueError):
    """``FUNCTORY_MQ_BROKERS`` is malformed (the entry is named)."""


def parse_registry(raw: str) -> dict[str, Broker]:
    """The registry in ``raw`` (JSON); RegistryError names what is wrong."""
    try:
        entries = json.loads(raw or "{}")
    except ValueError as exc:
        raise RegistryError(f"FUNCTORY_MQ_BROKERS is not JSON: {exc}") from None
    if not isinstance(entries, dict):
        raise RegistryError("FUNCTORY_MQ_BROKERS must be a JSON object")
    registry: dict[str, Broker] = {}
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            raise RegistryError(f"FUNCTORY_MQ_BROKERS[{key!r}] must be an object")
        try:
            engine = Engine(entry.get("engine"))
        except ValueError:
            raise RegistryError(
                f"FUNCTORY_MQ_BROKERS[{key!r}].engine must be rabbitmq, nats or mqtt"
            ) from None
        url = entry.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in _SCHEMES[engine]:
            schemes = " or ".join(f"{scheme}://" for scheme in _SCHEMES[engine])
            raise RegistryError(f"FUNCTORY_MQ_BROKERS[{key!r}].url must be a {schemes} URL")
        accounts = entry.get("accounts")
        if accounts is not None and (
            not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts)
        ):
            raise RegistryError(f"FUNCTORY_MQ_BROKERS[{key!r}].accounts must be a list of ids")
        max_deliver = entry.get("max_deliver", -1)
        if not isinstance(max_deliver, int) or max_deliver == 0 or max_deliver < -1:
            raise RegistryError(f"FUNCTORY_MQ_BROKERS[{key!r}].max_deliver must be -1 or > 0")
        registry[key] = Broker(
            key=key,
            engine=engine,
            url=url,
            accounts=frozenset(accounts) if accounts is not None else None,
            jetstream=bool(entry.get("jetstream", False)),
            max_deliver=max_deliver,
        )
    return registry


@lru_cache(maxsize=4)
def _cached(raw: str) -> dict[str, Broker]:
    return parse_registry(raw)


def registry() -> dict[str, Broker]:
    """The registered brokers (a malformed setting counts as none, and is logged)."""
    try:
        return _cached(settings.FUNCTORY_MQ_BROKERS)
    except RegistryError as exc:
        logger.error("%s", exc)
        return {}


def broker_name(arn: str) -> str:
    """The broker's name in ``arn:aws:mq:<region>:<account>:broker:<name>:<id>``."""
    parsed = parse_arn(arn)
    if parsed is None or not parsed.resource.startswith("broker:"):
        return ""
    return parsed.resource.split(":")[1]


def broker_for(arn: str, account_id: str) -> Broker | None:
    """The registered broker a mapping's ARN names, if ``account_id`` may use it."""
    brokers = registry()
    broker = brokers.get(arn) or brokers.get(broker_name(arn))
    if broker is None or not broker.allows(account_id):
        return None
    return broker


def queue_problem(engine: Engine, name: str) -> str | None:
    """Why ``name`` can't be what a mapping reads on ``engine`` (None when it can): a
    RabbitMQ queue, a NATS subject, an MQTT topic filter."""
    if engine is Engine.RABBITMQ:
        if len(name.encode()) > 255:
            return "A RabbitMQ queue name is at most 255 bytes."
        return None
    if engine is Engine.NATS:
        tokens = name.split(".")
        if any(ch.isspace() for ch in name) or not all(tokens):
            return f"{name} is not a NATS subject."
        for index, token in enumerate(tokens):
            if token == ">" and index != len(tokens) - 1:
                return f"{name} is not a NATS subject: '>' must be its last token."
            if token not in ("*", ">") and ("*" in token or ">" in token):
                return f"{name} is not a NATS subject: wildcards are whole tokens."
        return None
    levels = name.split("/")
    if "\0" in name or name.startswith("$"):
        return f"{name} is not a topic filter a mapping may subscribe to."
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return f"{name} is not an MQTT topic filter: '#' must be its last level."
        if "+" in level and level != "+":
            return f"{name} is not an MQTT topic filter: '+' must be a whole level."
    return None
