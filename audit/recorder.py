"""Audit events buffered in memory and stored in batches, off the request path.

``record`` appends an event (a dict in CloudTrail's shape) to this process's buffer; a
background thread stores what is pending every ``FUNCTORY_AUDIT_FLUSH_SECONDS`` in one
transaction, as the metrics recorder does, and what is left is stored when the process
exits cleanly (``atexit``: ``serve`` and uvicorn end by returning from main).

Calls nobody vouched for (a bad signature, an unknown key, a failed sign-in) cannot be
allowed to grow the table at an attacker's rate. They are aggregated: within a minute, calls
alike in (account, source, operation, error, address, key id or user name) make one row
whose ``count`` says how many there were; and at most ``FUNCTORY_AUDIT_UNAUTHENTICATED_PER_
MINUTE`` such rows are made per minute and process: calls past that budget are only counted,
into one ``UnauthenticatedCallsNotRecorded`` row for the operator. So an unauthenticated
flood adds at most budget + 1 rows a minute per process, whatever its rate.

Each account's own calls are recorded one row each, as CloudTrail does, up to
``FUNCTORY_AUDIT_EVENTS_PER_ACCOUNT_PER_MINUTE`` a minute per process (6,000 by default,
100 a second, far above what its API throttles let a person or a deployment tool make);
past that, a tenant hammering the API gets one ``AuditEventsNotRecorded`` row a minute
counting the calls it made beyond, so it cannot fill the disk at its request rate either.

The buffer of authenticated events is bounded too (``MAX_PENDING``): were the database down
for long, the newest events past that are dropped and counted in the log, never the process's
memory exhausted.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections

logger = logging.getLogger(__name__)

MAX_PENDING = 50_000
Event = dict[str, Any]
_Key = tuple[str, ...]


def _default_store(events: list[Event]) -> None:
    from audit import services

    services.events_store(events)


class AuditRecorder:
    def __init__(
        self,
        *,
        store: Callable[[list[Event]], None] = _default_store,
        clock: Callable[[], float] = time.time,
        interval: float | None = None,
        unauthenticated_per_minute: int | None = None,
        per_account_per_minute: int | None = None,
        background: bool = True,
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._budget = unauthenticated_per_minute
        self._account_budget = per_account_per_minute
        self._background = background
        self._pending: list[Event] = []
        self._dropped = 0
        self._minute = -1
        self._seen: set[_Key] = set()
        self._aggregated: dict[_Key, list[Any]] = {}  # key -> [first event, count]
        self._over_budget = 0
        self._over_budget_event: Event | None = None
        # This minute's recorded events per account, and those past the account's budget.
        self._account_counts: dict[str, int] = {}
        self._account_over: dict[str, list[Any]] = {}  # account -> [first event, count]
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- recording (request path) -----------------------------------------------------------

    def record(self, event: Event) -> None:
        account = str(event.get("recipientAccountId") or "")
        minute = int(self._clock()) // 60
        with self._lock:
            self._roll(minute)
            count = self._account_counts.get(account, 0) + 1
            self._account_counts[account] = count
            if count > self._per_account_budget():
                entry = self._account_over.get(account)
                if entry is None:
                    self._account_over[account] = [event, 1]
                else:
                    entry[1] += 1
            elif len(self._pending) >= MAX_PENDING:
                self._dropped += 1
            else:
                self._pending.append(event)
        self._ensure_thread()

    def record_unauthenticated(self, event: Event) -> None:
        identity = event.get("userIdentity") or {}
        key: _Key = (
            str(event.get("recipientAccountId") or ""),
            str(event.get("eventSource")),
            str(event.get("eventName")),
            str(event.get("errorCode") or ""),
            str(event.get("sourceIPAddress") or ""),
            str(identity.get("accessKeyId") or identity.get("userName") or ""),
        )
        minute = int(self._clock()) // 60
        with self._lock:
            self._roll(minute)
            if key in self._seen:
                entry = self._aggregated.get(key)
                if entry is None:
                    self._aggregated[key] = [event, 1]
                else:
                    entry[1] += 1
            elif len(self._seen) < self._unauthenticated_budget():
                self._seen.add(key)
                self._aggregated[key] = [event, 1]
            else:
                self._over_budget += 1
                if self._over_budget_event is None:
                    self._over_budget_event = event
        self._ensure_thread()

    # -- storing ----------------------------------------------------------------------------

    def _roll(self, minute: int) -> None:
        """Start a new minute's budgets (lock held)."""
        if minute != self._minute:
            self._close_minute()
            self._minute = minute
            self._seen = set()
            self._account_counts = {}

    def _close_minute(self) -> None:
        """Turn the minute's aggregates into rows among the pending events (lock held)."""
        for sample, count in self._account_over.values():
            self._pending.append(_not_recorded_row(sample, count))
        self._account_over = {}
        for event, count in self._aggregated.values():
            if count > 1:
                event = dict(event)
                event["additionalEventData"] = {"aggregatedCount": count}
                event["_count"] = count
            self._pending.append(event)
        self._aggregated = {}
        if self._over_budget and self._over_budget_event is not None:
            self._pending.append(_over_budget_row(self._over_budget_event, self._over_budget))
        self._over_budget = 0
        self._over_budget_event = None

    def _take(self, whole: bool) -> list[Event]:
        """What is pending; the current minute's aggregates only when ``whole`` (else they
        wait for their minute to end, so that each makes one row)."""
        with self._lock:
            if whole or int(self._clock()) // 60 != self._minute:
                self._close_minute()
            events, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            logger.error("dropped %d audit events: the buffer was full", dropped)
        return events

    def _give_back(self, events: list[Event]) -> None:
        with self._lock:
            room = MAX_PENDING - len(self._pending)
            if room < len(events):
                logger.error("dropped %d audit events: storing keeps failing", len(events) - room)
            self._pending[:0] = events[: max(room, 0)]

    def flush(self, *, whole: bool = True) -> None:
        """Store everything recorded so far, in the calling thread; raises if storing fails
        (the events are kept for the next flush). The background flush passes ``whole=False``:
        the current minute's unauthenticated aggregates stay open until it ends."""
        with self._flush_lock:
            events = self._take(whole)
            if not events:
                return
            try:
                self._store(events)
            except BaseException:
                self._give_back(events)
                raise

    def discard(self) -> None:
        """Forget what is pending (tests whose rows are rolled back)."""
        with self._flush_lock:
            self._take(True)

    def _ensure_thread(self) -> None:
        if self._thread is None and self._background:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="functory-audit-flush", daemon=True
                    )
                    self._thread.start()
                    atexit.register(self._flush_at_exit)

    def _run(self) -> None:
        while True:
            time.sleep(self._flush_interval())
            try:
                close_old_connections()
                self.flush(whole=False)
            except Exception:
                logger.exception("storing audit events failed; they are kept for the next flush")

    def _flush_at_exit(self) -> None:
        try:
            close_old_connections()
            self.flush()
        except Exception:
            logger.exception("storing audit events at exit failed")

    def _flush_interval(self) -> float:
        if self._interval is None:
            from django.conf import settings

            self._interval = float(getattr(settings, "FUNCTORY_AUDIT_FLUSH_SECONDS", 2.0))
        return self._interval

    def _per_account_budget(self) -> int:
        if self._account_budget is None:
            from django.conf import settings

            self._account_budget = int(
                getattr(settings, "FUNCTORY_AUDIT_EVENTS_PER_ACCOUNT_PER_MINUTE", 6000)
            )
        return self._account_budget

    def _unauthenticated_budget(self) -> int:
        if self._budget is None:
            from django.conf import settings

            self._budget = int(getattr(settings, "FUNCTORY_AUDIT_UNAUTHENTICATED_PER_MINUTE", 60))
        return self._budget


def _not_recorded_row(sample: Event, count: int) -> Event:
    """The account's row counting its calls past its minute's budget."""
    row = _over_budget_row(sample, count)
    row["eventName"] = "AuditEventsNotRecorded"
    row["recipientAccountId"] = sample.get("recipientAccountId") or ""
    return row


def _over_budget_row(sample: Event, count: int) -> Event:
    """The operator's row counting unauthenticated calls past the minute's budget."""
    return {
        "eventVersion": sample.get("eventVersion"),
        "userIdentity": {"type": "Unknown"},
        "eventTime": sample.get("eventTime"),
        "eventSource": "functory",
        "eventName": "UnauthenticatedCallsNotRecorded",
        "awsRegion": sample.get("awsRegion"),
        "sourceIPAddress": "",
        "userAgent": "",
        "requestParameters": None,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": True,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": "",
        "eventCategory": "Management",
        "additionalEventData": {"aggregatedCount": count},
        "_count": count,
    }


recorder = AuditRecorder()
