"""Periodic IAM tasks (celery beat, see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from iam import sts


@shared_task(name="iam.temporary_credentials_expire")
def temporary_credentials_expire() -> int:
    """Forget expired STS credentials (AssumeRole, GetSessionToken and functions' execution
    role sessions); idempotent."""
    return sts.expired_credentials_delete()
