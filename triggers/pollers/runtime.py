"""The poller runtime: which mappings this server process polls, started and stopped as
the mappings and the leases say.

Every ``FUNCTORY_POLLER_CHECK_SECONDS`` the runtime reads the mappings (one query) and the
unexpired leases (another). For every mapping that should deliver and that nobody holds,
it claims the lease and starts a poller (up to its share, below); for every poller it runs
whose mapping was disabled, deleted or taken over, it stops the poller and gives the lease
up; when a mapping's ``generation`` changes, its poller gets a new snapshot. Held leases are
renewed every third of their period; a poller whose lease could not be renewed in time
stops delivering on its own (``Held.valid``), so a process cut off from the database cannot
double-deliver with the one that takes over.

States are the API's (``triggers/services``: a write settles at once); the runtime acts on
``enabled``/``state`` within a check, and writes each mapping's ``LastProcessingResult``
when it changes (not once per batch).

Balance across processes: every runtime holds a presence lease (``node:<owner>``), renewed
with its mappings' leases, so each knows how many processes poll. It claims mappings only
while it runs fewer than its share (the polled mappings divided by the live processes,
rounded up) and gives up those beyond it, which the others then claim: a process that
started first does not keep every mapping once others join. A process that
died is counted until its presence lease expires, as its mappings stay held until theirs do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections

from triggers import leases, selectors
from triggers.models import EventSourceMapping
from triggers.pollers import dynamodb, engines, kinesis, sqs
from triggers.pollers.base import Poller, PollerContext, PollerFactory
from triggers.pollers.config import ConfigProblem, MappingConfig, mapping_config
from triggers.pollers.invoke import Invoker, invoke
from triggers.pollers.threads import DaemonThreadPool
from triggers.services.event_source_mappings import set_last_processing_result
from triggers.sources import SourceKind, source_kind

logger = logging.getLogger(__name__)

T = TypeVar("T")
PREFIX = "esm:"
NODE_PREFIX = "node:"
# At shutdown, how long invocations in flight may finish (then they are abandoned: their
# messages come back after the visibility timeout).
STOP_GRACE_S = 10.0


def default_factories() -> dict[SourceKind, PollerFactory]:
    """The sources this runtime polls, and how it builds each one's poller."""
    return {
        SourceKind.SQS: sqs.poller_factory(),
        SourceKind.KINESIS: kinesis.poller_factory(),
        SourceKind.DYNAMODB: dynamodb.poller_factory(),
        SourceKind.MQ: engines.poller_factory(),
    }


def lease_key(uuid: str) -> str:
    return f"{PREFIX}{uuid}"


@dataclass(frozen=True)
class Row:
    """What the runtime reads of every mapping that should deliver, on every check."""

    pk: int
    uuid: str
    generation: int
    kind: SourceKind | None


@dataclass
class Running:
    poller: Poller
    held: leases.Held
    generation: int
    active: bool = True

    def may_deliver(self) -> bool:
        return self.active and self.held.valid()


@dataclass
class Runtime:
    """Runs this process's share of the pollers until ``stop()``."""

    invoker: Invoker = invoke
    factories: Mapping[SourceKind, PollerFactory] = field(default_factory=default_factories)
    owner: str = field(default_factory=leases.new_owner)
    lease_seconds: float = field(default_factory=lambda: settings.FUNCTORY_POLLER_LEASE_SECONDS)
    check_seconds: float = field(default_factory=lambda: settings.FUNCTORY_POLLER_CHECK_SECONDS)
    threads: int = field(default_factory=lambda: settings.FUNCTORY_POLLER_THREADS)

    def __post_init__(self) -> None:
        self.running: dict[str, Running] = {}
        # LastProcessingResult: as reported by the pollers, and as last written.
        self._reported: dict[str, str] = {}
        self._written: dict[str, str] = {}
        # Mappings that can't be polled as stored, by the generation found so.
        self._broken: dict[str, int] = {}
        self._renewed_at = 0.0
        self._node: leases.Held | None = None
        self._pks: dict[str, int] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One thread for the database (one connection, used in turn); others for the
        # broker's blocking calls, each long poll holding one for up to 20 s.
        self._db: Executor = ThreadPoolExecutor(1, thread_name_prefix="pollers-db")
        self._io: Executor = DaemonThreadPool(self.threads, "pollers-io")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="poller-runtime")

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.check()
            except Exception:
                logger.exception("the poller runtime's check failed")
                await self._stop_lapsed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.check_seconds)

    async def stop(self) -> None:
        """Stop every poller and give up the leases, so other hosts take over at once."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        uuids = list(self.running)
        await asyncio.gather(
            *(self._stop_one(uuid, grace=STOP_GRACE_S) for uuid in uuids), return_exceptions=True
        )
        try:
            keys = [lease_key(u) for u in uuids] + [self._node_key]
            await self._in_db(leases.release, keys, self.owner)
            await self._in_db(self._write_results)
        except Exception:
            logger.exception("could not release the pollers' leases")
        self._io.shutdown(wait=False, cancel_futures=True)
        self._db.shutdown(wait=False)

    async def _in_db(self, function: Callable[..., T], *args: Any) -> T:
        def call() -> T:
            close_old_connections()
            return function(*args)

        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    # -- one check ------------------------------------------------------------------------

    @property
    def _node_key(self) -> str:
        return f"{NODE_PREFIX}{self.owner}"

    async def check(self) -> None:
        if self._node is None:
            self._node = await self._in_db(
                leases.claim, self._node_key, self.owner, self.lease_seconds
            )
        rows, held_by, nodes = await self._in_db(self._read)
        by_uuid = {row.uuid: row for row in rows}
        for gone in set(self._reported) - set(by_uuid):
            self._reported.pop(gone, None)
            self._written.pop(gone, None)
        # Stop what must stop first: nothing is delivered for a disabled mapping after this.
        for uuid in list(self.running):
            row = by_uuid.get(uuid)
            if row is None or held_by.get(lease_key(uuid)) != self.owner:
                await self._stop_one(uuid)
                await self._in_db(leases.release, [lease_key(uuid)], self.owner)
        await self._renew_if_due()
        polled = [row for row in rows if row.kind is not None and row.kind in self.factories]
        share = -(-len(polled) // max(1, nodes))
        await self._shed_beyond(share)
        for row in polled:
            running = self.running.get(row.uuid)
            if running is not None:
                if running.generation != row.generation:
                    await self._reconfigure(row, running)
                continue
            holder = held_by.get(lease_key(row.uuid))
            if (
                holder is None
                and len(self.running) < share
                and self._broken.get(row.uuid) != row.generation
            ):
                await self._claim(row)
        self._pks = {row.uuid: row.pk for row in rows}
        await self._in_db(self._write_results)

    def _read(self) -> tuple[list[Row], dict[str, str], int]:
        values = selectors.mappings_delivering().values_list(
            "pk", "uuid", "generation", "event_source_arn"
        )
        rows = [
            Row(pk, str(uuid), generation, source_kind(arn)) for pk, uuid, generation, arn in values
        ]
        random.shuffle(rows)  # processes starting together claim different mappings first
        return rows, leases.holders(PREFIX), len(leases.holders(NODE_PREFIX))

    async def _claim(self, row: Row) -> None:
        held = await self._in_db(leases.claim, lease_key(row.uuid), self.owner, self.lease_seconds)
        if held is None:
            return
        try:
            config = await self._in_db(self._load, row.uuid)
            poller = self._poller(config) if config is not None else None
        except ConfigProblem as problem:
            self._broken[row.uuid] = row.generation
            self._reported[row.uuid] = str(problem)
            await self._in_db(leases.release, [held.key], self.owner)
            return
        if config is None or poller is None:  # deleted meanwhile
            await self._in_db(leases.release, [held.key], self.owner)
            return
        self._broken.pop(row.uuid, None)
        running = Running(poller=poller, held=held, generation=config.generation)
        self.running[row.uuid] = running
        running.poller.start()

    async def _reconfigure(self, row: Row, running: Running) -> None:
        try:
            config = await self._in_db(self._load, row.uuid)
        except ConfigProblem as problem:
            self._broken[row.uuid] = row.generation
            self._reported[row.uuid] = str(problem)
            await self._stop_one(row.uuid)
            await self._in_db(leases.release, [running.held.key], self.owner)
            return
        if config is None:
            return
        running.poller.update(config)
        running.generation = config.generation

    def _poller(self, config: MappingConfig) -> Poller:
        uuid = config.uuid
        kind = config.kind
        assert kind is not None  # the check starts only mappings of a polled kind

        def report(result: str) -> None:
            self._reported[uuid] = result

        def may_deliver() -> bool:
            running = self.running.get(uuid)
            return running is not None and running.may_deliver()

        context = PollerContext(
            invoker=self.invoker, executor=self._io, report=report, may_deliver=may_deliver
        )
        return self.factories[kind](config, context)

    async def _stop_one(self, uuid: str, grace: float | None = None) -> None:
        running = self.running.get(uuid)
        if running is None:
            return
        running.active = False
        try:
            await running.poller.stop(grace)
        finally:
            self.running.pop(uuid, None)

    async def _shed_beyond(self, most: int) -> None:
        """Give up the mappings run beyond ``most``, for processes with fewer to claim."""
        for uuid in list(self.running)[most:]:
            logger.info("giving mapping %s up to balance the pollers", uuid)
            key = self.running[uuid].held.key
            await self._stop_one(uuid)
            await self._in_db(leases.release, [key], self.owner)

    async def _renew_if_due(self) -> None:
        if time.monotonic() - self._renewed_at < self.lease_seconds / 3:
            return
        held = [running.held for running in self.running.values()]
        if self._node is not None:
            held.append(self._node)
        kept = await self._in_db(leases.renew, held, self.owner, self.lease_seconds)
        self._renewed_at = time.monotonic()
        if self._node is not None and self._node.key not in kept:
            self._node = None  # lapsed (the database was away): claimed again next check
        for uuid, running in list(self.running.items()):
            if running.held.key not in kept:
                logger.warning("the lease on mapping %s was taken over; stopping", uuid)
                await self._stop_one(uuid)

    async def _stop_lapsed(self) -> None:
        """The database can't be reached: a poller whose lease may have expired stops."""
        for uuid, running in list(self.running.items()):
            if not running.held.valid():
                await self._stop_one(uuid)

    # -- in the database thread -----------------------------------------------------------

    @staticmethod
    def _load(uuid: str) -> MappingConfig | None:
        mapping = (
            EventSourceMapping.objects.select_related("function__account").filter(uuid=uuid).first()
        )
        return mapping_config(mapping) if mapping is not None else None

    def _write_results(self) -> None:
        for uuid, result in list(self._reported.items()):
            pk = self._pks.get(uuid)
            if pk is not None and self._written.get(uuid) != result:
                set_last_processing_result(pk, result)
                self._written[uuid] = result


# -- the process's runtime, started by the ASGI lifespan ------------------------------------

_runtime: Runtime | None = None


def start() -> None:
    """Start this process's pollers (on the running loop: the server's)."""
    global _runtime
    if _runtime is None and settings.FUNCTORY_POLLERS:
        _runtime = Runtime()
        _runtime.start()


async def stop() -> None:
    global _runtime
    runtime, _runtime = _runtime, None
    if runtime is not None:
        await runtime.stop()
