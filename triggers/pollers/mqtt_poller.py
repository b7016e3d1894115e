"""MQTT topics as an Amazon MQ source (the frame is ``mq.py``).

``Queues[0]`` is a topic filter (``+``/``#`` wildcards allowed), subscribed at QoS 1 in a
persistent MQTT 5 session of the mapping's own (client id ``functory-<UUID>``, no clean
start, kept by the broker ``SESSION_EXPIRY_S`` after the poller leaves): messages published
while the poller is away wait for it. The event is the ``aws:mq`` shape of Amazon MQ for
ActiveMQ (``mq.mq_record``): ``destination.physicalName`` is the topic, ``properties`` the
MQTT 5 user properties, ``redelivered`` the DUP flag.

Acknowledgements are manual (paho-mqtt 2's ``manual_ack``): a message's PUBACK goes only
after the function succeeded. MQTT has no negative acknowledgement; a broker resends what
was not acknowledged when the session resumes, so a failed (or handed back) batch makes the
poller reconnect, and the broker delivers the batch again with DUP set. The broker bounds
how many unacknowledged messages it sends at once (mosquitto: ``max_inflight_messages``,
20 by default), which caps a batch's size on such a broker.

paho's network loop runs in a thread of its own per connection; messages cross to the
poller's event loop through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from triggers.pollers.config import MappingConfig
from triggers.pollers.mq import (
    CONNECT_TIMEOUT_S,
    ConnectionLost,
    Message,
    MqEvent,
    mq_record,
)

SESSION_EXPIRY_S = 7 * 24 * 3600
KEEPALIVE_S = 30
_LOST = object()


def client_id(config: MappingConfig) -> str:
    return f"functory-{config.uuid}"


def _user_properties(message: mqtt.MQTTMessage) -> dict[str, str]:
    properties = getattr(message, "properties", None)
    pairs = getattr(properties, "UserProperty", None) or []
    return {str(name): str(value) for name, value in pairs}


class _Link:
    """One MQTT connection: paho's client and its network thread."""

    def __init__(self, session: MqttSession, generation: int) -> None:
        self.session = session
        self.generation = generation
        self.connected = threading.Event()
        self.refused: str | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=session.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=False,
        )
        url = urlsplit(session.url)
        if url.username:
            client.username_pw_set(unquote(url.username), unquote(url.password or ""))
        if url.scheme == "mqtts":
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self.client = client
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (8883 if url.scheme == "mqtts" else 1883)

    def open(self) -> None:
        """Connect and subscribe (blocking: run in a thread)."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect(
            self.host, self.port, KEEPALIVE_S, clean_start=False, properties=properties
        )
        self.client.loop_start()
        if not self.connected.wait(CONNECT_TIMEOUT_S):
            self.close()
            raise ConnectionLost(self.refused or "the broker did not answer")

    def close(self) -> None:
        self.generation = -1  # what follows is not a loss
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused = f"the broker refused the connection: {reason}"
            self.connected.set()  # wakes open(), which then sees the refusal
            return
        client.subscribe(self.session.topic, qos=1)
        self.connected.set()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.session.arrived(self.generation, message)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.session.disconnected(self.generation, str(reason))


class MqttSession:
    def __init__(self, config: MappingConfig) -> None:
        assert config.broker is not None  # mapping_config resolved it
        self.url = config.broker.url
        self.topic = config.queue
        self.client_id = client_id(config)
        self._event = MqEvent(config.event_source_arn)
        self._loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._generation = 0
        self._link: _Link | None = None
        self.lost: str | None = None

    # -- from paho's thread -------------------------------------------------------------

    def arrived(self, generation: int, message: mqtt.MQTTMessage) -> None:
        self._loop.call_soon_threadsafe(self._put, generation, message)

    def disconnected(self, generation: int, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._put, generation, (_LOST, reason))

    def _put(self, generation: int, item: Any) -> None:
        if generation == self._generation:  # else a connection given up on purpose
            self._inbox.put_nowait(item)

    # -- on the poller's loop -----------------------------------------------------------

    async def open(self) -> None:
        self._generation += 1
        self._inbox = asyncio.Queue()
        link = _Link(self, self._generation)
        await asyncio.to_thread(link.open)
        if link.refused is not None:
            await asyncio.to_thread(link.close)
            raise ConnectionLost(link.refused)
        self._link = link

    async def receive(self, count: int, timeout: float) -> list[Message]:
        if self.lost is not None:
            raise ConnectionLost(self.lost)
        try:
            first = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            return []
        items = [first]
        while len(items) < count and not self._inbox.empty():
            items.append(self._inbox.get_nowait())
        for item in items:
            if isinstance(item, tuple) and item[0] is _LOST:
                self.lost = f"the connection was closed: {item[1]}"
                raise ConnectionLost(self.lost)
        now = int(time.time() * 1000)
        return [
            Message(
                handle=(message.mid, message.qos),
                record=mq_record(
                    message_id=f"ID:{uuid.uuid4()}",
                    destination=message.topic,
                    data=message.payload,
                    redelivered=bool(message.dup),
                    persistent=message.qos > 0,
                    timestamp_ms=now,
                    properties=_user_properties(message),
                ),
            )
            for message in items
        ]

    async def ack(self, messages: Sequence[Message]) -> None:
        link = self._link
        if link is None:
            return
        for message in messages:
            mid, qos = message.handle
            if qos > 0:
                link.client.ack(mid, qos)

    async def _redeliver(self) -> None:
        """MQTT has no nack: resume the session, and the broker resends what is unacked."""
        link, self._link = self._link, None
        if link is not None:
            await asyncio.to_thread(link.close)
        try:
            await self.open()
        except ConnectionLost as error:
            self.lost = str(error)
            raise

    async def fail(self, messages: Sequence[Message]) -> int:
        await self._redeliver()
        return 0

    async def release(self, messages: Sequence[Message]) -> None:
        await self._redeliver()

    def event(self, messages: Sequence[Message]) -> bytes:
        return self._event(messages)

    async def close(self) -> None:
        self._generation += 1
        link, self._link = self._link, None
        if link is not None:
            await asyncio.wait_for(asyncio.to_thread(link.close), CONNECT_TIMEOUT_S)


async def connect(config: MappingConfig) -> MqttSession:
    session = MqttSession(config)
    try:
        await session.open()
    except ConnectionLost:
        raise
    except Exception as error:  # OSError (refused, unreachable), paho's errors
        raise ConnectionLost(_reason(error)) from error
    return session


def _reason(error: Exception) -> str:
    """What a failed connect says, without the registry's URL (it may hold credentials)."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__
