"""The log batches that flow from the executor into the store and from the store to live tail.

Their own module so the store (``services``) and the live-tail publisher (``live``) share them
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitoring.models import LogEvent


@dataclass(frozen=True)
class LogBatch:
    account_id: str
    group: str
    stream: str
    events: list[tuple[int, str]]  # (timestamp ms, message)
    # The live-tail key of the first event (``live.line_key``; the others follow on), when
    # the lines were published to live tail before being stored.
    first_key: int | None = None

    def keys(self) -> list[int | None]:
        if self.first_key is None:
            return [None] * len(self.events)
        return list(range(self.first_key, self.first_key + len(self.events)))


@dataclass(frozen=True)
class StoredBatch:
    """What one stream received in a store: for live tail, with the events' ids and, for
    lines published before they were stored, their live-tail keys (parallel to events)."""

    account_id: str
    group: str
    stream: str
    events: list[LogEvent]
    keys: list[int | None] | None = None
