"""Accounts, users and access keys: who owns resources and who may sign requests."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models


class Account(models.Model):
    """An AWS-style account: every resource belongs to exactly one, by its 12-digit id."""

    id = models.CharField(
        primary_key=True,
        max_length=12,
        validators=[RegexValidator(r"^\d{12}$", "An account id is 12 digits.")],
    )
    name = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "console_account"  # created by the console app, before iam existed

    def __str__(self) -> str:
        return self.id


class User(AbstractUser):
    """A person or tool inside one account: console password and access keys.

    User names are unique per account, as IAM's are: ``bob`` in one account says nothing
    about a ``bob`` in another (sign-in takes ``<account id>/<name>``, see console.auth).
    """

    username = models.CharField(
        max_length=150,
        validators=[AbstractUser.username_validator],
        help_text="Letters, digits and @/./+/-/_ only; unique within the account.",
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="users")

    class Meta(AbstractUser.Meta):
        db_table = "console_user"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "username"],
                name="user_name_unique_per_account",
                violation_error_message="A user with that name already exists in this account.",
            )
        ]


class AccessKey(models.Model):
    """An access key pair for SigV4-signed API requests.

    The secret is kept because verifying a SigV4 signature needs the same HMAC key the
    client used; it is shown to the user once, at creation.
    """

    class Status(models.TextChoices):
        ACTIVE = "Active"
        INACTIVE = "Inactive"

    access_key_id = models.CharField(primary_key=True, max_length=20)
    secret_access_key = models.CharField(max_length=40)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_keys")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "console_accesskey"

    def __str__(self) -> str:
        return self.access_key_id
