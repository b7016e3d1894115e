"""The stream poller frame shared by Kinesis (``kinesis.py``) and DynamoDB Streams
(``dynamodb.py``), reading as Lambda's stream event sources do.

- One reader per shard: GetShardIterator from the shard's checkpoint (after its sequence
  number), else from the mapping's ``StartingPosition``; then GetRecords in a loop, once a
  ``POLL_S`` while the shard is quiet, at once while it has records.
- Batches of up to ``BatchSize`` records, gathered for up to
  ``MaximumBatchingWindowInSeconds``, never more than the 6 MB an invocation takes.
- Order: a shard's next batch is invoked only once the one before it is done. With
  ``ParallelizationFactor`` N a shard's records are dealt to N lanes by a hash of their
  partition key (DynamoDB: of their keys), each lane in order, so a key's records stay in
  order while up to N batches of the shard run side by side.
- Checkpoints in the database (``StreamCheckpoint``): the last record of a shard done
  with (delivered, filtered out, or given up), written after every batch by the lease holder
  only, and with lanes never past a record not yet done. A poller on any host resumes right
  after it: at least once, never a gap.
- Resharding: the listing is read again every ``RELIST_S``. A closed shard is read to its
  end (GetRecords answers no NextShardIterator, or nothing more once the listing shows it
  closed), then marked finished; a child starts (from TRIM_HORIZON) only when all of its
  listed parents are finished.
- Failures, as AWS documents for streams: a function error retries the batch until it
  succeeds, ``MaximumRetryAttempts`` are used up or its records are older than
  ``MaximumRecordAgeInSeconds`` (-1: forever, both); ``BisectBatchOnFunctionError`` splits
  a failing batch in two first (splits use no retry); ``ReportBatchItemFailures`` (the
  ``itemIdentifier`` is a sequence number) checkpoints before the lowest failed record and
  retries from it. A batch given up goes (as AWS's stream failure record, not the records)
  to ``DestinationConfig.OnFailure`` (SQS or SNS) and is skipped. Throttles and an
  uninvokable function are retried with back-off and use no retry.
- ``FilterCriteria``: records that match no pattern are skipped (and checkpointed).
- ``TumblingWindowInSeconds``: records are grouped by the window their arrival time falls
  in (windows aligned on the epoch); a batch never spans two windows; each invocation gets
  the ``state`` the one before it returned, ``window`` {start, end}, ``shardId``,
  ``eventSourceARN``, ``isFinalInvokeForWindow`` and ``isWindowTerminatedEarly``; once the
  window is over (a record of a later window, its end passed, or the shard ended) a final
  invocation with no records hands the function the window's last state. A state past
  1 MB ends the window early. The state is kept in memory: a window open when its poller
  stops starts again empty on the next holder (the records are at least once anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid as uuid_module
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import close_old_connections

from functions import arns
from invocations.destinations import aws_client_options
from invocations.services import MAX_PAYLOAD_BYTES
from triggers.pollers import metrics
from triggers.pollers.config import MappingConfig, source_account
from triggers.pollers.invoke import InvokeProblem, Invoker, Outcome, Throttled
from triggers.pollers.responses import failed_items
from triggers.services import stream_checkpoints
from triggers.services.stream_checkpoints import Checkpoint

logger = logging.getLogger(__name__)

T = TypeVar("T")

OK = "OK"
NO_RECORDS = "No records processed"
FUNCTION_FAILED = "PROBLEM: Function call failed"
# How often a quiet shard is read (AWS reads each shard about once a second).
POLL_S = 1.0
# How often the shard listing is read again (new children, closed parents).
RELIST_S = 5.0
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# Retries of a failed batch: a growing pause, short at first.
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0
THROTTLE_MAX_S = 2.0
REFUSED_PAUSE_S = 0.25
# GetRecords takes at most this many records (Kinesis; DynamoDB Streams takes 1000).
READ_LIMIT = 10_000
# Records read ahead of their lane, per lane: a batch is at most 6 MB, so this keeps the
# next one ready without holding a shard's whole backlog (Kinesis records run to 1 MB, and
# BatchSize to 10,000) in memory.
LANE_BUFFER_BYTES = 2 * MAX_PAYLOAD_BYTES

# Past this a tumbling window's state ends the window early.
MAX_WINDOW_STATE_BYTES = 1024 * 1024

RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"

_EVENT_OPEN = b'{"Records":['
_EVENT_CLOSE = b"]}"


# -- what a source is to the frame --------------------------------------------------------


@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    # Listed parents (one after a split, two after a merge).
    parents: tuple[str, ...]
    # The listing gives it an ending sequence number: no record is added any more.
    closed: bool


@dataclass
class StreamRecord:
    """One record read: in the event's shape, and what the frame needs of it."""

    record: dict[str, Any]
    sequence: str
    # What orders records across lanes (ParallelizationFactor).
    partition_key: str
    # When the stream got it (epoch seconds).
    arrival: float
    encoded: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.encoded:
            self.encoded = json.dumps(self.record, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Position:
    """Where a shard iterator starts: ``AFTER_SEQUENCE_NUMBER`` (``sequence``),
    ``TRIM_HORIZON``, ``LATEST`` or ``AT_TIMESTAMP`` (``timestamp``)."""

    kind: str
    sequence: str = ""
    timestamp: float | None = None


@dataclass(frozen=True)
class Page:
    records: list[StreamRecord]
    # None: the shard is closed and read to its end.
    next_iterator: str | None


class StreamSource(Protocol):
    """One stream's blocking calls (run in the poller threads); they raise on failure."""

    # The failure record's key: "KinesisBatchInfo" or "DDBStreamBatchInfo".
    batch_info_key: str

    def shards(self) -> list[ShardInfo]: ...
    def iterator(self, shard_id: str, position: Position) -> str: ...
    def read(self, iterator: str, shard_id: str, limit: int) -> Page: ...


SourceFactory = Callable[[MappingConfig, Callable[[str, str], Any]], StreamSource]


class CheckpointStore(Protocol):
    """Where checkpoints live (the database; tests may keep them in memory)."""

    def load(self, mapping_uuid: str) -> dict[str, Checkpoint]: ...
    def save(
        self,
        mapping_uuid: str,
        shard_id: str,
        sequence_number: str,
        *,
        parent_shard_ids: tuple[str, ...] = (),
        finished: bool = False,
    ) -> None: ...


class DatabaseCheckpoints:
    """The ``StreamCheckpoint`` rows, from a poller thread."""

    def load(self, mapping_uuid: str) -> dict[str, Checkpoint]:
        close_old_connections()
        return stream_checkpoints.checkpoints_load(mapping_uuid)

    def save(
        self,
        mapping_uuid: str,
        shard_id: str,
        sequence_number: str,
        *,
        parent_shard_ids: tuple[str, ...] = (),
        finished: bool = False,
    ) -> None:
        close_old_connections()
        stream_checkpoints.checkpoint_save(
            mapping_uuid,
            shard_id,
            sequence_number,
            parent_shard_ids=parent_shard_ids,
            finished=finished,
        )


# -- AWS clients --------------------------------------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for the stream pollers (cached per service and region), through the
    endpoint and credentials of the settings."""
    key = (service, region)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=5,
                read_timeout=15,
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=settings.FUNCTORY_POLLER_THREADS,
            )
            client = boto3.session.Session().client(
                service, config=config, **aws_client_options(service, region)
            )
            _clients[key] = client
        return client


# -- small pieces -------------------------------------------------------------------------


def event_payload(records: list[StreamRecord], extra: bytes = b"") -> bytes:
    """The event: ``Records``, then ``extra`` members (a tumbling window's) if any."""
    body = _EVENT_OPEN + b",".join(record.encoded for record in records) + b"]"
    return body + (b"," + extra if extra else b"") + b"}"


def take_batch(
    buffer: deque[StreamRecord],
    batch_size: int,
    limit: int = MAX_PAYLOAD_BYTES,
    same: Callable[[StreamRecord], bool] | None = None,
) -> list[StreamRecord]:
    """The next batch off the front of ``buffer``: up to ``batch_size`` records whose event
    fits ``limit`` bytes (one record too large alone is a batch of its own), ending before
    the first record ``same`` refuses (one of a later tumbling window)."""
    batch: list[StreamRecord] = []
    size = len(_EVENT_OPEN) + len(_EVENT_CLOSE)
    while buffer and len(batch) < batch_size:
        extra = len(buffer[0].encoded) + (1 if batch else 0)
        if batch and (size + extra > limit or (same is not None and not same(buffer[0]))):
            break
        batch.append(buffer.popleft())
        size += extra
    return batch


def lane_of(partition_key: str, lanes: int) -> int:
    """Which of a shard's lanes a partition key's records go through (stable across hosts)."""
    if lanes <= 1:
        return 0
    digest = hashlib.md5(partition_key.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % lanes


def window_start(arrival: float, length: int) -> float:
    """The start of the tumbling window a record that arrived at ``arrival`` belongs to."""
    return arrival - arrival % length


def in_window(length: int, start: float, record: StreamRecord) -> bool:
    """Whether a record belongs to the window beginning at ``start`` (or an earlier one:
    a record late by the clocks' skew joins the open window)."""
    return window_start(record.arrival, length) <= start


@dataclass
class Window:
    """One lane's open tumbling window: its bounds and the state the function returned."""

    start: float
    end: float
    state: Any = field(default_factory=dict)
    terminated_early: bool = False

    def members(self, shard_id: str, source_arn: str, final: bool) -> bytes:
        """The event's members after ``Records``."""
        members = {
            "window": {"start": iso_seconds(self.start), "end": iso_seconds(self.end)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": source_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": self.terminated_early,
        }
        return json.dumps(members, ensure_ascii=False).encode()[1:-1]

    def absorb(self, payload: bytes) -> None:
        """Keep the ``state`` of a successful invocation's answer."""
        try:
            answer = json.loads(payload) if payload.strip() else None
        except (ValueError, RecursionError):
            answer = None
        state = answer.get("state") if isinstance(answer, dict) else None
        self.state = state if isinstance(state, dict) else {}
        if len(payload) > MAX_WINDOW_STATE_BYTES:
            self.terminated_early = True


def iso_seconds(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Progress:
    """A shard's records read and not yet checkpointed, in stream order: a checkpoint may
    move only past records that are all done (lanes finish out of order)."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, bool] = OrderedDict()

    def add(self, sequence: str) -> None:
        self._pending[sequence] = False

    def done(self, sequences: list[str]) -> str | None:
        """Mark records done; the new checkpoint, if it moved."""
        for sequence in sequences:
            if sequence in self._pending:
                self._pending[sequence] = True
        moved: str | None = None
        while self._pending:
            sequence, finished = next(iter(self._pending.items()))
            if not finished:
                break
            self._pending.popitem(last=False)
            moved = sequence
        return moved

    def clear(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)


class Stopped(Exception):
    """The poller was told to stop (disabled, deleted, lease lost)."""


class BrokerError(Exception):
    """The stream could not be reached or refused a call."""


class IteratorExpired(BrokerError):
    """A shard iterator outlived its five minutes (the lanes were busy): get a new one."""


def describe(error: BaseException, service: str) -> str:
    """A broker error as a LastProcessingResult."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        message = response["Error"].get("Message", "")
        return f"PROBLEM: {service} answered {code}: {message}"[:1024]
    return f"PROBLEM: Lambda could not reach {service}: {error}"[:1024]


# -- the poller ---------------------------------------------------------------------------


class StreamPoller:
    """Polls one mapping's stream while it runs (see the module's docstring)."""

    service_label = "the stream"

    def __init__(
        self,
        config: MappingConfig,
        *,
        invoker: Invoker,
        executor: Executor,
        report: Callable[[str], None],
        may_deliver: Callable[[], bool],
        source_factory: SourceFactory,
        client_factory: Callable[[str, str], Any] = aws_client,
        checkpoints: CheckpointStore | None = None,
        poll_s: float = POLL_S,
        relist_s: float = RELIST_S,
    ) -> None:
        self.config = config
        self._invoker = invoker
        self._executor = executor
        self._report = report
        self._may_deliver = may_deliver
        self._source_factory = source_factory
        self._clients = client_factory
        self._checkpoints: CheckpointStore = checkpoints or DatabaseCheckpoints()
        self.poll_s = poll_s
        self.relist_s = relist_s
        self._stopped = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._readers: dict[str, ShardReader] = {}
        self._known: dict[str, Checkpoint] | None = None
        self._source: StreamSource | None = None
        self._backoff = 0.0
        self._broker_problem = False
        self._last_result = NO_RECORDS
        self.batches = 0

    # -- lifecycle (the runtime's loop) -------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"stream-poller-{self.config.uuid}"
        )

    def update(self, config: MappingConfig) -> None:
        """A new snapshot of the mapping; the next batch uses it. (The API does not let a
        mapping change its source, so shards and checkpoints stay valid.) A new
        ParallelizationFactor re-deals the shards: their readers hand over to new ones."""
        self.config = config
        self._wake.set()

    async def stop(self, grace: float | None = None) -> None:
        """Nothing is invoked after this is called; an invocation in flight may finish for
        ``grace`` seconds (its batch is delivered again by the next holder)."""
        self._stopped.set()
        self._wake.set()
        tasks = [task for task in [self._task] if task is not None]
        for reader in self._readers.values():
            reader.wake()
            tasks.extend(reader.tasks())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # -- helpers ------------------------------------------------------------------------

    async def in_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One stream call in a poller thread; BrokerError on any failure."""
        try:
            return await self.in_thread(function, *args, **kwargs)
        except Exception as error:
            response = getattr(error, "response", None)
            code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
            if code == "ExpiredIteratorException":
                raise IteratorExpired(describe(error, self.service_label)) from error
            raise BrokerError(describe(error, self.service_label)) from error

    async def pause(self, seconds: float) -> None:
        """Sleep, unless the poller stops first (then Stopped)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
        if self._stopped.is_set():
            raise Stopped

    def result(self, result: str) -> None:
        self._last_result = result
        if not self._broker_problem:
            self._report(result)

    async def back_off(self, problem: str) -> None:
        self._broker_problem = True
        self._report(problem)
        self._backoff = min(max(self._backoff * 2, FIRST_BACKOFF_S), MAX_BACKOFF_S)
        await self.pause(self._backoff)

    def reachable(self) -> None:
        self._backoff = 0.0
        if self._broker_problem:
            self._broker_problem = False
            self._report(self._last_result)

    async def gate(self) -> None:
        """Wait until delivery is allowed (the lease and the mapping's state); Stopped when
        the poller stops meanwhile."""
        while True:
            if self._stopped.is_set():
                raise Stopped
            if self._may_deliver():
                return
            await self.pause(REFUSED_PAUSE_S)

    # -- the coordinator: which shards are read -----------------------------------------

    async def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self._check_shards()
            except Stopped:
                return
            except BrokerError as error:
                try:
                    await self.back_off(str(error))
                except Stopped:
                    return
                continue
            except Exception:
                logger.exception("stream poller of mapping %s failed", self.config.uuid)
                with contextlib.suppress(Stopped):
                    await self.pause(FIRST_BACKOFF_S)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.relist_s)

    async def _check_shards(self) -> None:
        account = source_account(self.config.event_source_arn)
        allowed = settings.FUNCTORY_AWS_TARGET_ACCOUNTS
        if allowed and account not in allowed:
            # The platform's credentials read for every tenant: only the operator's accounts.
            raise BrokerError(f"PROBLEM: Streams of account {account} can't be read here.")
        if self._source is None:
            self._source = self._source_factory(self.config, self._clients)
        if self._known is None:
            self._known = await self.in_thread(self._checkpoints.load, self.config.uuid)
        shards = await self.call(self._source.shards)
        self.reachable()
        listed = {shard.shard_id: shard for shard in shards}
        for shard in shards:
            reader = self._readers.get(shard.shard_id)
            if reader is not None:
                reader.closed = shard.closed
                if len(reader.lanes) != self.config.parallelization_factor:
                    reader.retire()
                continue
            checkpoint = self._known.get(shard.shard_id)
            if checkpoint is not None and checkpoint.finished:
                continue
            parents = [parent for parent in shard.parents if parent in listed]
            if not all(self.finished(parent) for parent in parents):
                continue  # a child waits for its parents to be read to their ends
            if checkpoint is not None and checkpoint.sequence_number:
                position = Position("AFTER_SEQUENCE_NUMBER", checkpoint.sequence_number)
            elif parents:
                position = Position("TRIM_HORIZON")
            else:
                position = self._starting_position()
                if position.kind == "LATEST" and shard.closed:
                    # Nothing will ever be added to it: done before it began.
                    await self.save(shard, "", finished=True)
                    continue
                if position.kind == "LATEST":
                    if checkpoint is not None:
                        # Begun at LATEST by an earlier holder, nothing done since: resume
                        # from when it began, or what was put meanwhile would be skipped.
                        position = Position("AT_TIMESTAMP", timestamp=checkpoint.updated)
                    elif not await self.save(shard, ""):
                        continue  # only a holder that can record where it began starts
            self._start_reader(shard, position)

    def _starting_position(self) -> Position:
        config = self.config
        if config.starting_position == "AT_TIMESTAMP":
            return Position("AT_TIMESTAMP", timestamp=config.starting_position_timestamp or 0.0)
        if config.starting_position == "TRIM_HORIZON":
            return Position("TRIM_HORIZON")
        return Position("LATEST")

    def _start_reader(self, shard: ShardInfo, position: Position) -> None:
        assert self._source is not None
        reader = ShardReader(self, self._source, shard, position)
        self._readers[shard.shard_id] = reader
        reader.start()

    def finished(self, shard_id: str) -> bool:
        checkpoint = (self._known or {}).get(shard_id)
        return checkpoint is not None and checkpoint.finished

    def reader_done(self, shard: ShardInfo) -> None:
        """A shard was read to its end (its children may start now), or its reader retired
        (a new one starts from the checkpoint)."""
        self._readers.pop(shard.shard_id, None)
        self._wake.set()

    async def save(self, shard: ShardInfo, sequence: str, *, finished: bool = False) -> bool:
        """Write a shard's checkpoint, as the lease holder only; whether it was written."""
        if self._stopped.is_set() or not self._may_deliver():
            return False
        await self.in_thread(
            self._checkpoints.save,
            self.config.uuid,
            shard.shard_id,
            sequence,
            parent_shard_ids=shard.parents,
            finished=finished,
        )
        if self._known is not None:
            previous = self._known.get(shard.shard_id)
            kept = sequence or (previous.sequence_number if previous else "")
            self._known[shard.shard_id] = Checkpoint(shard.shard_id, kept, finished, time.time())
        return True

    # -- one batch ----------------------------------------------------------------------

    async def deliver(
        self,
        shard: ShardInfo,
        batch: list[StreamRecord],
        done: Done,
        window: Window | None = None,
    ) -> None:
        """Invoke the function with a batch until it is done with (succeeded, filtered out or
        given up); ``done`` receives records as they are. Raises Stopped."""
        config = self.config
        passing = [record for record in batch if config.passes(record.record)]
        metrics.events(config, polled=len(batch), filtered_out=len(batch) - len(passing))
        pieces: list[list[StreamRecord]] = [passing] if passing else []
        attempts = 0
        invokes = 0
        while pieces:
            piece = pieces[0]
            outcome = await self._invoke(piece, shard, window)
            if outcome is None:  # older than MaximumRecordAgeInSeconds
                await self._give_up(shard, piece, RECORD_AGE_EXCEEDED, invokes, None)
                pieces.pop(0)
                attempts = invokes = 0
                continue
            invokes += 1
            self.batches += 1
            metrics.events(config, invoked=len(piece))
            metrics.iterator_age(config, (time.time() - piece[-1].arrival) * 1000)
            failed_at = self._failed_at(outcome, piece)
            if window is not None and outcome.function_error is None:
                window.absorb(outcome.payload)
            if failed_at is None:
                self.result(OK)
                pieces.pop(0)
                attempts = invokes = 0
                continue
            self.result(FUNCTION_FAILED)
            metrics.events(config, failed_invoke=len(piece) - failed_at)
            if failed_at > 0:
                # Partial success: what came before the lowest failed record is done.
                await done(piece[:failed_at])
                piece = pieces[0] = piece[failed_at:]
            elif config.bisect_batch_on_function_error and len(piece) > 1:
                half = len(piece) // 2
                pieces[0:1] = [piece[:half], piece[half:]]
                invokes = 0
                continue  # a split uses no retry
            attempts += 1
            if 0 <= config.maximum_retry_attempts < attempts:
                await self._give_up(shard, piece, RETRIES_EXHAUSTED, invokes, outcome)
                pieces.pop(0)
                attempts = invokes = 0
                continue
            await self.pause(min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_MAX_S))
        await done(batch)

    async def close_window(self, shard: ShardInfo, window: Window) -> None:
        """The window's final invocation (no records, its last state), retried as a batch
        is; given up after MaximumRetryAttempts."""
        attempts = 0
        while True:
            outcome = await self._invoke([], shard, window, final=True)
            if outcome is None or outcome.function_error is None:
                if outcome is not None:
                    self.result(OK)
                return
            self.result(FUNCTION_FAILED)
            attempts += 1
            if 0 <= self.config.maximum_retry_attempts < attempts:
                return
            await self.pause(min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_MAX_S))

    def _too_old(self, piece: list[StreamRecord]) -> bool:
        limit = self.config.maximum_record_age_s
        return bool(piece) and limit >= 0 and time.time() - piece[0].arrival > limit

    async def _invoke(
        self,
        piece: list[StreamRecord],
        shard: ShardInfo,
        window: Window | None = None,
        final: bool = False,
    ) -> Outcome | None:
        """One invocation of the piece; throttles and an uninvokable function are retried
        with back-off (no retry used) until the records are older than the maximum age
        (then None)."""
        extra = b""
        if window is not None:
            extra = window.members(shard.shard_id, self.config.event_source_arn, final)
        payload = event_payload(piece, extra)
        delay = 0.05
        while True:
            await self.gate()
            if self._too_old(piece):
                return None
            try:
                return await self._invoker(self.config, payload)
            except Throttled:
                await self.pause(delay)
                delay = min(delay * 2, THROTTLE_MAX_S)
            except InvokeProblem as problem:
                self._last_result = str(problem)
                self._report(str(problem))
                await self.pause(delay)
                delay = min(max(delay * 2, FIRST_BACKOFF_S), MAX_BACKOFF_S)

    def _failed_at(self, outcome: Outcome, piece: list[StreamRecord]) -> int | None:
        """Where the piece failed: None for success, 0 for all of it, else the index of the
        lowest record reported failed (ReportBatchItemFailures)."""
        if outcome.function_error is not None:
            return 0
        if not self.config.report_batch_item_failures:
            return None
        failed = failed_items(outcome.payload, {record.sequence for record in piece})
        if failed is None:
            return 0
        if not failed:
            return None
        return min(index for index, record in enumerate(piece) if record.sequence in failed)

    async def _give_up(
        self,
        shard: ShardInfo,
        piece: list[StreamRecord],
        condition: str,
        invokes: int,
        outcome: Outcome | None,
    ) -> None:
        """Skip a batch: its failure record goes to the OnFailure destination, if any."""
        config = self.config
        metrics.events(config, dropped=len(piece))
        if not config.on_failure:
            return
        assert self._source is not None
        record = failure_record(
            config, shard.shard_id, piece, condition, invokes, outcome, self._source
        )
        try:
            await self.in_thread(self._send_failure, config.on_failure, json.dumps(record))
        except Exception as error:
            logger.warning("could not send a failure record to %s: %s", config.on_failure, error)
            return
        metrics.events(config, on_failure_delivered=len(piece))

    def _send_failure(self, arn: str, body: str) -> None:
        parts = arn.split(":")
        service, region, account = parts[2], parts[3], parts[4]
        allowed = settings.FUNCTORY_AWS_TARGET_ACCOUNTS
        if allowed and account not in allowed:
            raise BrokerError(f"Records can't be sent to account {account}.")
        if service == "sqs":
            sqs = self._clients("sqs", region)
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=account)
            sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body)
        elif service == "sns":
            self._clients("sns", region).publish(TopicArn=arn, Message=body)
        else:
            raise BrokerError(f"Failure records can't be sent to {service}.")


Done = Callable[[list[StreamRecord]], Any]


def failure_record(
    config: MappingConfig,
    shard_id: str,
    piece: list[StreamRecord],
    condition: str,
    invokes: int,
    outcome: Outcome | None,
    source: StreamSource,
) -> dict[str, Any]:
    """What AWS sends an OnFailure destination for a stream batch given up: where the
    records are, not the records."""
    function_arn = arns.function_arn(config.account.id, config.function_name)
    if config.qualifier:
        function_arn = f"{function_arn}:{config.qualifier}"
    response_context: dict[str, Any] = {
        "statusCode": 200,
        "executedVersion": config.qualifier or "$LATEST",
    }
    if outcome is not None and outcome.function_error:
        response_context["functionError"] = outcome.function_error
    return {
        "requestContext": {
            "requestId": str(uuid_module.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": iso_millis(time.time()),
        source.batch_info_key: {
            "shardId": shard_id,
            "startSequenceNumber": piece[0].sequence,
            "endSequenceNumber": piece[-1].sequence,
            "approximateArrivalOfFirstRecord": iso_millis(piece[0].arrival),
            "approximateArrivalOfLastRecord": iso_millis(piece[-1].arrival),
            "batchSize": len(piece),
            "streamArn": config.event_source_arn,
        },
    }


class ShardReader:
    """Reads one shard and feeds its lanes; marks it finished once closed and done."""

    def __init__(
        self, poller: StreamPoller, source: StreamSource, shard: ShardInfo, position: Position
    ) -> None:
        self.poller = poller
        self.source = source
        self.shard = shard
        self.closed = shard.closed
        self.position = position
        self.progress = Progress()
        self.lanes = [Lane(self, n) for n in range(poller.config.parallelization_factor)]
        self._task: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._save_lock = asyncio.Lock()
        self.reading = True
        # The last read returned less than it asked for: nothing more is waiting in the
        # shard (a tumbling window may close once its end has passed).
        self.caught_up = False
        # Asked to stop reading and hand over (the mapping's ParallelizationFactor changed).
        self.retiring = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"stream-shard-{self.shard.shard_id}"
        )
        for lane in self.lanes:
            lane.start()

    def tasks(self) -> list[asyncio.Task[None]]:
        found = [self._task] if self._task is not None else []
        return found + [lane.task for lane in self.lanes if lane.task is not None]

    def wake(self) -> None:
        self._room.set()

    def retire(self) -> None:
        """Stop reading, deliver what was read, then make way for a new reader (from the
        checkpoint) with the mapping's new number of lanes."""
        self.retiring = True
        self._room.set()

    def buffered(self) -> int:
        return sum(len(lane.buffer) for lane in self.lanes)

    def buffered_bytes(self) -> int:
        return sum(lane.bytes for lane in self.lanes)

    async def _run(self) -> None:
        poller = self.poller
        iterator: str | None = None
        try:
            while not poller.stopped and not self.retiring:
                config = poller.config
                room = config.batch_size * len(self.lanes) - self.buffered()
                if room <= 0 or self.buffered_bytes() >= LANE_BUFFER_BYTES * len(self.lanes):
                    self._room.clear()
                    await self._room.wait()
                    continue
                try:
                    if iterator is None:
                        iterator = await poller.call(
                            self.source.iterator, self.shard.shard_id, self.position
                        )
                    page = await poller.call(
                        self.source.read, iterator, self.shard.shard_id, min(room, READ_LIMIT)
                    )
                except IteratorExpired:
                    iterator = None  # a new one from where reading got
                    continue
                except BrokerError as error:
                    iterator = None
                    await poller.back_off(str(error))
                    continue
                poller.reachable()
                caught_up = len(page.records) < min(room, READ_LIMIT)
                if caught_up and not self.caught_up:
                    for lane in self.lanes:
                        lane.wake()
                self.caught_up = caught_up
                for record in page.records:
                    self.progress.add(record.sequence)
                    self.lanes[lane_of(record.partition_key, len(self.lanes))].put(record)
                    self.position = Position("AFTER_SEQUENCE_NUMBER", record.sequence)
                if page.next_iterator is None or (not page.records and self.closed):
                    break
                iterator = page.next_iterator
                if not page.records:
                    await poller.pause(poller.poll_s)
            else:
                if poller.stopped:
                    return
            # Read to its end (or retiring): once every lane is done, the shard is finished.
            self.reading = False
            for lane in self.lanes:
                lane.wake()
            await asyncio.gather(*(lane.task for lane in self.lanes if lane.task is not None))
            if len(self.progress):
                return  # stopped with records not done: the next holder reads them again
            if self.retiring:
                poller.reader_done(self.shard)
                return
            # A refused write (the lease being renewed late) is tried again: the shard's
            # children wait for it.
            while not await poller.save(self.shard, "", finished=True):
                await poller.pause(REFUSED_PAUSE_S)
            poller.reader_done(self.shard)
        except Stopped:
            return

    async def done(self, records: list[StreamRecord]) -> None:
        """Records done with: move the checkpoint as far as every lane allows."""
        async with self._save_lock:
            moved = self.progress.done([record.sequence for record in records])
            if moved is not None:
                await self.poller.save(self.shard, moved)
        self._room.set()


class Lane:
    """One ordered line of a shard's batches (ParallelizationFactor gives N per shard)."""

    def __init__(self, reader: ShardReader, index: int) -> None:
        self.reader = reader
        self.index = index
        self.buffer: deque[StreamRecord] = deque()
        self.bytes = 0
        self._arrived = asyncio.Event()
        # When the oldest record waiting came (the batching window counts from it).
        self._first_at = 0.0
        self.task: asyncio.Task[None] | None = None
        self.window: Window | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"stream-lane-{self.reader.shard.shard_id}-{self.index}"
        )

    def put(self, record: StreamRecord) -> None:
        if not self.buffer:
            self._first_at = time.monotonic()
        self.buffer.append(record)
        self.bytes += len(record.encoded)
        self._arrived.set()

    def wake(self) -> None:
        self._arrived.set()

    async def _wait(self, seconds: float | None) -> None:
        self._arrived.clear()
        stopped = asyncio.ensure_future(self.reader.poller._stopped.wait())
        arrived = asyncio.ensure_future(self._arrived.wait())
        try:
            await asyncio.wait(
                {stopped, arrived}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopped.cancel()
            arrived.cancel()
        if self.reader.poller.stopped:
            raise Stopped

    async def _run(self) -> None:
        reader = self.reader
        poller = reader.poller
        try:
            while not poller.stopped:
                config = poller.config
                length = config.tumbling_window_s
                if self.window is not None and self._window_over(length):
                    await poller.close_window(reader.shard, self.window)
                    self.window = None
                    continue
                if not self.buffer:
                    if not reader.reading:
                        return
                    until_end = self.window.end - time.time() if self.window else 0.0
                    await self._wait(until_end if until_end > 0 else None)
                    continue
                window = config.batching_window_s
                full = len(self.buffer) >= config.batch_size or self.bytes >= MAX_PAYLOAD_BYTES
                if window and not full and reader.reading:
                    remaining = self._first_at + window - time.monotonic()
                    if remaining > 0:
                        await self._wait(remaining)
                        continue
                same = None
                if length:
                    if self.window is None:
                        start = window_start(self.buffer[0].arrival, length)
                        self.window = Window(start, start + length)
                    same = partial(in_window, length, self.window.start)
                batch = take_batch(self.buffer, config.batch_size, same=same)
                self.bytes -= sum(len(record.encoded) for record in batch)
                if self.buffer:
                    self._first_at = time.monotonic()
                await poller.deliver(reader.shard, batch, reader.done, self.window)
        except Stopped:
            return

    def _window_over(self, length: int) -> bool:
        """Whether the open tumbling window is over: the setting was removed, its state grew
        too large, a record of a later window is next, or nothing of it is waiting, its end
        has passed and the shard is read up to now (or the shard ended)."""
        window = self.window
        assert window is not None
        if not length or window.terminated_early:
            return True
        if self.buffer:
            return window_start(self.buffer[0].arrival, length) > window.start
        if not self.reader.reading:
            return True
        return time.time() >= window.end and self.reader.caught_up
