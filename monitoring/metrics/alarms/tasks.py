"""The alarms' periodic task (scheduled by ``CELERY_BEAT_SCHEDULE``); thin over services."""

from __future__ import annotations

from celery import shared_task

from monitoring.metrics.alarms import services

ALARMS_EVALUATE = "monitoring.alarms.evaluate"


@shared_task(name=ALARMS_EVALUATE)
def alarms_evaluate(now: float | None = None) -> int:
    """Evaluate every alarm due (each once a minute; safe on any number of workers)."""
    return services.alarms_evaluate(now)
