"""Reads for live tail: the group's id within an account, and a backfill page."""

from __future__ import annotations

from typing import Any

from monitoring.models import LogEvent, LogGroup


def log_group_id_for_account(account_id: str, name: str) -> int | None:
    """The id of ``name`` in ``account_id`` only; None if that account has no such group."""
    return (
        LogGroup.objects.filter(account_id=account_id, name=name)
        .values_list("id", flat=True)
        .first()
    )


def events_since(
    group_id: int, since_ms: int | None, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """Stored events of a group from ``since_ms`` (inclusive) and after ``after_id``."""
    rows = LogEvent.objects.filter(group_id=group_id)
    if since_ms is not None:
        rows = rows.filter(timestamp__gte=since_ms)
    if after_id:
        rows = rows.filter(id__gt=after_id)
    return [
        {
            "id": row["id"],
            "timestamp": row["timestamp"],
            "ingestionTime": row["ingestion_time"],
            "stream": row["stream__name"],
            "message": row["message"],
        }
        for row in rows.order_by("timestamp", "id").values(
            "id", "timestamp", "ingestion_time", "stream__name", "message"
        )[:limit]
    ]
