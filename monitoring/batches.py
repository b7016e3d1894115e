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


@dataclass(frozen=True)
class StoredBatch:
    """What one stream received in a store: for live tail, with the events' ids."""

    account_id: str
    group: str
    stream: str
    events: list[LogEvent]
