"""Handing a rule target's retries and dead-letter messages to a worker, by task name, so
:mod:`triggers.rules.delivery` does not import the tasks (which import it)."""

from __future__ import annotations

from typing import Any

from celery import signature

TARGET_RETRY = "triggers.target_retry"
DEAD_LETTER = "triggers.target_dead_letter"


def enqueue_target_retry(payload: dict[str, Any], countdown: float) -> None:
    """Have a worker try the delivery again in ``countdown`` seconds."""
    signature(TARGET_RETRY, args=(payload,)).apply_async(countdown=countdown)


def enqueue_dead_letter(message: dict[str, Any]) -> None:
    """Have a worker send the event to the target's dead-letter queue."""
    signature(DEAD_LETTER, args=(message,)).delay()
