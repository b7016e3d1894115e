"""Hands log lines from the executor to the database in batches, off the hot path.

The executor calls :meth:`LogIngestor.submit` on the event loop (a list append); a
background thread writes everything pending every ``interval`` seconds in one transaction
(a busy function costs at most 1/interval transactions per second, never one per line),
then publishes the stored events to live-tail subscribers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import close_old_connections

from monitoring import live
from monitoring.services import LogBatch, log_batches_store

logger = logging.getLogger(__name__)


class LogIngestor:
    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._pending: list[LogBatch] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._listeners: list[Any] = []

    def submit(
        self, account_id: str, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None:
        with self._lock:
            self._pending.append(LogBatch(account_id, group, stream, events))
            self._idle.clear()
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="functory-log-ingest", daemon=True
                )
                self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is stored (tests, shutdown)."""
        self._wake.set()
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                batches, self._pending = self._pending, []
            if batches:
                try:
                    close_old_connections()
                    stored = log_batches_store(batches)
                except Exception:
                    logger.exception("storing %d log batches failed", len(batches))
                else:
                    live.publish(stored)
            with self._lock:
                if not self._pending:
                    self._idle.set()


ingestor = LogIngestor()
