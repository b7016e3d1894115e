"""Celery tasks of rules and schedules: thin callers of :mod:`triggers.rules.scheduler` and
:mod:`triggers.rules.delivery` (a target's delivery retries and dead-letter messages)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from triggers.rules import delivery, scheduler
from triggers.rules.taskqueue import DEAD_LETTER, TARGET_RETRY

SCHEDULES_FIRE = "triggers.schedules_fire"
FIRINGS_EXPIRE = "triggers.firings_expire"


@shared_task(name=SCHEDULES_FIRE)
def schedules_fire() -> int:
    """Fire the scheduled rules that are due (periodic; safe on any number of hosts)."""
    return scheduler.schedules_fire()


@shared_task(name=FIRINGS_EXPIRE)
def firings_expire() -> int:
    """Delete scheduled rules' firings past their retention (periodic)."""
    return scheduler.firings_expire()


@shared_task(name=TARGET_RETRY)
def target_retry(payload: dict[str, Any]) -> int:
    """Try a throttled delivery to a rule's target again; returns how many got the event.
    The payload (the event, at most 256 KB, and ids) is the retry's whole state."""
    return delivery.retry(payload).delivered


@shared_task(name=DEAD_LETTER)
def target_dead_letter(message: dict[str, Any]) -> bool:
    """Send an event a target never got to the target's dead-letter queue."""
    return delivery.dead_letter_send(message)
