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
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import close_old_connections

from invocations.destinations import aws_client_options
from triggers.pollers import metrics
from triggers.pollers.base import wind_down
from triggers.pollers.config import MappingConfig, source_account
from triggers.pollers.invoke import InvokeProblem, Invoker, Outcome, Throttled
from triggers.pollers.responses import failed_items
from triggers.pollers.shards import REFUSED_PAUSE_S, ShardReader
from triggers.pollers.stream_records import (
    RECORD_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    BrokerError,
    Done,
    IteratorExpired,
    Position,
    ShardInfo,
    Stopped,
    StreamRecord,
    StreamSource,
    Window,
    describe,
    event_payload,
    failure_record,
)
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
        await wind_down(tasks, grace)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # -- helpers ------------------------------------------------------------------------

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

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
        try:
            await self.in_thread(
                self._checkpoints.save,
                self.config.uuid,
                shard.shard_id,
                sequence,
                parent_shard_ids=shard.parents,
                finished=finished,
            )
        except Exception:
            # The database is away: the next batch's checkpoint covers this one's records
            # (until then a new holder would deliver them again, as at least once allows).
            logger.exception("could not checkpoint %s of mapping %s", shard, self.config.uuid)
            return False
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
