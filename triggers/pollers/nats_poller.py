"""NATS subjects as an Amazon MQ source (the frame is ``mq.py``; the broker registry says
core NATS or JetStream).

``Queues[0]`` is a subject (wildcards allowed). The event is the ``aws:mq`` shape of Amazon
MQ for ActiveMQ (``mq.mq_record``): ``destination.physicalName`` is the message's subject,
``properties`` its headers, ``replyTo`` its reply subject (core NATS).

- Core NATS is at most once, as NATS is: a subscription sees what is published while it is
  connected; a batch the function fails on is not delivered again (counted as dropped).
- JetStream: a durable pull consumer per mapping (``functory-<UUID>``, on the stream that
  holds the subject, created at the first poll with explicit acks, delivering the stream's
  retained messages first). Success acks, a failure naks (JetStream delivers again with
  ``redelivered: true``), a message is delivered at most the registry's ``max_deliver``
  times. Messages in hand are marked in progress every ``ACK_WAIT_S / 3``, so a long
  invocation is not redelivered meanwhile, while a poller that died has its messages
  delivered again within ``ACK_WAIT_S``. A consumer idle for ``INACTIVE_S`` is removed by
  the server (a deleted mapping leaves nothing behind for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from triggers.pollers.config import MappingConfig
from triggers.pollers.mq import (
    CONNECT_TIMEOUT_S,
    ConnectionLost,
    Message,
    MqEvent,
    mq_record,
)

# How long JetStream waits for an acknowledgement before delivering a message again; while
# the function runs, the poller tells it the messages are in progress every third of that.
ACK_WAIT_S = 30.0
INACTIVE_S = 7 * 24 * 3600.0
# Core NATS: messages held for the poller before the client drops them (slow consumer).
CORE_PENDING = 10_000
# Stream sequences remembered per session to mark redeliveries (see JetStreamSession).
SEEN_LIMIT = 10_000
_LOST = object()


def durable_name(config: MappingConfig) -> str:
    return f"functory-{config.uuid}"


def _headers(msg: Msg) -> dict[str, str]:
    return {str(k): str(v) for k, v in (msg.headers or {}).items()}


class _Connection:
    """A NATS connection that reports its loss into an inbox (no client reconnects: the
    poller reconnects, reporting the outage)."""

    def __init__(self, config: MappingConfig) -> None:
        self._event = MqEvent(config.event_source_arn)
        self.subject = config.queue
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.lost: str | None = None
        self._told = False
        self.client: Client | None = None

    async def open(self, url: str) -> Client:
        self.client = await nats.connect(
            servers=[url],
            allow_reconnect=False,
            connect_timeout=int(CONNECT_TIMEOUT_S),
            max_reconnect_attempts=0,
            error_cb=self._error,
            disconnected_cb=self._gone,
            closed_cb=self._gone,
            name="functory-poller",
        )
        return self.client

    async def _error(self, error: Exception) -> None:
        self.lost = self.lost or (str(error) or type(error).__name__)

    async def _gone(self) -> None:
        if not self._told:
            self._told = True
            self.lost = self.lost or "the connection was closed"
            self.inbox.put_nowait(_LOST)

    def check(self) -> None:
        if self.lost is not None and (self.client is None or not self.client.is_connected):
            raise ConnectionLost(self.lost)

    async def close(self) -> None:
        self.lost = self.lost or "closed"
        if self.client is not None and not self.client.is_closed:
            await asyncio.wait_for(self.client.close(), CONNECT_TIMEOUT_S)

    def event(self, messages: Sequence[Message]) -> bytes:
        return self._event(messages)


class CoreSession(_Connection):
    async def start(self, url: str) -> None:
        client = await self.open(url)
        await client.subscribe(self.subject, cb=self._on_message, pending_msgs_limit=CORE_PENDING)

    async def _on_message(self, msg: Msg) -> None:
        self.inbox.put_nowait(msg)

    async def receive(self, count: int, timeout: float) -> list[Message]:
        self.check()
        try:
            first = await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            return []
        items = [first]
        while len(items) < count and not self.inbox.empty():
            items.append(self.inbox.get_nowait())
        if any(item is _LOST for item in items):
            raise ConnectionLost(self.lost or "the connection was closed")
        now = int(time.time() * 1000)
        return [
            Message(
                handle=None,
                record=mq_record(
                    message_id=f"ID:{uuid.uuid4()}",
                    destination=msg.subject,
                    data=msg.data,
                    redelivered=False,
                    persistent=False,
                    timestamp_ms=now,
                    reply_to=msg.reply or None,
                    properties=_headers(msg),
                ),
            )
            for msg in items
        ]

    # At most once: there is nothing to acknowledge or hand back.
    async def ack(self, messages: Sequence[Message]) -> None:
        return None

    async def fail(self, messages: Sequence[Message]) -> int:
        return len(messages)  # at most once: they are gone

    async def release(self, messages: Sequence[Message]) -> None:
        return None


class JetStreamSession(_Connection):
    def __init__(self, config: MappingConfig) -> None:
        super().__init__(config)
        self._durable = durable_name(config)
        self._max_deliver = config.broker.max_deliver if config.broker else -1
        self._sub: Any = None
        # Messages received and not yet settled, kept in progress by the ticker.
        self._held: dict[int, Msg] = {}
        self._ticker: asyncio.Task[None] | None = None
        # Stream sequences this session was handed before: the server's delivery count can
        # lag right after a nak (a redelivery reported as the first), so what this session
        # saw itself counts too.
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def start(self, url: str) -> None:
        client = await self.open(url)
        js = client.jetstream(timeout=CONNECT_TIMEOUT_S)
        consumer = ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ACK_WAIT_S,
            max_deliver=self._max_deliver,
            inactive_threshold=INACTIVE_S,
            filter_subject=self.subject,
        )
        self._sub = await js.pull_subscribe(self.subject, durable=self._durable, config=consumer)
        self._ticker = asyncio.get_running_loop().create_task(self._keep_in_progress())

    async def _keep_in_progress(self) -> None:
        while True:
            await asyncio.sleep(ACK_WAIT_S / 3)
            for msg in list(self._held.values()):
                with contextlib.suppress(Exception):  # a lost connection shows elsewhere
                    await msg.in_progress()

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        await super().close()

    async def receive(self, count: int, timeout: float) -> list[Message]:
        self.check()
        try:
            msgs = await self._sub.fetch(batch=count, timeout=timeout)
        except (NatsTimeout, TimeoutError):
            self.check()
            return []
        except Exception as error:
            raise ConnectionLost(str(error) or type(error).__name__) from error
        messages = []
        for msg in msgs:
            self._held[id(msg)] = msg
            meta = msg.metadata
            stamp = meta.timestamp
            messages.append(
                Message(
                    handle=msg,
                    record=mq_record(
                        message_id=f"ID:{meta.stream}:{meta.sequence.stream}",
                        destination=msg.subject,
                        data=msg.data,
                        redelivered=self._redelivered(meta.sequence.stream, meta.num_delivered),
                        persistent=True,
                        timestamp_ms=int(stamp.timestamp() * 1000) if stamp else 0,
                        properties=_headers(msg),
                    ),
                )
            )
        return messages

    def _redelivered(self, sequence: int, delivered: int) -> bool:
        seen = sequence in self._seen
        self._seen[sequence] = None
        self._seen.move_to_end(sequence)
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        return delivered > 1 or seen

    async def _each(self, messages: Sequence[Message], ack: bool) -> None:
        for message in messages:
            self._held.pop(id(message.handle), None)
        try:
            for message in messages:
                await (message.handle.ack() if ack else message.handle.nak())
        except Exception as error:  # the connection went: JetStream redelivers after ack wait
            raise ConnectionLost(str(error) or type(error).__name__) from error

    async def ack(self, messages: Sequence[Message]) -> None:
        await self._each(messages, ack=True)

    async def fail(self, messages: Sequence[Message]) -> int:
        await self._each(messages, ack=False)
        return 0

    async def release(self, messages: Sequence[Message]) -> None:
        await self._each(messages, ack=False)


async def connect(config: MappingConfig) -> CoreSession | JetStreamSession:
    broker = config.broker
    assert broker is not None  # mapping_config resolved it
    session = JetStreamSession(config) if broker.jetstream else CoreSession(config)
    try:
        await session.start(broker.url)
    except Exception as error:
        await session.close()
        raise ConnectionLost(_reason(error)) from error
    return session


def _reason(error: Exception) -> str:
    """What a failed connect says, without the registry's URL (it may hold credentials)."""
    if isinstance(error, nats.errors.NoServersError):
        return "no NATS server answered"
    return type(error).__name__ + (f": {error}" if str(error) else "")
