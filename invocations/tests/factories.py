"""Database rows for fast (non-live) tests of asynchronous invocations."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from iam.models import Account
from invocations.models import AsyncInvocation


def async_invocation_row(
    account: Account, function_name: str = "fn", **fields: Any
) -> AsyncInvocation:
    """An asynchronous invocation as the Invoke API stores it (queued, due now); ``fields``
    override any column (status, attempts, created, last_error, ...)."""
    now = timezone.now()
    values: dict[str, Any] = {
        "account": account,
        "function_name": function_name,
        "payload": b"{}",
        "request_id": str(uuid.uuid4()),
        "next_attempt_at": now,
        "created": now,
    }
    values.update(fields)
    return AsyncInvocation.objects.create(**values)
