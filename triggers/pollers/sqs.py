"""The SQS poller: reads a queue through boto3 and invokes the mapping's function, as
Lambda's SQS event source does.

- Long polling (``WaitTimeSeconds=20``) through the endpoint and credentials of the
  settings (``FUNCTORY_SQS_ENDPOINT_URL`` or ``FUNCTORY_AWS_ENDPOINT_URL``, as destinations
  use), so a message reaches the function as soon as it is sent.
- Batches of up to ``BatchSize`` messages, gathered for up to
  ``MaximumBatchingWindowInSeconds`` (never more than the 6 MB an invocation takes: a larger
  batch is split and its parts invoked in turn).
- The event is AWS's (``Records`` of ``messageId``, ``receiptHandle``, ``body``,
  ``attributes``, ``messageAttributes`` in Lambda's spelling, ``md5OfBody``, ``eventSource``,
  ``eventSourceARN``, ``awsRegion``).
- Only what succeeded is deleted: the whole batch when the function succeeds, nothing when it
  fails (the queue's visibility timeout brings the messages back and its redrive policy moves
  a poison message to the dead-letter queue after ``maxReceiveCount`` receives), and with
  ``ReportBatchItemFailures`` everything but the reported messages.
- Records that FilterCriteria drops are deleted unseen, as AWS deletes them.
- FIFO queues: SQS hands out a message group's messages only while none of the group is in
  flight, and each batch is invoked in the order received, so a group is processed in
  order with at most one batch of it in flight.
- Concurrency follows the backlog: one batch at a time while the queue is quiet, one more
  concurrent batch for every full batch received, up to ``ScalingConfig.MaximumConcurrency``
  (``FUNCTORY_SQS_MAX_CONCURRENCY`` without one), back down as receives come back empty.
- A broker that can't be reached is retried with a back-off that doubles up to
  ``MAX_BACKOFF_S``; the error is the mapping's ``LastProcessingResult`` meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings

from invocations.destinations import aws_client_options
from invocations.services import MAX_PAYLOAD_BYTES
from triggers.pollers import metrics
from triggers.pollers.base import Poller, PollerContext, PollerFactory, wind_down
from triggers.pollers.config import MappingConfig, source_account
from triggers.pollers.invoke import InvokeProblem, Invoker, Throttled
from triggers.pollers.responses import failed_items

logger = logging.getLogger(__name__)

OK = "OK"
NO_RECORDS = "No records processed"
FUNCTION_FAILED = "PROBLEM: Function call failed"
LONG_POLL_S = 20
# SQS returns at most ten messages per ReceiveMessage and takes ten entries per batch call.
RECEIVE_MAX = 10
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# A throttled batch is offered again until this share of the visibility timeout has passed.
THROTTLE_SHARE = 0.5
# How long polling pauses when delivery is refused without a stop.
REFUSED_PAUSE_S = 0.25

# The order AWS's examples list a record's attributes in; others (AWSTraceHeader, ...) follow.
_ATTRIBUTE_ORDER = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
)

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def sqs_client(region: str) -> Any:
    """A boto3 SQS client for the pollers (cached per region: clients are thread-safe), with
    a read timeout beyond the long poll and a connection per poller thread."""
    with _clients_lock:
        client = _clients.get(region)
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=5,
                read_timeout=LONG_POLL_S + 10,
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=settings.FUNCTORY_POLLER_THREADS,
            )
            client = boto3.session.Session().client(
                "sqs", config=config, **aws_client_options("sqs", region)
            )
            _clients[region] = client
        return client


# -- the event ------------------------------------------------------------------------


def _b64(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributes in the spelling Lambda's events use."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _b64(value["BinaryValue"])
        entry["stringListValues"] = list(value.get("StringListValues") or [])
        entry["binaryListValues"] = [_b64(item) for item in value.get("BinaryListValues") or []]
        entry["dataType"] = value.get("DataType", "String")
        converted[name] = entry
    return converted


def system_attributes(attributes: dict[str, str]) -> dict[str, str]:
    ordered = {name: attributes[name] for name in _ATTRIBUTE_ORDER if name in attributes}
    ordered.update((name, value) for name, value in attributes.items() if name not in ordered)
    return ordered


def record(message: dict[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    """One received message as a record of Lambda's SQS event."""
    entry: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": system_attributes(message.get("Attributes") or {}),
        "messageAttributes": message_attributes(message.get("MessageAttributes") or {}),
    }
    if message.get("MD5OfMessageAttributes"):
        entry["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    entry["md5OfBody"] = message.get("MD5OfBody", "")
    entry["eventSource"] = "aws:sqs"
    entry["eventSourceARN"] = source_arn
    entry["awsRegion"] = region
    return entry


@dataclass
class Item:
    """A received message: its record, and the record as JSON (measured once)."""

    record: dict[str, Any]
    encoded: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.encoded:
            self.encoded = json.dumps(self.record, ensure_ascii=False).encode()

    @property
    def message_id(self) -> str:
        return str(self.record["messageId"])

    @property
    def receipt_handle(self) -> str:
        return str(self.record["receiptHandle"])


_EVENT_OPEN = b'{"Records":['
_EVENT_CLOSE = b"]}"


def event_payload(items: list[Item]) -> bytes:
    return _EVENT_OPEN + b",".join(item.encoded for item in items) + _EVENT_CLOSE


def split_by_size(items: list[Item], limit: int = MAX_PAYLOAD_BYTES) -> list[list[Item]]:
    """The batch in consecutive parts whose events each fit ``limit`` bytes (a record too
    large on its own is a part of its own, which the invocation refuses)."""
    parts: list[list[Item]] = []
    current: list[Item] = []
    size = len(_EVENT_OPEN) + len(_EVENT_CLOSE)
    for item in items:
        extra = len(item.encoded) + (1 if current else 0)
        if current and size + extra > limit:
            parts.append(current)
            current, size = [], len(_EVENT_OPEN) + len(_EVENT_CLOSE)
            extra = len(item.encoded)
        current.append(item)
        size += extra
    if current:
        parts.append(current)
    return parts


# -- the poller -------------------------------------------------------------------------


class Stopped(Exception):
    """The poller was told to stop (disabled, deleted, lease lost) while waiting."""


class BrokerError(Exception):
    """SQS could not be reached or refused a call."""


@dataclass(frozen=True)
class Queue:
    url: str
    visibility_timeout_s: int
    fifo: bool


class SqsPoller:
    """Polls one mapping's queue while it runs (see the module's docstring).

    ``report`` receives each new LastProcessingResult; ``may_deliver`` is asked right before
    every invocation (the runtime's lease and the mapping's state): when it says no, the
    messages in hand are made visible again at once and nothing is invoked.
    """

    def __init__(
        self,
        config: MappingConfig,
        *,
        invoker: Invoker,
        executor: Executor,
        report: Callable[[str], None],
        may_deliver: Callable[[], bool],
        client_factory: Callable[[str], Any] = sqs_client,
    ) -> None:
        self.config = config
        self._invoker = invoker
        self._executor = executor
        self._report = report
        self._may_deliver = may_deliver
        self._client_factory = client_factory
        self._stopped = asyncio.Event()
        # One ReceiveMessage in flight per mapping; the batches it returns are invoked side
        # by side. A broker that hands a message to two concurrent receives (moto's server
        # does, under load) then cannot make the function see it twice, and a FIFO queue's
        # groups are read in one order. A receive takes a round trip for up to ten messages,
        # far less than an invocation, so this is not what bounds throughput.
        self._receiving = asyncio.Lock()
        self._in_flight = 0
        self._workers: set[asyncio.Task[None]] = set()
        self._queue: Queue | None = None
        self._backoff = 0.0
        self.batches = 0
        self.refused = 0
        self._broker_problem = False
        self._last_result = NO_RECORDS

    # -- lifecycle (called by the runtime, on its loop) ---------------------------------

    def start(self) -> None:
        self._spawn(primary=True)

    def update(self, config: MappingConfig) -> None:
        """A new snapshot of the mapping (its generation changed); the next batch uses it."""
        if config.event_source_arn != self.config.event_source_arn:
            self._queue = None
        self.config = config

    async def stop(self, grace: float | None = None) -> None:
        """Stop polling: nothing is invoked after this is called. Invocations in flight
        finish and their messages are deleted as their outcome says; after ``grace``
        seconds they are abandoned (their messages come back after the visibility timeout)."""
        self._stopped.set()
        await wind_down(self._workers, grace)

    @property
    def concurrency(self) -> int:
        return len(self._workers)

    def _spawn(self, *, primary: bool = False) -> None:
        if self._stopped.is_set():
            return
        task = asyncio.get_running_loop().create_task(
            self._work(primary), name=f"sqs-poller-{self.config.uuid}"
        )
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    def _scale_up(self) -> None:
        if len(self._workers) < self.config.maximum_concurrency:
            self._spawn()

    # -- the loop -----------------------------------------------------------------------

    async def _work(self, primary: bool) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    queue = await self._queue_info()
                    items, full = await self._collect(queue)
                except BrokerError as error:
                    self._queue = None  # found again after the outage (it may have moved)
                    if not primary:
                        return
                    await self._back_off(str(error), broker=True)
                    continue
                self._backoff = 0.0
                if self._broker_problem:
                    # Reachable again: the result shown is the last invocation's again.
                    self._broker_problem = False
                    self._report(self._last_result)
                if not items:
                    if not primary and len(self._workers) > 1:
                        return  # the backlog is gone: one fewer concurrent batch
                    continue
                metrics.events(self.config, polled=len(items))
                if full:
                    self._scale_up()
                elif not primary and len(self._workers) > self.config.maximum_concurrency:
                    await self._release(queue, items)
                    return  # MaximumConcurrency was lowered
                if not await self._deliver(queue, items) and not primary:
                    return  # a failing function gets fewer concurrent batches
        except Stopped:
            return
        except Exception:
            logger.exception("SQS poller of mapping %s failed", self.config.uuid)
            if primary and not self._stopped.is_set():
                await asyncio.sleep(FIRST_BACKOFF_S)
                self._spawn(primary=True)

    def _result(self, result: str) -> None:
        """An invocation's outcome, as LastProcessingResult."""
        self._last_result = result
        self._report(result)

    async def _back_off(self, problem: str, *, broker: bool = False) -> None:
        self._broker_problem = self._broker_problem or broker
        self._report(problem)
        self._backoff = min(max(self._backoff * 2, FIRST_BACKOFF_S), MAX_BACKOFF_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self._backoff)

    async def _call(self, method: str, **params: Any) -> Any:
        """One SQS call in a poller thread; BrokerError on any failure."""
        client = self._client_factory(self.config.region)
        loop = asyncio.get_running_loop()
        try:
            call = partial(getattr(client, method), **params)
            return await loop.run_in_executor(self._executor, call)
        except Exception as error:  # botocore's ClientError, EndpointConnectionError, ...
            raise BrokerError(_describe(error)) from error

    async def _queue_info(self) -> Queue:
        if self._queue is not None:
            return self._queue
        arn = self.config.event_source_arn
        account = source_account(arn)
        allowed = settings.FUNCTORY_AWS_TARGET_ACCOUNTS
        if allowed and account not in allowed:
            raise BrokerError(f"PROBLEM: Queues of account {account} can't be read here.")
        name = arn.split(":", 5)[5]
        answer = await self._call("get_queue_url", QueueName=name, QueueOwnerAWSAccountId=account)
        url = answer["QueueUrl"]
        attributes = await self._call(
            "get_queue_attributes",
            QueueUrl=url,
            AttributeNames=["VisibilityTimeout", "FifoQueue"],
        )
        values = attributes.get("Attributes", {})
        self._queue = Queue(
            url=url,
            visibility_timeout_s=int(values.get("VisibilityTimeout", "30")),
            fifo=values.get("FifoQueue") == "true" or name.endswith(".fifo"),
        )
        return self._queue

    async def _receive(self, queue: Queue, count: int, wait_s: int) -> list[dict[str, Any]]:
        """One ReceiveMessage; raises Stopped (the messages it returns later are released)
        when the poller stops first."""
        client = self._client_factory(self.config.region)
        call = partial(
            client.receive_message,
            QueueUrl=queue.url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        async with self._receiving:
            if self._stopped.is_set():
                raise Stopped
            future = asyncio.get_running_loop().run_in_executor(self._executor, call)
            stopped = asyncio.ensure_future(self._stopped.wait())
            try:
                await asyncio.wait({future, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
            if not future.done():
                future.add_done_callback(partial(self._release_late, queue))
                raise Stopped
        try:
            answer = future.result()
        except Exception as error:
            raise BrokerError(_describe(error)) from error
        messages: list[dict[str, Any]] = answer.get("Messages") or []
        return messages

    def _release_late(self, queue: Queue, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        messages = future.result().get("Messages") or []
        if messages:
            handles = [message["ReceiptHandle"] for message in messages]
            self._executor.submit(self._release_now, queue, handles)

    def _release_now(self, queue: Queue, handles: list[str]) -> None:
        client = self._client_factory(self.config.region)
        for start in range(0, len(handles), RECEIVE_MAX):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(handles[start : start + RECEIVE_MAX])
            ]
            try:
                client.change_message_visibility_batch(QueueUrl=queue.url, Entries=entries)
            except Exception as error:
                logger.info("could not release messages of %s: %s", queue.url, error)

    async def _release(self, queue: Queue, items: list[Item]) -> None:
        if items:
            handles = [item.receipt_handle for item in items]
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._release_now, queue, handles
            )

    async def _collect(self, queue: Queue) -> tuple[list[Item], bool]:
        """Up to BatchSize messages: the first by long polling, more for as long as the
        batching window lasts. Returns the batch and whether it came back full."""
        config = self.config
        items: list[Item] = []
        deadline = 0.0
        full = False
        try:
            while len(items) < config.batch_size:
                wanted = min(RECEIVE_MAX, config.batch_size - len(items))
                if items:
                    remaining = deadline - time.monotonic()
                    if remaining < 1:
                        break  # WaitTimeSeconds counts whole seconds
                    wait_s = min(LONG_POLL_S, int(remaining))
                elif queue.fifo and self._in_flight:
                    # Groups in flight unlock when their batch is deleted; a long poll begun
                    # before that may not see it (moto's doesn't), and it would hold up
                    # the receives behind it.
                    wait_s = 1
                else:
                    wait_s = LONG_POLL_S
                messages = await self._receive(queue, wanted, wait_s)
                if not messages:
                    if not items:
                        return [], False
                    continue
                if not items:
                    deadline = time.monotonic() + config.batching_window_s
                    full = len(messages) >= wanted
                arn, region = config.event_source_arn, config.region
                items.extend(Item(record(message, arn, region)) for message in messages)
                if config.batching_window_s == 0:
                    break
        except (Stopped, BrokerError):
            await self._release(queue, items)
            raise
        return items, full or len(items) >= config.batch_size

    # -- delivery -------------------------------------------------------------------------

    async def _deliver(self, queue: Queue, items: list[Item]) -> bool:
        """Invoke the function with the batch and delete what succeeded; False when the
        function failed (or could not be invoked)."""
        config = self.config
        if not await self._allowed(queue, items):
            return True
        passing = [item for item in items if config.passes(item.record)]
        if len(passing) < len(items):
            kept = {id(item) for item in passing}
            metrics.events(config, filtered_out=len(items) - len(passing))
            await self._delete(queue, [item for item in items if id(item) not in kept])
        succeeded = True
        parts = split_by_size(passing)
        for index, part in enumerate(parts):
            try:
                delivered = await self._deliver_part(queue, part)
            except Stopped:
                await self._release(queue, [item for later in parts[index + 1 :] for item in later])
                raise
            succeeded = succeeded and delivered
            if not delivered and queue.fifo:
                # A group's later messages must not overtake the failed ones: they stay in
                # flight until the visibility timeout, then come back in order.
                break
        return succeeded

    async def _allowed(self, queue: Queue, items: list[Item]) -> bool:
        """Whether the batch may be invoked now; if not, its messages are handed back at
        once (visible again) and Stopped is raised when the poller is stopping. A refusal
        without a stop (the lease is being renewed late) pauses polling briefly."""
        if not self._stopped.is_set() and self._may_deliver():
            return True
        await self._release(queue, items)
        if self._stopped.is_set():
            raise Stopped
        self.refused += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), REFUSED_PAUSE_S)
        return False

    async def _deliver_part(self, queue: Queue, items: list[Item]) -> bool:
        self._in_flight += 1
        try:
            return await self._invoke_and_delete(queue, items)
        finally:
            self._in_flight -= 1

    async def _invoke_and_delete(self, queue: Queue, items: list[Item]) -> bool:
        config = self.config
        payload = event_payload(items)
        received = time.monotonic()
        delay = 0.05
        while True:
            if not await self._allowed(queue, items):
                return True
            try:
                outcome = await self._invoker(config, payload)
                break
            except Throttled:
                if time.monotonic() - received > queue.visibility_timeout_s * THROTTLE_SHARE:
                    self._result("PROBLEM: Function call throttled")
                    metrics.events(config, failed_invoke=len(items))
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except InvokeProblem as problem:
                metrics.events(config, failed_invoke=len(items))
                self._last_result = str(problem)
                await self._back_off(str(problem))
                return False
        self.batches += 1
        if outcome.function_error is not None:
            metrics.events(config, invoked=len(items), failed_invoke=len(items))
            self._result(FUNCTION_FAILED)
            return False
        if config.report_batch_item_failures:
            failed = failed_items(outcome.payload, {item.message_id for item in items})
            if failed is None:
                metrics.events(config, invoked=len(items), failed_invoke=len(items))
                self._result(FUNCTION_FAILED)
                return False
            # A partial batch response's failed records count as failed invokes, as on AWS.
            metrics.events(config, invoked=len(items), failed_invoke=len(failed))
            await self._delete(queue, [item for item in items if item.message_id not in failed])
        else:
            metrics.events(config, invoked=len(items))
            await self._delete(queue, items)
        self._result(OK)
        return True

    async def _delete(self, queue: Queue, items: list[Item]) -> None:
        """Delete the messages, ten to a call, the calls side by side. One that fails (an
        expired receipt handle: the function outlived the visibility timeout) comes back, as
        SQS's at-least-once delivery allows."""
        calls = []
        for start in range(0, len(items), RECEIVE_MAX):
            entries = [
                {"Id": str(n), "ReceiptHandle": item.receipt_handle}
                for n, item in enumerate(items[start : start + RECEIVE_MAX])
            ]
            calls.append(self._call("delete_message_batch", QueueUrl=queue.url, Entries=entries))
        deleted = 0
        for answer in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(answer, BaseException):
                logger.warning("could not delete messages of %s: %s", queue.url, answer)
                continue
            deleted += len(answer.get("Successful") or [])
            if answer.get("Failed"):
                logger.warning("SQS kept messages of %s: %s", queue.url, answer["Failed"])
        metrics.events(self.config, deleted=deleted)


def _describe(error: BaseException) -> str:
    """A broker error as a LastProcessingResult."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        message = response["Error"].get("Message", "")
        return f"PROBLEM: SQS answered {code}: {message}"[:1024]
    return f"PROBLEM: Lambda could not reach SQS: {error}"[:1024]


def poller_factory(client_factory: Callable[[str], Any] = sqs_client) -> PollerFactory:
    """Builds SQS pollers reading through ``client_factory(region)`` (tests pass a peer's)."""

    def build(config: MappingConfig, context: PollerContext) -> Poller:
        return SqsPoller(
            config,
            invoker=context.invoker,
            executor=context.executor,
            report=context.report,
            may_deliver=context.may_deliver,
            client_factory=client_factory,
        )

    return build
