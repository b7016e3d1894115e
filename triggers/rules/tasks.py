"""Celery tasks of rules and schedules: thin callers of :mod:`triggers.rules.scheduler`."""

from __future__ import annotations

from celery import shared_task

from triggers.rules import scheduler

SCHEDULES_FIRE = "triggers.schedules_fire"


@shared_task(name=SCHEDULES_FIRE)
def schedules_fire() -> int:
    """Fire the scheduled rules that are due (periodic; safe on any number of hosts)."""
    return scheduler.schedules_fire()
