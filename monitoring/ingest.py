"""Hands log lines from the executor to the database in batches, off the hot path.

The executor calls :meth:`LogIngestor.submit` on the event loop (a list append, and the
lines published at once to the group's live-tail subscribers, if it has any, keyed so that
the stored copies can be recognised: ``monitoring.live``); a background thread writes
everything pending in one transaction, then publishes the stored events with their ids.
It writes as lines come while it has writes in hand (a quiet function's lines are stored
within milliseconds) and otherwise keeps to one write every ``interval`` seconds (``BURST``
back to back at most: a busy function costs about 1/interval transactions per second,
never one per line; what arrives while a batch is written waits for the next).

What waits is bounded (``logcaps.IngestBudget``: 2 MiB of function output, half of it at
most for one account, plus a reserve for the platform's essential lines): when the
database falls behind, function output is dropped at ``submit`` (never blocking the event
loop, never growing memory) and each stream that lost lines gets one line saying how many
once the queue drains.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import close_old_connections

from invocations.executor.logcaps import IngestBudget, overload_notice
from monitoring import live
from monitoring.batches import LogBatch
from monitoring.services import log_batches_store

logger = logging.getLogger(__name__)

# Writes the log writer may make back to back before it keeps to one an interval.
BURST = 4


class LogIngestor:
    def __init__(
        self, interval: float = 0.05, budget: IngestBudget | None = None, *, eager: bool = True
    ) -> None:
        self.interval = interval
        # eager: a submit wakes the writer; else it only writes every interval (or on flush).
        self.eager = eager
        self._urgent = False
        self._writes = float(BURST)
        self._refilled = time.monotonic()
        self.budget = budget if budget is not None else IngestBudget()
        self._pending: list[LogBatch] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        # Set by flush: a writer pacing itself writes at once instead (someone waits on it).
        self._hurry = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._listeners: list[Any] = []

    def submit(
        self,
        account_id: str,
        group: str,
        stream: str,
        events: list[tuple[int, str]],
        *,
        essential: bool = False,
    ) -> None:
        with self._lock:
            events = self.budget.take((account_id, group, stream), events, essential)
            if not events:
                return
            # Sent before the batch is queued, so before it can be stored (a non-blocking
            # send; nothing at all when nobody tails the group).
            prefix = live.publish_early(account_id, group, stream, events)
            self._pending.append(LogBatch(account_id, group, stream, events, prefix))
            self._idle.clear()
        if self._thread is None:
            self._start()
        if self.eager:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="functory-log-ingest", daemon=True
                )
                self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is stored (tests, shutdown, and an
        asynchronous attempt, whose lines are stored before it is recorded as done): the
        next write comes at once, even when the writer was keeping to its interval."""
        self._urgent = True
        self._hurry.set()
        self._wake.set()
        return self._idle.wait(timeout)

    def _wait_for_a_write(self) -> None:
        """Take one write from a bucket of ``BURST`` refilled one per ``interval``: an
        invocation's few lines (START, output, END, REPORT, printed within milliseconds)
        are written as they come, a steady stream once an interval."""
        now = time.monotonic()
        self._writes = min(BURST, self._writes + (now - self._refilled) / self.interval)
        self._refilled = now
        if self._writes < 1:
            self._hurry.wait((1 - self._writes) * self.interval)
            self._writes, self._refilled = 1.0, time.monotonic()
        self._writes -= 1

    def _run(self) -> None:
        while True:
            self._wake.wait(None if self.eager else self.interval)
            if not self._urgent:
                self._wait_for_a_write()  # what arrives meanwhile joins this batch
            self._wake.clear()
            self._hurry.clear()
            self._urgent = False
            with self._lock:
                batches, self._pending = self._pending, []
                dropped = self.budget.take_dropped()
                untracked, self.budget.dropped_untracked = self.budget.dropped_untracked, 0
            if untracked:
                logger.warning("log ingestion overloaded: %d lines dropped", untracked)
            taken = [(batch.account_id, batch.events) for batch in batches]
            stamp = int(time.time() * 1000)
            batches.extend(
                LogBatch(*key, [(stamp, overload_notice(count))]) for key, count in dropped.items()
            )
            if batches:
                try:
                    close_old_connections()
                    stored = log_batches_store(batches)
                except Exception:
                    logger.exception("storing %d log batches failed", len(batches))
                else:
                    live.publish(stored)
                finally:
                    with self._lock:
                        for account_id, events in taken:
                            self.budget.release(account_id, events)
            with self._lock:
                if not self._pending:
                    self._idle.set()


ingestor = LogIngestor()
