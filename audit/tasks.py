"""Periodic audit tasks (celery beat, see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from audit import services


@shared_task(name="audit.events_expire")
def events_expire() -> int:
    """Forget events past ``FUNCTORY_AUDIT_RETENTION_DAYS``; idempotent."""
    return services.events_expire()
