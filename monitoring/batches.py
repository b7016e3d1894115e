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
    # When the lines were published to live tail before being stored: the random prefix of
    # their keys (``line_key``).
    key_prefix: str | None = None

    def keys(self) -> list[str | None]:
        if self.key_prefix is None:
            return [None] * len(self.events)
        return [line_key(self.key_prefix, offset) for offset in range(len(self.events))]


def line_key(prefix: str, offset: int) -> str:
    """The live-tail key of the line at ``offset`` of a submitted batch."""
    return f"{prefix}.{offset:x}"


@dataclass(frozen=True)
class StoredBatch:
    """What one stream received in a store: for live tail, with the events' ids and, for
    lines published before they were stored, their live-tail keys (parallel to events)."""

    account_id: str
    group: str
    stream: str
    events: list[LogEvent]
    keys: list[str | None] | None = None
