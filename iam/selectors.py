"""Reads for accounts, users and access keys."""

from __future__ import annotations

from django.db.models import Q

from awsapi.errors import ResourceNotFound
from awsapi.prepared import PreparedQuery
from iam.models import AccessKey, TemporaryCredential, User

# Every signed call but Invoke's runs it: compiled once (see awsapi.prepared).
_ACTIVE_KEY = PreparedQuery(
    lambda access_key_id: AccessKey.objects.select_related("user", "user__account").filter(
        access_key_id=access_key_id, status=AccessKey.Status.ACTIVE, user__is_active=True
    )[:1],
    kinds=(str,),
)


def access_key_get_active(access_key_id: str) -> AccessKey | None:
    """The active key with this id, with its user and account, or None (read fresh)."""
    return _ACTIVE_KEY.first(access_key_id)


def temporary_credential_get(access_key_id: str) -> TemporaryCredential | None:
    """Temporary credentials by key id (expired ones too: their caller is told so), of an
    active user, or of a function's execution role (a session without a user)."""
    return (
        TemporaryCredential.objects.select_related("user", "user__account", "account", "role")
        .filter(access_key_id=access_key_id)
        .filter(Q(user__is_active=True) | Q(user__isnull=True, role__isnull=False))
        .first()
    )


def users_visible_to(actor: User) -> list[User]:
    """The users whose keys ``actor`` manages: the whole account for an admin, else itself."""
    if not actor.is_staff:
        return [actor]
    return list(User.objects.filter(account_id=actor.account_id).order_by("username"))


def user_get_for_admin(actor: User, username: str) -> User:
    """Another user of the admin ``actor``'s account; anyone else is not found."""
    user = (
        User.objects.filter(account_id=actor.account_id, username=username).first()
        if actor.is_staff
        else None
    )
    if user is None:
        raise ResourceNotFound(f"User {username} does not exist.")
    return user


def access_key_get_for_user(actor: User, access_key_id: str) -> AccessKey:
    """A key ``actor`` may manage: its own, or (an admin) any key of its account's users."""
    keys = AccessKey.objects.select_related("user").filter(access_key_id=access_key_id)
    if actor.is_staff:
        key = keys.filter(user__account_id=actor.account_id).first()
    else:
        key = keys.filter(user=actor).first()
    if key is None:
        raise ResourceNotFound(f"The access key {access_key_id} does not exist.")
    return key
