"""Accounts, users and access keys: who owns resources and who may sign requests; IAM's
groups, roles, managed and inline policies and their attachments; STS's temporary
credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models

_ID_ALPHABET = string.ascii_uppercase + "234567"


def new_iam_id(prefix: str) -> str:
    """A unique id in IAM's form: a four-letter kind (AIDA user, AGPA group, AROA role, ANPA
    policy, ASIA temporary key) and 16 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


class Account(models.Model):
    """An AWS-style account: every resource belongs to exactly one, by its 12-digit id."""

    id = models.CharField(
        primary_key=True,
        max_length=12,
        validators=[RegexValidator(r"^\d{12}$", "An account id is 12 digits.")],
    )
    name = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # Bumped by every IAM change in the account: cached policies are read again when it
    # moved (iam.access.callers).
    iam_revision = models.PositiveBigIntegerField(default=0)

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
    # IAM's UserId ("AIDA" + 16) and path; tags as IAM gives them ({key: value}).
    iam_id = models.CharField(max_length=32, unique=True, default="", blank=True)
    path = models.CharField(max_length=512, default="/")
    tags = models.JSONField(default=dict, blank=True)

    class Meta(AbstractUser.Meta):
        db_table = "console_user"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "username"],
                name="user_name_unique_per_account",
                violation_error_message="A user with that name already exists in this account.",
            )
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.iam_id:
            self.iam_id = new_iam_id("AIDA")
        super().save(*args, **kwargs)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user{self.path}{self.username}"


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


class Group(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="iam_groups")
    name = models.CharField(max_length=128)
    path = models.CharField(max_length=512, default="/")
    group_id = models.CharField(max_length=32, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(User, related_name="iam_groups", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="group_name_unique")
        ]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:group{self.path}{self.name}"


class Role(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=64)
    path = models.CharField(max_length=512, default="/")
    role_id = models.CharField(max_length=32, unique=True)
    assume_role_policy_document = models.TextField()
    description = models.CharField(max_length=1000, blank=True, default="")
    max_session_duration = models.PositiveIntegerField(default=3600)
    tags = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="role_name_unique")]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.path}{self.name}"


class ManagedPolicy(models.Model):
    """A customer managed policy; its documents are its versions (at most five)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=128)
    path = models.CharField(max_length=512, default="/")
    policy_id = models.CharField(max_length=32, unique=True)
    description = models.CharField(max_length=1000, blank=True, default="")
    default_version_id = models.CharField(max_length=16, default="v1")
    # The number the next version gets: IAM never reuses a version id.
    next_version = models.PositiveIntegerField(default=1)
    tags = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="policy_name_unique")
        ]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:policy{self.path}{self.name}"


class PolicyVersion(models.Model):
    policy = models.ForeignKey(ManagedPolicy, on_delete=models.CASCADE, related_name="versions")
    version_id = models.CharField(max_length=16)
    document = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "version_id"], name="policy_version_unique")
        ]


class PolicyAttachment(models.Model):
    """A managed policy (the account's own, or AWS's by ARN) attached to one identity."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="attachments")
    policy_arn = models.CharField(max_length=2048)
    # Set for the account's own policies (None for AWS managed ones, which are not rows).
    policy = models.ForeignKey(
        ManagedPolicy, null=True, on_delete=models.CASCADE, related_name="attachments"
    )
    user = models.ForeignKey(User, null=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, null=True, on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, null=True, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy_arn", "user", "group", "role"], name="attachment_unique"
            )
        ]


class InlinePolicy(models.Model):
    """A policy embedded in one user, group or role, by name."""

    name = models.CharField(max_length=128)
    document = models.TextField()
    user = models.ForeignKey(User, null=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, null=True, on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, null=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "user", "group", "role"], name="inline_policy_unique"
            )
        ]


class TemporaryCredential(models.Model):
    """STS credentials (``ASIA…``): SigV4 accepts them with their session token until they
    expire. Whose permissions they carry: ``role``'s when set (an AssumeRole session, or a
    function's execution role), else ``user``'s (GetSessionToken). ``user`` is who asked for
    them: none for an execution role's session, which Lambda asks for."""

    access_key_id = models.CharField(primary_key=True, max_length=20)
    secret_access_key = models.CharField(max_length=40)
    # SHA-256 of the session token: the token itself is only ever shown to its caller.
    session_token_sha256 = models.CharField(max_length=64)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, null=True, on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, null=True, on_delete=models.CASCADE, related_name="+")
    session_name = models.CharField(max_length=64, blank=True, default="")
    expiration = models.DateTimeField(db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    status = "Active"  # the shape of an AccessKey, for code that checks it

    def token_matches(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        return hmac.compare_digest(digest, self.session_token_sha256)

    @property
    def arn(self) -> str:
        """The caller's ARN while signing with these credentials."""
        role = self.role
        if role is not None:
            return f"arn:aws:sts::{self.account_id}:assumed-role/{role.name}/{self.session_name}"
        assert self.user is not None  # a session without a user is a role's
        return self.user.arn

    @property
    def caller_id(self) -> str:
        role = self.role
        if role is not None:
            return f"{role.role_id}:{self.session_name}"
        assert self.user is not None
        return self.user.iam_id
