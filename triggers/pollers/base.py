"""What every poller is to the runtime, and what the runtime hands every poller.

A source kind (``triggers.sources.SourceKind``) is polled when ``runtime.FACTORIES`` has a
factory for it: ``factory(config, context)`` builds the poller of one mapping, which the
runtime starts, updates with new snapshots and stops (or raises ``ConfigProblem``: the
mapping can't be polled as stored, and the problem is its LastProcessingResult).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Invoker


class Poller(Protocol):
    config: MappingConfig

    def start(self) -> None: ...
    def update(self, config: MappingConfig) -> None: ...
    async def stop(self, grace: float | None = None) -> None: ...


@dataclass(frozen=True)
class PollerContext:
    """What the runtime gives the poller of one mapping."""

    # Runs a batch (the Invoke API's synchronous path; tests pass their own).
    invoker: Invoker
    # Threads for the broker's blocking calls (shared by all the process's pollers).
    executor: Executor
    # Receives each new LastProcessingResult.
    report: Callable[[str], None]
    # Asked right before every invocation: the mapping's state and the lease; when it says
    # no, nothing is invoked (records in hand go back to the source).
    may_deliver: Callable[[], bool]


PollerFactory = Callable[[MappingConfig, PollerContext], Poller]


async def wind_down(tasks: Iterable[asyncio.Task[None]], grace: float | None) -> None:
    """Let a stopped poller's tasks finish for ``grace`` seconds (None: as long as they
    take), then cancel what is left and wait until it has ended."""
    tasks = list(tasks)
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
