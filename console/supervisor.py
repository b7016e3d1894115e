"""Keeps a child process of ``serve`` running: the embedded profile's Celery worker.

A worker that dies (killed, out of memory, a crash) is reaped at once, so no zombie is left,
and started again after a back-off that doubles from ``FIRST_DELAY`` to ``MAX_DELAY``; a
child that ran for ``STEADY_SECONDS`` before dying starts again from the first delay. The
state is written to a small JSON file beside the database, so ``/healthz`` can report it from
any of the server's processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
STEADY_SECONDS = 60.0
STOP_TIMEOUT = 10.0


class Supervisor:
    """Runs ``start()`` in a thread of its own and starts it again whenever it exits.

    The thread that starts the child is the one that waits for it: a child asking for
    ``PR_SET_PDEATHSIG`` is signalled when that thread ends, which is only at ``stop()``.
    """

    def __init__(
        self,
        name: str,
        start: Callable[[], subprocess.Popen[bytes]],
        state_file: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._start = start
        self._state_file = state_file
        self._clock = clock
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)
        self.restarts = 0
        self.last_exit: int | None = None
        self.started_at: float | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop supervising and end the child (SIGTERM, then SIGKILL after a grace period)."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
        self._thread.join(timeout=STOP_TIMEOUT + 5)
        with contextlib.suppress(OSError):
            self._state_file.unlink()

    @property
    def pid(self) -> int | None:
        with self._lock:
            process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def next_delay(self, previous: float, ran_for: float) -> float:
        """The wait before the next start: doubled after each quick death, reset after a run
        long enough to count as healthy."""
        if ran_for >= STEADY_SECONDS or previous <= 0:
            return FIRST_DELAY
        return min(previous * 2, MAX_DELAY)

    def _run(self) -> None:
        delay = 0.0
        while not self._stopping.is_set():
            try:
                process = self._start()
            except OSError:
                logger.exception("could not start the %s", self.name)
                delay = self.next_delay(delay, 0.0)
                self._stopping.wait(delay)
                continue
            began = self._clock()
            with self._lock:
                self._process = process
            self.started_at = time.time()
            self._write_state()
            if self._stopping.is_set():
                process.terminate()
            code = self._wait(process)
            self.last_exit = code
            if self._stopping.is_set():
                break
            self.restarts += 1
            delay = self.next_delay(delay, self._clock() - began)
            logger.warning(
                "the %s exited with %s; starting it again in %.1f s", self.name, code, delay
            )
            self._write_state(next_start_in=delay)
            self._stopping.wait(delay)
        with self._lock:
            self._process = None

    def _wait(self, process: subprocess.Popen[bytes]) -> int:
        """Wait for the child (reaping it); once stopping, give it a grace period, then kill."""
        while True:
            try:
                return process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if not self._stopping.is_set():
                    continue
            try:
                return process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                return process.wait()

    def state(self, **extra: Any) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": self.pid is not None,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "started_at": self.started_at,
            **extra,
        }

    def _write_state(self, **extra: Any) -> None:
        # Written under another name and renamed: a reader never sees half a file.
        temporary = self._state_file.with_name(f".{self._state_file.name}.{os.getpid()}")
        try:
            temporary.write_text(json.dumps(self.state(**extra)))
            os.replace(temporary, self._state_file)
        except OSError:
            logger.exception("could not record the %s's state", self.name)


def worker_state_file() -> Path:
    """Where ``serve`` records its embedded worker's state."""
    return Path(settings.DATA_DIR) / "worker-state.json"


def read_state(state_file: Path) -> dict[str, Any] | None:
    """What the supervisor last recorded, with ``running`` checked against the live pid."""
    try:
        state: dict[str, Any] = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    state["running"] = isinstance(pid, int) and _alive(pid)
    return state


def _alive(pid: int) -> bool:
    """True for a live process; a zombie (dead, not yet reaped) counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
