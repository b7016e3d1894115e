"""Periodic metric maintenance (scheduled by ``CELERY_BEAT_SCHEDULE``); thin over services."""

from __future__ import annotations

from celery import shared_task

from monitoring.metrics import services


@shared_task(name="monitoring.metrics.rollup")
def metrics_rollup() -> dict[int, int]:
    """Recompute recent 5-minute and 1-hour points (idempotent)."""
    return services.rollups_run()


@shared_task(name="monitoring.metrics.retention")
def metrics_retention() -> dict[int, int]:
    """Delete points past their resolution's retention (idempotent)."""
    return services.retention_enforce()
