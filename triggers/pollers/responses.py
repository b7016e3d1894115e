"""Reading a function's partial batch response (``ReportBatchItemFailures``), AWS's rules.

The batch succeeds entirely when the function returns null, an object without
``batchItemFailures``, or with it null or empty. It fails entirely when the answer is not
JSON, or an entry's ``itemIdentifier`` is missing (a wrong key name), null, empty, or names
no record of the batch. Otherwise only the named records failed.
"""

from __future__ import annotations

import json
from collections.abc import Collection

# Everything failed (a malformed response).
ALL = None


def failed_items(payload: bytes, identifiers: Collection[str]) -> frozenset[str] | None:
    """The identifiers the response reports as failed; ``None`` when the whole batch counts
    as failed. ``identifiers`` are the batch's own (SQS message ids)."""
    try:
        answer = json.loads(payload) if payload.strip() else None
    except (ValueError, UnicodeDecodeError):
        return ALL
    if answer is None:
        return frozenset()
    if not isinstance(answer, dict):
        return ALL
    failures = answer.get("batchItemFailures")
    if failures is None:
        return frozenset()
    if not isinstance(failures, list):
        return ALL
    failed: set[str] = set()
    for entry in failures:
        if not isinstance(entry, dict):
            return ALL
        identifier = entry.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier or identifier not in identifiers:
            return ALL
        failed.add(identifier)
    return frozenset(failed)
