"""A stream poller's readers (``streams.py``): one per shard, dealing its records to
lanes (``ParallelizationFactor`` of them), each lane invoking its batches in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from invocations.services import MAX_PAYLOAD_BYTES
from triggers.pollers.config import MappingConfig
from triggers.pollers.stream_records import (
    BrokerError,
    Done,
    IteratorExpired,
    Position,
    Progress,
    ShardInfo,
    Stopped,
    StreamRecord,
    StreamSource,
    Window,
    in_window,
    lane_of,
    take_batch,
    window_start,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
# After the platform failed to deliver a batch (not the function: the invocation path).
FAILED_DELIVERY_PAUSE_S = 1.0


class ShardHost(Protocol):
    """What a reader needs of its poller (``streams.StreamPoller``)."""

    poll_s: float

    @property
    def config(self) -> MappingConfig: ...
    @property
    def stopped(self) -> bool: ...
    async def wait_stopped(self) -> None: ...
    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    async def pause(self, seconds: float) -> None: ...
    async def back_off(self, problem: str) -> None: ...
    def reachable(self) -> None: ...
    async def save(self, shard: ShardInfo, sequence: str, *, finished: bool = False) -> bool: ...
    def reader_done(self, shard: ShardInfo) -> None: ...
    async def deliver(
        self,
        shard: ShardInfo,
        batch: list[StreamRecord],
        done: Done,
        window: Window | None = None,
    ) -> None: ...
    async def close_window(self, shard: ShardInfo, window: Window) -> None: ...


# GetRecords takes at most this many records (Kinesis; DynamoDB Streams takes 1000).
READ_LIMIT = 10_000

# Records read ahead of their lane, per lane: a batch is at most 6 MB, so this keeps the
# next one ready without holding a shard's whole backlog (Kinesis records run to 1 MB, and
# BatchSize to 10,000) in memory.
LANE_BUFFER_BYTES = 2 * MAX_PAYLOAD_BYTES

REFUSED_PAUSE_S = 0.25


class ShardReader:
    """Reads one shard and feeds its lanes; marks it finished once closed and done."""

    def __init__(
        self, poller: ShardHost, source: StreamSource, shard: ShardInfo, position: Position
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
        stopped = asyncio.ensure_future(self.reader.poller.wait_stopped())
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
                try:
                    await poller.deliver(reader.shard, batch, reader.done, self.window)
                except Stopped:
                    raise
                except Exception:
                    # Not the function's answer (that is handled) but the platform failing
                    # (its database, a bug): the batch goes back in front, tried again.
                    logger.exception("delivery on shard %s failed", reader.shard.shard_id)
                    self.buffer.extendleft(reversed(batch))
                    self.bytes += sum(len(record.encoded) for record in batch)
                    await poller.pause(FAILED_DELIVERY_PAUSE_S)
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
