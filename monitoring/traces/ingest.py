"""Hands trace segment documents from the executor to the database in batches.

The executor's daemon endpoints and the invoke path call :meth:`SegmentIngestor.submit` on
the event loop (a list append, no database); a background thread stores everything pending
every ``interval`` seconds in one transaction. What waits is bounded: past ``max_pending``
documents, or a quarter of that for one account (a flooding tenant cannot crowd out the
others), new ones are dropped (traces are best effort, as the X-Ray daemon's buffer is).
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from monitoring.traces.services import SegmentBatch, segment_batches_store

logger = logging.getLogger(__name__)


class SegmentIngestor:
    def __init__(self, interval: float = 0.2, max_pending: int = 20_000) -> None:
        self.interval = interval
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: list[SegmentBatch] = []
        self._count = 0
        self._per_account: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def submit(self, account_id: str, function_name: str, documents: list[str]) -> None:
        """The executor's ``SegmentSink`` (``function_name`` is in the documents)."""
        with self._lock:
            taken = self._per_account.get(account_id, 0)
            room = min(self.max_pending - self._count, self.max_pending // 4 - taken)
            if room < len(documents):
                self.dropped += len(documents) - max(room, 0)
                documents = documents[: max(room, 0)]
            if not documents:
                return
            self._pending.append(SegmentBatch(account_id, documents))
            self._count += len(documents)
            self._per_account[account_id] = taken + len(documents)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="functory-trace-ingest", daemon=True
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
                self._count = 0
                self._per_account.clear()
            if batches:
                try:
                    close_old_connections()
                    segment_batches_store(batches)
                except Exception:
                    logger.exception("storing %d trace batches failed", len(batches))
            with self._lock:
                if not self._pending:
                    self._idle.set()


ingestor = SegmentIngestor()
