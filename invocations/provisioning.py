"""Provisioned concurrency: each configuration's environments kept ready in this process.

Where it runs: in every server process (``manage.py serve``), on the process's event loop,
started and stopped by the ASGI lifespan (``console/asgi.py``), as the event source pollers
are; that is where synchronous invokes are served. Every ``CHECK_S`` (at once after a
configuration or an alias changes in this process) it reads the configurations of all
accounts, resolves each to the version it runs (an alias: the version it points to) and
hands the pool its targets (``EnvironmentPool.provision``): environments of that version
started with ``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``, initialised, and
never reaped for age (memory pressure takes them last). Then it records each
configuration's state as AWS reports it: ``IN_PROGRESS`` until all are ready, ``READY``, or
``FAILED`` with the reason when the function's init failed, its environments kept exiting,
or its runtime or code is unavailable (nothing is retried until the configuration is put
again, or its alias moves). A start that failed for a passing reason is tried again.

Each web replica keeps its own set (a load balancer may send a call to any) and writes
the state it sees: on the scaled profile a replica short of memory may show
``IN_PROGRESS`` while another shows ``READY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import close_old_connections

from functions.models import ProvisionedConcurrencyConfig
from functions.services.provisioned import UNPUBLISHED
from invocations import runner
from invocations.executor.pool import ProvisionState, ProvisionTarget
from invocations.selectors import environment_spec

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHECK_S = 2.0
CODE_UNAVAILABLE = "The function's code could not be prepared for its environments."


@dataclass(frozen=True)
class Planned:
    """One configuration as read: its row, its target's spec key, or why it has none."""

    pk: int
    last_modified: dt.datetime
    requested: int
    allocated: int
    status: str
    reason: str
    key: str = ""
    problem: str = ""


def _plan() -> tuple[list[Planned], list[ProvisionTarget]]:
    """The configurations and the pool's targets (blocking: the database, maybe the code
    cache). Failed ones are left out: they wait for a new Put."""
    planned: list[Planned] = []
    counts: dict[str, int] = defaultdict(int)
    specs: dict[str, Any] = {}
    tokens: dict[str, list[str]] = defaultdict(list)
    rows = ProvisionedConcurrencyConfig.objects.select_related("function").order_by("pk")
    for row in rows:
        read = Planned(
            row.pk, row.last_modified, row.requested, row.allocated, row.status, row.status_reason
        )
        if row.status == ProvisionedConcurrencyConfig.FAILED:
            planned.append(dataclasses.replace(read, problem=row.status_reason))
            continue
        function = row.function
        number = row.qualifier
        if not number.isdigit():
            alias = function.aliases.filter(name=row.qualifier).first()
            number = alias.function_version if alias is not None else ""
        version = function.versions.filter(number=int(number)).first() if number.isdigit() else None
        if version is None or version.number == 0:
            planned.append(dataclasses.replace(read, problem=UNPUBLISHED))
            continue
        try:
            spec = environment_spec(version)  # may extract the code
        except Exception:
            # One function's code (a deleted blob, a full disk) holds up nobody else's.
            logger.exception("preparing provisioned environments of %s failed", function)
            planned.append(dataclasses.replace(read, problem=CODE_UNAVAILABLE))
            continue
        counts[spec.key] += row.requested
        specs[spec.key] = spec
        tokens[spec.key].append(row.last_modified.isoformat())
        planned.append(dataclasses.replace(read, key=spec.key))
    targets = [ProvisionTarget(specs[key], counts[key], "|".join(tokens[key])) for key in counts]
    return planned, targets


Change = tuple[int, dt.datetime, int, str, str]  # pk, last_modified as read, new state


def _record(planned: list[Planned], states: dict[str, ProvisionState]) -> list[Change]:
    """Each configuration's new (allocated, status, reason) where it changed; configurations
    sharing a version (two aliases) take its ready environments in turn."""
    changes = []
    left = {key: state.ready for key, state in states.items()}
    for item in planned:
        if item.problem:
            allocated, status, reason = 0, ProvisionedConcurrencyConfig.FAILED, item.problem
        else:
            state = states.get(item.key, ProvisionState(0))
            allocated = min(item.requested, left.get(item.key, 0))
            left[item.key] = left.get(item.key, 0) - allocated
            if state.failure:
                status, reason = ProvisionedConcurrencyConfig.FAILED, state.failure
            elif allocated >= item.requested:
                status, reason = ProvisionedConcurrencyConfig.READY, ""
            else:
                status, reason = ProvisionedConcurrencyConfig.IN_PROGRESS, ""
        if (allocated, status, reason) != (item.allocated, item.status, item.reason):
            changes.append((item.pk, item.last_modified, allocated, status, reason))
    return changes


def _save(changes: list[Change]) -> None:
    for pk, last_modified, allocated, status, reason in changes:
        # Only the configuration as read: a Put meanwhile (a new last_modified) wins.
        rows = ProvisionedConcurrencyConfig.objects.filter(pk=pk, last_modified=last_modified)
        rows.update(allocated=allocated, status=status, status_reason=reason[:1024])


class Provisioner:
    def __init__(self) -> None:
        self._db = ThreadPoolExecutor(1, thread_name_prefix="provisioning")
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    def wake(self) -> None:
        self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._db.shutdown(wait=False)

    async def _in_db(self, function: Callable[..., T], *args: Any) -> T:
        def call() -> T:
            close_old_connections()
            return function(*args)

        return await self._loop.run_in_executor(self._db, call)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                logger.exception("provisioned concurrency check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CHECK_S)
            self._wake.clear()

    async def check(self) -> None:
        existing = runner.existing_pool()
        # A function deleted while the plan is read stays deleted.
        since = existing.retirement if existing is not None else 0
        planned, targets = await self._in_db(_plan)
        states: dict[str, ProvisionState] = {}
        # No pool is made (its backend set up: seccomp, cgroups, the fence) for nothing.
        if existing is not None or targets:
            pool = existing or runner.pool()
            states = pool.provision(targets, since if existing is not None else None)
        changes = _record(planned, states)
        if changes:
            await self._in_db(_save, changes)


_current: Provisioner | None = None
_lock = threading.Lock()


def start() -> None:
    """Start keeping provisioned environments on the running loop (the lifespan's)."""
    global _current
    with _lock:
        if _current is None:
            _current = Provisioner()


async def stop() -> None:
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None:
        await current.stop()


def wake(*_: Any, **__: Any) -> None:
    """Check now (a configuration or an alias changed); safe from any thread."""
    current = _current
    if current is not None:
        current.wake()
