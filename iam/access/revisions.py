"""The account's IAM revision: bumped by every change that can change a decision (a policy,
a version, an attachment, an inline policy, a group's members, a user's or role's tags or
admin flag, a removed identity), so cached policies are read again (``callers``)."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from iam.access import callers
from iam.models import (
    Account,
    Group,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
    Role,
    User,
)


def bump(account_id: str | None) -> None:
    """A new revision of the account's IAM, and this process's cache of it emptied now."""
    if not account_id:
        callers.policies.clear()
        return
    callers.policies.forget(account_id)
    Account.objects.filter(id=account_id).update(iam_revision=F("iam_revision") + 1)


def _account_of(instance: Any) -> str | None:
    if isinstance(instance, PolicyVersion):
        policies = ManagedPolicy.objects.filter(pk=instance.policy_id)
        found = policies.values_list("account_id", flat=True).first()
        return None if found is None else str(found)
    if isinstance(instance, InlinePolicy):
        owner = instance.user or instance.group or instance.role
        return None if owner is None else str(owner.account_id)
    account_id = getattr(instance, "account_id", None)
    return None if account_id is None else str(account_id)


def changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    bump(_account_of(instance))


def members_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_"):
        bump(_account_of(instance))


WATCHED = (User, Group, Role, ManagedPolicy, PolicyVersion, PolicyAttachment, InlinePolicy)


def connect() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    for model in WATCHED:
        name = model.__name__
        post_save.connect(changed, sender=model, dispatch_uid=f"iam-revision-{name}-s")
        post_delete.connect(changed, sender=model, dispatch_uid=f"iam-revision-{name}-d")
    m2m_changed.connect(
        members_changed, sender=Group.members.through, dispatch_uid="iam-revision-members"
    )
