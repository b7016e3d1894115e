"""RabbitMQ, as Lambda's Amazon MQ for RabbitMQ source reads it (the frame is ``mq.py``).

- Consumes ``Queues[0]`` in the mapping's ``VIRTUAL_HOST`` (default ``/``) on the broker the
  registry names, with a prefetch of ``BatchSize``: the broker hands out no more than one
  batch at a time.
- The event is AWS's ``aws:rmq`` shape: ``rmqMessagesByQueue`` keyed ``<queue>::<vhost>``,
  each message's ``basicProperties`` (string headers as ``{"bytes": [...]}``, the timestamp
  as AWS prints it), ``redelivered`` and the body in base64 as ``data``.
- Success acks the batch; a function error nacks it with requeue, so RabbitMQ delivers it
  again (``redelivered: true``), the poller pausing longer after each failure. Poison
  messages: AWS gives a message up after ``MAX_REDELIVERIES`` (6, ActiveMQ's default
  redelivery policy, which Lambda documents for Amazon MQ) and leaves the rest to the
  broker's dead-letter queue. Here, on a quorum queue (which counts deliveries in
  ``x-delivery-count``), a message that fails after 6 redeliveries is rejected without
  requeue: RabbitMQ dead-letters it to the queue's ``x-dead-letter-exchange`` (or drops it
  when there is none); a quorum queue's own ``x-delivery-limit``, if lower, acts first. A
  classic queue keeps no count, so a failing message there comes back until it succeeds or
  expires (its TTL): use a quorum queue for poison messages.
- A dropped connection requeues everything unacked (RabbitMQ's rule), and the poller
  reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import decimal
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiormq
from aiormq.abc import DeliveredMessage

from triggers.pollers.config import MappingConfig
from triggers.pollers.mq import CONNECT_TIMEOUT_S, ConnectionLost, Message

_LOST = object()
# Redeliveries of a failing message before it is given up on (see the module's docstring).
MAX_REDELIVERIES = 6


def aws_timestamp(value: dt.datetime) -> str:
    """A message timestamp as AWS's rmq events print it: ``Jan 1, 1970, 12:33:41 AM`` (UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    hour = value.hour % 12 or 12
    meridiem = "AM" if value.hour < 12 else "PM"
    return f"{value:%b} {value.day}, {value.year}, {hour}:{value:%M:%S} {meridiem}"


def header_value(value: Any) -> Any:
    """A header's value in the event: strings as their bytes (as AWS's Java poller writes
    AMQP long strings), numbers and booleans as they are, tables and arrays recursively."""
    if isinstance(value, str):
        return {"bytes": list(value.encode())}
    if isinstance(value, bytes | bytearray):
        return {"bytes": list(value)}
    if isinstance(value, dict):
        return {str(k): header_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [header_value(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return aws_timestamp(value)
    return value


def record(message: DeliveredMessage) -> dict[str, Any]:
    """One delivered message as an entry of ``rmqMessagesByQueue``."""
    props = message.header.properties
    body = message.body or b""
    timestamp = props.timestamp
    delivery_mode = props.delivery_mode
    return {
        "basicProperties": {
            "contentType": props.content_type,
            "contentEncoding": props.content_encoding,
            "headers": header_value(props.headers) if props.headers is not None else None,
            "deliveryMode": int(delivery_mode) if delivery_mode is not None else None,
            "priority": props.priority,
            "correlationId": props.correlation_id,
            "replyTo": props.reply_to,
            "expiration": props.expiration,
            "messageId": props.message_id,
            "timestamp": aws_timestamp(timestamp) if isinstance(timestamp, dt.datetime) else None,
            "type": props.message_type,
            "userId": props.user_id,
            "appId": props.app_id,
            # Deprecated in AMQP 0-9-1; clients send it empty.
            "clusterId": props.cluster_id or None,
            "bodySize": len(body),
        },
        "redelivered": bool(getattr(message.delivery, "redelivered", False)),
        "data": base64.b64encode(body).decode(),
    }


def broker_url(url: str, virtual_host: str) -> str:
    """The registered URL with the mapping's virtual host as its path (AMQP URI rules)."""
    path = "/" if virtual_host == "/" else "/" + quote(virtual_host, safe="")
    return urlunsplit(urlsplit(url)._replace(path=path))


def delivery_count(message: DeliveredMessage) -> int:
    """Earlier deliveries of the message, as a quorum queue counts them (0 elsewhere)."""
    count = (message.header.properties.headers or {}).get("x-delivery-count")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


class RabbitSession:
    def __init__(self, config: MappingConfig) -> None:
        self._arn = config.event_source_arn
        self._queue = config.queue
        self._key = f"{config.queue}::{config.virtual_host}"
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._connection: Any = None
        self._channel: Any = None
        self._lost: str | None = None
        key = json.dumps(self._key, ensure_ascii=False)
        arn = json.dumps(self._arn, ensure_ascii=False)
        self._open = (
            f'{{"eventSource":"aws:rmq","eventSourceArn":{arn},"rmqMessagesByQueue":{{{key}:['
        ).encode()

    async def open(self, url: str, prefetch: int) -> None:
        self._connection = await aiormq.connect(url, client_properties={"product": "Functory"})
        self._connection.closing.add_done_callback(self._closed)
        self._channel = await self._connection.channel()
        self._channel.closing.add_done_callback(self._closed)
        await self._channel.basic_qos(prefetch_count=min(prefetch, 65535))
        await self._channel.queue_declare(self._queue, passive=True)
        await self._channel.basic_consume(self._queue, self._on_message, no_ack=False)

    def _closed(self, future: asyncio.Future[Any]) -> None:
        if self._lost is None:
            error = future.exception() if not future.cancelled() else None
            self._lost = str(error) if error is not None else "the connection was closed"
            self._inbox.put_nowait(_LOST)

    async def _on_message(self, message: DeliveredMessage) -> None:
        self._inbox.put_nowait(message)

    async def receive(self, count: int, timeout: float) -> list[Message]:
        if self._lost is not None and self._inbox.empty():
            raise ConnectionLost(self._lost)
        try:
            first = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            return []
        items = [first]
        while len(items) < count and not self._inbox.empty():
            items.append(self._inbox.get_nowait())
        if any(item is _LOST for item in items):
            # Unacked messages of a closed channel are back in the queue already.
            raise ConnectionLost(self._lost or "the connection was closed")
        return [
            Message(handle=(item.delivery.delivery_tag, delivery_count(item)), record=record(item))
            for item in items
        ]

    async def _settle(self, messages: Sequence[Message], *, ack: bool) -> int:
        """Ack, or nack with requeue; a failing message out of redeliveries is rejected
        without requeue (dead-lettered). Returns how many were."""
        if self._lost is not None:
            return 0  # RabbitMQ requeued them when the channel closed
        given_up = 0
        try:
            for message in messages:
                tag, earlier = message.handle
                if ack:
                    await self._channel.basic_ack(tag)
                elif earlier >= MAX_REDELIVERIES:
                    await self._channel.basic_reject(tag, requeue=False)
                    given_up += 1
                else:
                    await self._channel.basic_nack(tag, requeue=True)
        except (aiormq.exceptions.AMQPError, ConnectionError) as error:
            raise ConnectionLost(str(error)) from error
        return given_up

    async def ack(self, messages: Sequence[Message]) -> None:
        await self._settle(messages, ack=True)

    async def fail(self, messages: Sequence[Message]) -> int:
        return await self._settle(messages, ack=False)

    async def release(self, messages: Sequence[Message]) -> None:
        # Never invoked: requeued whatever their count (the function did not fail on them).
        if self._lost is not None:
            return
        try:
            for message in messages:
                await self._channel.basic_nack(message.handle[0], requeue=True)
        except (aiormq.exceptions.AMQPError, ConnectionError) as error:
            raise ConnectionLost(str(error)) from error

    def event(self, messages: Sequence[Message]) -> bytes:
        return self._open + b",".join(m.encoded for m in messages) + b"]}}"

    async def close(self) -> None:
        self._lost = self._lost or "closed"
        if self._connection is not None:
            await asyncio.wait_for(self._connection.close(), CONNECT_TIMEOUT_S)


async def connect(config: MappingConfig) -> RabbitSession:
    assert config.broker is not None  # mapping_config resolved it
    session = RabbitSession(config)
    try:
        await session.open(broker_url(config.broker.url, config.virtual_host), config.batch_size)
    except BaseException as error:
        await asyncio.shield(_quietly_close(session))
        if isinstance(error, Exception):
            raise ConnectionLost(_reason(error)) from error
        raise
    return session


def _reason(error: Exception) -> str:
    """What a failed connect says, without the registry's URL (it may hold credentials)."""
    if isinstance(error, aiormq.exceptions.ChannelNotFoundEntity):
        return f"{error.args[0] if error.args else error}"
    if isinstance(error, aiormq.exceptions.ProbableAuthenticationError):
        return "the broker refused the registered credentials"
    if isinstance(error, aiormq.exceptions.AMQPError):
        return type(error).__name__ + (f": {error.args[0]}" if error.args else "")
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__


async def _quietly_close(session: RabbitSession) -> None:
    # The open's own error is the one reported.
    with contextlib.suppress(Exception):
        await session.close()
