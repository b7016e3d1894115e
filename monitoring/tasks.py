"""Celery tasks for logs: thin callers of :mod:`monitoring.services`."""

from __future__ import annotations

from celery import shared_task

from monitoring import services


@shared_task(name="monitoring.tasks.log_events_expire")
def log_events_expire() -> int:
    """Delete events past their group's retention (periodic; safe to run twice)."""
    return services.log_events_expire()
