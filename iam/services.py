"""Writes for accounts, users and access keys."""

from __future__ import annotations

import re
import secrets
import string

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from iam.models import AccessKey, Account, User

_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)


def _new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def account_get_or_create(account_id: str | None = None) -> Account:
    """Return the account with this id, creating it; a fresh random id when none is given."""
    if account_id is not None:
        # Checked before any query: PostgreSQL would refuse an over-long id with a DataError.
        if _ACCOUNT_ID.fullmatch(account_id) is None:
            raise ValidationError(f"Invalid account id {account_id!r}: an account id is 12 digits.")
        account, _ = Account.objects.get_or_create(id=account_id)
        return account
    while True:
        try:
            with transaction.atomic():
                return Account.objects.create(id=_new_account_id())
        except IntegrityError:
            continue


def user_create(
    *,
    username: str,
    account: Account,
    password: str | None = None,
    is_admin: bool = False,
) -> User:
    """A user of ``account``; a password must pass ``AUTH_PASSWORD_VALIDATORS`` (its
    errors come under the ``password`` key), none leaves the user unable to sign in."""
    user = User(username=username, account=account, is_staff=is_admin, is_superuser=is_admin)
    if password:
        user_password_validate(user, password)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def user_password_validate(user: User, password: str) -> None:
    """Django's password validators (length, similarity to the user name, common, numeric)
    for every password Functory sets."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def access_key_create(*, user: User) -> AccessKey:
    """Create an active key pair shaped like AWS's (``AKIA`` + 16, 40-char secret)."""
    while True:
        key_id = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        try:
            with transaction.atomic():
                return AccessKey.objects.create(
                    access_key_id=key_id, secret_access_key=secret, user=user
                )
        except IntegrityError:
            continue


def access_key_set_status(*, key: AccessKey, active: bool) -> AccessKey:
    """Activate or deactivate a key; an inactive key signs nothing (the key cache is
    cleared on save)."""
    key.status = AccessKey.Status.ACTIVE if active else AccessKey.Status.INACTIVE
    key.save(update_fields=["status"])
    return key


def access_key_delete(*, key: AccessKey) -> None:
    key.delete()


def user_set_active(*, actor: User, user: User, active: bool) -> User:
    """Let an admin (de)activate another user of the account: an inactive user can neither
    sign in nor sign requests. An admin cannot lock themselves out."""
    if user.pk == actor.pk and not active:
        raise ValidationError("You cannot deactivate yourself.")
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user
