"""Celery tasks for logs: thin callers of :mod:`monitoring.services`."""

from __future__ import annotations

from celery import shared_task

from monitoring import services
from monitoring.traces import services as trace_services


@shared_task(name="monitoring.tasks.log_events_expire")
def log_events_expire() -> int:
    """Delete events past their group's retention (periodic; safe to run twice)."""
    return services.log_events_expire()


@shared_task(name="monitoring.tasks.traces_expire")
def traces_expire() -> int:
    """Delete trace segments past X-Ray's 30 days or their account's cap (periodic)."""
    return trace_services.traces_expire()
