"""Closing live-tail sockets whose credentials go away.

A socket is authorised once, on connect; these handlers close it when that authority is
withdrawn later: its user deactivated or deleted, the access key its token came from
deactivated or deleted, or the console session it rode on signed out. The close message
goes out after the change commits (a rolled-back change revokes nothing) through the
channel layer, so it reaches sockets in other processes too (Redis on the scaled profile;
the embedded worker forwards to the server).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from iam.models import AccessKey, User
from monitoring import live


def _revoke_on_commit(groups: list[str]) -> None:
    transaction.on_commit(lambda: live.revoke(groups))


def _user_saved(sender: Any, instance: User, **kwargs: Any) -> None:
    if not instance.is_active:
        _revoke_on_commit([live.user_group(instance.pk)])


def _user_deleted(sender: Any, instance: User, **kwargs: Any) -> None:
    _revoke_on_commit([live.user_group(instance.pk)])


def _key_saved(sender: Any, instance: AccessKey, **kwargs: Any) -> None:
    if instance.status != AccessKey.Status.ACTIVE:
        _revoke_on_commit([live.key_group(instance.access_key_id)])


def _key_deleted(sender: Any, instance: AccessKey, **kwargs: Any) -> None:
    _revoke_on_commit([live.key_group(instance.access_key_id)])


def _logged_out(sender: Any, request: Any, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _revoke_on_commit([live.session_group(session_key)])


def connect() -> None:
    post_save.connect(_user_saved, sender=User, dispatch_uid="live-revoke-user-s")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid="live-revoke-user-d")
    post_save.connect(_key_saved, sender=AccessKey, dispatch_uid="live-revoke-key-s")
    post_delete.connect(_key_deleted, sender=AccessKey, dispatch_uid="live-revoke-key-d")
    user_logged_out.connect(_logged_out, dispatch_uid="live-revoke-logout")
