"""Celery tasks of rules and schedules: thin callers of :mod:`triggers.rules.scheduler`."""

from __future__ import annotations

from celery import shared_task

from triggers.rules import scheduler

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
