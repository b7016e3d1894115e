"""Reads for accounts, users and access keys."""

from __future__ import annotations

from console.models import AccessKey


def access_key_get_active(access_key_id: str) -> AccessKey | None:
    """The active key with this id, with its user and account, or None."""
    return (
        AccessKey.objects.select_related("user", "user__account")
        .filter(access_key_id=access_key_id, status=AccessKey.Status.ACTIVE, user__is_active=True)
        .first()
    )
