"""One long-lived event loop per (non-async) process, e.g. a Celery worker.

The executor's pool lives on an event loop (see :mod:`invocations.runner`); running each
task under its own ``asyncio.run`` would start a fresh pool, and a cold environment, every
time. Instead a daemon thread keeps one loop for the process and callers submit coroutines
to it, so warm environments are reused across tasks.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def _start() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    threading.Thread(target=serve, name="functory-event-loop", daemon=True).start()
    ready.wait()
    return loop


def loop() -> asyncio.AbstractEventLoop:
    """This process's loop, started on first use (again after a fork: threads don't survive)."""
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop.is_closed():
            _loop, _pid = _start(), os.getpid()
        return _loop


async def gather_limited(
    coroutines: list[Coroutine[Any, Any, T]], limit: int
) -> list[T | BaseException]:
    """``asyncio.gather(..., return_exceptions=True)`` running at most ``limit`` at once."""
    semaphore = asyncio.Semaphore(limit)

    async def limited(coroutine: Coroutine[Any, Any, T]) -> T:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(limited(c) for c in coroutines), return_exceptions=True)


def run(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` on the process's loop and wait for its result (from any thread)."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop()).result(timeout)
