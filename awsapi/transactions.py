"""Transaction settings shared by the apps."""

from __future__ import annotations

from django.db import connection


def commit_without_waiting_for_disk() -> None:
    """PostgreSQL: this transaction's commit doesn't wait for its WAL to reach the disk.

    For writes a database crash may take back: executor log batches (a crash can cost the
    lines of its last moments) and asynchronous-invocation claims (the event is claimed
    again). Any later ordinary commit flushes the WAL up to itself, so an attempt marked
    done still implies its claim and log lines are on disk.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
