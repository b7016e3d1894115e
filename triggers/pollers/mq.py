"""The frame every self-hosted broker's poller shares (Amazon MQ mappings: RabbitMQ, NATS,
MQTT; which one is the registry's, ``triggers/brokers.py``).

One connection per mapping, one batch in flight at a time (a queue is read in order):

- Connect to the registered broker; a broker that can't be reached or drops the connection
  is retried with a back-off doubling up to ``MAX_BACKOFF_S``, and its error is the
  mapping's ``LastProcessingResult`` until the connection is back.
- Gather a batch: up to ``BatchSize`` messages, waiting for more up to
  ``MaximumBatchingWindowInSeconds`` after the first (0.5 s when it is 0: Amazon MQ's
  default window).
- Invoke the function with the engine's event (never more than the 6 MB an invocation takes:
  a larger batch is invoked in parts). Messages FilterCriteria drops are acknowledged unseen.
- Acknowledge only after the function succeeded. A failure hands the batch back to the
  broker (each engine's way: ``session.py`` of each) and waits a growing pause before the
  next batch, so a poison message does not spin; the broker's own redelivery limit (a
  RabbitMQ quorum queue's ``x-delivery-limit`` with a dead-letter exchange, a JetStream
  consumer's ``MaxDeliver``) is what moves it aside, as on Amazon MQ.
- ``may_deliver`` is asked right before every invocation; stopping hands back what is in
  hand, and nothing is invoked after ``stop()``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from invocations.services import MAX_PAYLOAD_BYTES
from triggers.pollers import metrics
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import InvokeProblem, Invoker, Throttled

logger = logging.getLogger(__name__)

OK = "OK"
NO_RECORDS = "No records processed"
FUNCTION_FAILED = "PROBLEM: Function call failed"
# Amazon MQ's batching window when MaximumBatchingWindowInSeconds is 0.
DEFAULT_WINDOW_S = 0.5
# How long one wait for messages lasts before the poller looks at ``stop()`` again.
RECEIVE_WAIT_S = 0.5
CONNECT_TIMEOUT_S = 10.0
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# A failing function's batches are retried after a pause doubling up to this.
MAX_RETRY_PAUSE_S = 10.0
REFUSED_PAUSE_S = 0.25


class ConnectionLost(Exception):
    """The broker closed the connection or could not be reached (the text says why)."""


@dataclass
class Message:
    """A message received: the engine's handle to it and its record in the event."""

    handle: Any
    record: dict[str, Any]
    encoded: bytes = b""

    def __post_init__(self) -> None:
        if not self.encoded:
            self.encoded = json.dumps(self.record, ensure_ascii=False).encode()


class Session(Protocol):
    """One open connection to the broker, consuming the mapping's queue."""

    async def receive(self, count: int, timeout: float) -> list[Message]:
        """Up to ``count`` messages, waiting up to ``timeout`` for the first; ``[]`` when
        none came. Raises ConnectionLost."""
        ...

    async def ack(self, messages: Sequence[Message]) -> None:
        """The messages are done with (processed, or dropped by filters)."""
        ...

    async def fail(self, messages: Sequence[Message]) -> int:
        """The function failed on them: the broker is to deliver them again. Returns how
        many are given up on instead (dead-lettered or dropped)."""
        ...

    async def release(self, messages: Sequence[Message]) -> None:
        """Never invoked (stopping, refused): back to the broker as they were."""
        ...

    def event(self, messages: Sequence[Message]) -> bytes:
        """The function's event for a batch."""
        ...

    async def close(self) -> None: ...


Connector = Callable[[MappingConfig], Awaitable[Session]]


def split_by_size(
    messages: list[Message], overhead: int, limit: int = MAX_PAYLOAD_BYTES
) -> list[list[Message]]:
    """Consecutive parts whose events each fit ``limit`` bytes (a message too large on its
    own is a part of its own, which the invocation refuses)."""
    parts: list[list[Message]] = []
    current: list[Message] = []
    size = overhead
    for message in messages:
        extra = len(message.encoded) + 1
        if current and size + extra > limit:
            parts.append(current)
            current, size = [], overhead
        current.append(message)
        size += extra
    if current:
        parts.append(current)
    return parts


def describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"PROBLEM: Lambda could not reach the broker: {text}"[:1024]


class BrokerPoller:
    """Polls one Amazon MQ mapping's queue on a registered broker (see the module)."""

    def __init__(
        self,
        config: MappingConfig,
        *,
        invoker: Invoker,
        report: Callable[[str], None],
        may_deliver: Callable[[], bool],
        connect: Connector,
        name: str,
    ) -> None:
        self.config = config
        self._invoker = invoker
        self._report = report
        self._may_deliver = may_deliver
        self._connect = connect
        self._name = name
        self._stopped = asyncio.Event()
        self._reconnect = False
        self._connecting = False
        self._task: asyncio.Task[None] | None = None
        self._session: Session | None = None
        self._backoff = 0.0
        self._retry_pause = 0.0
        self._broker_problem = False
        self._last_result = NO_RECORDS
        self.batches = 0
        self.connections = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"{self._name}-poller-{self.config.uuid}"
        )

    def update(self, config: MappingConfig) -> None:
        old = self.config
        self.config = config
        if (old.broker, old.queue, old.virtual_host, old.batch_size) != (
            config.broker,
            config.queue,
            config.virtual_host,
            config.batch_size,
        ):
            self._reconnect = True  # the next batch comes from a new session

    async def stop(self, grace: float | None = None) -> None:
        self._stopped.set()
        task = self._task
        if task is None:
            return
        if self._connecting:
            task.cancel()  # nothing is in hand yet; an unreachable host would hold the stop
        _, pending = await asyncio.wait({task}, timeout=grace)
        if pending:
            task.cancel()
            await asyncio.wait(pending)
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopped.is_set():
            self._connecting = True
            try:
                session = await asyncio.wait_for(self._connect(self.config), CONNECT_TIMEOUT_S)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await self._back_off(describe(error))
                continue
            finally:
                self._connecting = False
            self._session = session
            self.connections += 1
            self._reconnect = False
            try:
                await self._consume(session)
            except ConnectionLost as error:
                await self._back_off(describe(error))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.exception("%s poller of mapping %s failed", self._name, self.config.uuid)
                await self._back_off(describe(error))
            finally:
                self._session = None
                with contextlib.suppress(Exception):
                    await session.close()

    async def _back_off(self, problem: str) -> None:
        self._broker_problem = True
        self._report(problem)
        self._backoff = min(max(self._backoff * 2, FIRST_BACKOFF_S), MAX_BACKOFF_S)
        await self._pause(self._backoff)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    def _result(self, result: str) -> None:
        self._last_result = result
        self._report(result)

    async def _consume(self, session: Session) -> None:
        while not self._stopped.is_set() and not self._reconnect:
            messages = await self._collect(session)
            if self._backoff or self._broker_problem:
                # Connected and reading again: the result shown is the last invocation's.
                self._backoff = 0.0
                self._broker_problem = False
                self._report(self._last_result)
            if not messages:
                continue
            if self._stopped.is_set() or self._reconnect:
                await session.release(messages)
                return
            metrics.events(self.config, polled=len(messages))
            await self._deliver(session, messages)

    async def _collect(self, session: Session) -> list[Message]:
        config = self.config
        messages = await session.receive(config.batch_size, RECEIVE_WAIT_S)
        if not messages:
            return []
        window = config.batching_window_s or DEFAULT_WINDOW_S
        deadline = time.monotonic() + window
        size = sum(len(m.encoded) for m in messages)
        # A batch stops growing at what one invocation takes; the rest waits its turn.
        while (
            len(messages) < config.batch_size
            and size < MAX_PAYLOAD_BYTES
            and not self._stopped.is_set()
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # A ConnectionLost here takes what is in hand back with the connection.
            more = await session.receive(
                config.batch_size - len(messages), min(remaining, RECEIVE_WAIT_S)
            )
            messages.extend(more)
            size += sum(len(m.encoded) for m in more)
        return messages

    # -- delivery -------------------------------------------------------------------------

    async def _deliver(self, session: Session, messages: list[Message]) -> None:
        config = self.config
        passing = [m for m in messages if config.passes(m.record)]
        if len(passing) < len(messages):
            kept = {id(m) for m in passing}
            dropped = [m for m in messages if id(m) not in kept]
            await session.ack(dropped)
            metrics.events(config, filtered_out=len(dropped))
        overhead = len(session.event([]))
        parts = split_by_size(passing, overhead)
        for index, part in enumerate(parts):
            if not await self._deliver_part(session, part):
                # The rest go back unprocessed: the queue is read in order.
                later = [m for rest in parts[index + 1 :] for m in rest]
                if later:
                    await session.release(later)
                return

    async def _deliver_part(self, session: Session, messages: list[Message]) -> bool:
        """Invoke, then ack (success) or hand back (failure); False when it failed."""
        config = self.config
        payload = session.event(messages)
        delay = 0.05
        while True:
            if self._stopped.is_set() or not self._may_deliver():
                await session.release(messages)
                if not self._stopped.is_set():
                    await self._pause(REFUSED_PAUSE_S)
                return False
            try:
                outcome = await self._invoker(config, payload)
                break
            except Throttled:
                await self._pause(delay)
                delay = min(delay * 2, 2.0)
            except InvokeProblem as problem:
                await session.release(messages)
                self._last_result = str(problem)
                await self._back_off(str(problem))
                return False
        self.batches += 1
        metrics.events(config, invoked=len(messages))
        if outcome.function_error is not None:
            metrics.events(config, failed_invoke=len(messages))
            self._result(FUNCTION_FAILED)
            given_up = await session.fail(messages)
            if given_up:
                metrics.events(config, dropped=given_up)
            self._retry_pause = min(max(self._retry_pause * 2, FIRST_BACKOFF_S), MAX_RETRY_PAUSE_S)
            await self._pause(self._retry_pause)
            return False
        self._retry_pause = 0.0
        await session.ack(messages)
        self._result(OK)
        return True


# -- the aws:mq (ActiveMQ) shape, which NATS and MQTT messages are delivered in ------------


def mq_record(
    *,
    message_id: str,
    destination: str,
    data: bytes,
    redelivered: bool,
    persistent: bool,
    timestamp_ms: int,
    reply_to: str | None = None,
    properties: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One message in the shape of AWS's Amazon MQ for ActiveMQ events (``aws:mq``):
    ``destination.physicalName`` is the subject or topic, ``data`` the payload in base64,
    ``properties`` the NATS headers or MQTT 5 user properties."""
    now = int(time.time() * 1000)
    return {
        "messageID": message_id,
        "messageType": "jms/bytes-message",
        "deliveryMode": 2 if persistent else 1,
        "replyTo": reply_to,
        "type": None,
        "expiration": 0,
        "priority": 0,
        "correlationId": None,
        "redelivered": redelivered,
        "destination": {"physicalName": destination},
        "data": base64.b64encode(data).decode(),
        "timestamp": timestamp_ms,
        "brokerInTime": timestamp_ms,
        "brokerOutTime": now,
        "properties": dict(properties or {}),
    }


class MqEvent:
    """Builds ``{"eventSource": "aws:mq", "eventSourceArn": ..., "messages": [...]}``."""

    def __init__(self, source_arn: str) -> None:
        arn = json.dumps(source_arn, ensure_ascii=False)
        self._open = f'{{"eventSource":"aws:mq","eventSourceArn":{arn},"messages":['.encode()

    def __call__(self, messages: Sequence[Message]) -> bytes:
        return self._open + b",".join(m.encoded for m in messages) + b"]}"
