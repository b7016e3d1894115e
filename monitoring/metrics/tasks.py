"""Periodic metric maintenance (scheduled by ``CELERY_BEAT_SCHEDULE``); thin over services."""

from __future__ import annotations

from celery import shared_task

from monitoring.metrics import custom_services, services


def _added(first: dict[int, int], second: dict[int, int]) -> dict[int, int]:
    return {key: first.get(key, 0) + second.get(key, 0) for key in first.keys() | second.keys()}


@shared_task(name="monitoring.metrics.rollup")
def metrics_rollup() -> dict[int, int]:
    """Recompute recent 5-minute and 1-hour points, Lambda's and custom (idempotent)."""
    return _added(services.rollups_run(), custom_services.custom_rollups_run())


@shared_task(name="monitoring.metrics.retention")
def metrics_retention() -> dict[int, int]:
    """Delete points past their resolution's retention (idempotent)."""
    return _added(services.retention_enforce(), custom_services.custom_retention_enforce())
