"""IAM's identities and policies: reads and writes for users (IAM's view of them), groups,
roles, customer managed policies and their versions, attachments and inline policies, with
IAM's errors and quotas. Every document is checked by ``iam.policy`` for its kind.

Names are looked up within one account (the caller's) and, as IAM does, without regard to
case when checking for a duplicate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from awsapi.errors import AWSError
from iam import services
from iam.models import (
    AccessKey,
    Account,
    Group,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
    Role,
    User,
    new_iam_id,
)
from iam.policy import Policy, PolicyError, PolicyKind, parse_policy, policy_size
from iam.policy.document import SIZE_LIMITS
from iam.policy.managed import AWS_POLICY_PREFIX, BY_ARN
from iam.policy.managed import ManagedPolicy as AwsPolicy

# IAM's default quotas.
MAX_USERS = 5_000
MAX_GROUPS = 300
MAX_ROLES = 1_000
MAX_POLICIES = 1_500
MAX_GROUPS_PER_USER = 10
MAX_ATTACHED = 10
MAX_VERSIONS = 5
MAX_ACCESS_KEYS = 2
MAX_TAGS = 50
MAX_OFFSET = 10_000_000
AWS_POLICY_CREATED = dt.datetime(2015, 2, 6, 18, 40, 58, tzinfo=dt.UTC)


class IamError(AWSError):
    status = 400


class NoSuchEntity(IamError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(IamError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(IamError):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(IamError):
    code = "LimitExceeded"
    status = 409


class InvalidInput(IamError):
    code = "InvalidInput"


class MalformedPolicyDocument(IamError):
    code = "MalformedPolicyDocument"


def checked_policy(text: str, kind: PolicyKind, owner: str = "", source: str = "") -> Policy:
    """The parsed document, or IAM's error for it."""
    try:
        return parse_policy(text, kind, owner=owner, source=source)
    except PolicyError as exc:
        if exc.code == "LimitExceeded":
            raise LimitExceeded(exc.message) from None
        raise MalformedPolicyDocument(exc.message) from None


# ---- paging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Any]
    marker: str | None

    def fields(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = {key: self.items, "IsTruncated": self.marker is not None}
        if self.marker is not None:
            result["Marker"] = self.marker
        return result


def _offset(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(marker.encode("ascii")).decode("ascii"))
    except (ValueError, UnicodeError):
        raise InvalidInput("Invalid Marker.") from None
    # Past every quota's end: a marker we did not make (and a database's OFFSET overflows).
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("Invalid Marker.")
    return offset


def page(items: QuerySet[Any] | Sequence[Any], params: dict[str, Any]) -> Page:
    """One page of ``items`` as IAM pages (Marker, MaxItems 1-1000, 100 by default)."""
    start = _offset(params.get("Marker"))
    size = params.get("MaxItems") or 100
    chunk = list(items[start : start + size + 1])
    if len(chunk) > size:
        marker = base64.urlsafe_b64encode(str(start + size).encode()).decode("ascii")
        return Page(chunk[:size], marker)
    return Page(chunk, None)


# ---- users ----------------------------------------------------------------------------


def user_get(account: Account, name: str) -> User:
    user = User.objects.filter(account=account, username=name).first()
    if user is None:
        raise NoSuchEntity(f"The user with name {name} cannot be found.")
    return user


def users_list(account: Account, path_prefix: str = "/") -> QuerySet[User]:
    return User.objects.filter(account=account, path__startswith=path_prefix).order_by("username")


_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_text_ok(text: str) -> bool:
    r"""IAM's tag pattern ``[\p{L}\p{Z}\p{N}_.:/=+\-@]*`` (Java classes Python's ``re`` lacks):
    letters, separators, numbers and a few marks; never a control character."""
    return all(char in _TAG_PUNCTUATION or unicodedata.category(char)[0] in "LZN" for char in text)


def _tags(tags: Sequence[dict[str, str]] | None) -> dict[str, str]:
    for index, tag in enumerate(tags or (), start=1):
        for member in ("Key", "Value"):
            text = tag.get(member, "")
            if not _tag_text_ok(text):
                raise IamError(
                    f"1 validation error detected: Value '{text[:256]}' at "
                    f"'tags.{index}.member.{member.lower()}' failed to satisfy constraint: "
                    r"Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*",
                    code="ValidationError",
                )
    result = {tag["Key"]: tag.get("Value", "") for tag in tags or ()}
    if len(result) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerEntity: {MAX_TAGS}")
    return result


def _merge_tags(current: dict[str, str], tags: Sequence[dict[str, str]]) -> dict[str, str]:
    merged = dict(current)
    merged.update(_tags(tags))
    if len(merged) > MAX_TAGS:
        raise LimitExceeded("The number of tags has reached the maximum limit.")
    return merged


def user_create(
    account: Account, name: str, path: str = "/", tags: Sequence[dict[str, str]] | None = None
) -> User:
    with transaction.atomic():
        if User.objects.filter(account=account, username__iexact=name).exists():
            raise EntityAlreadyExists(f"User with name {name} already exists.")
        if User.objects.filter(account=account).count() >= MAX_USERS:
            raise LimitExceeded(f"Cannot exceed quota for UsersPerAccount: {MAX_USERS}")
        user = User(username=name, account=account, path=path, tags=_tags(tags))
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise EntityAlreadyExists(f"User with name {name} already exists.") from None
    return user


class PasswordPolicyViolation(IamError):
    code = "PasswordPolicyViolation"


def login_profile_set(user: User, password: str | None, *, create: bool) -> None:
    """A console password (IAM's login profile), checked by the account's password policy
    (Django's validators, as the console's own forms check it)."""
    if create and user.has_usable_password():
        raise EntityAlreadyExists(f"Login Profile for user {user.username} already exists.")
    if not create and not user.has_usable_password():
        raise NoSuchEntity(f"Login Profile for User {user.username} cannot be found.")
    if password is None:
        if create:
            raise InvalidInput("A password is required to create a login profile.")
        return
    try:
        services.user_password_validate(user, password)
    except DjangoValidationError as exc:
        raise PasswordPolicyViolation(
            "Password does not conform to the account password policy: " + " ".join(exc.messages)
        ) from None
    user.set_password(password)
    user.save(update_fields=["password"])


def login_profile_get(user: User) -> User:
    if not user.has_usable_password():
        raise NoSuchEntity(f"Login Profile for User {user.username} cannot be found.")
    return user


def login_profile_delete(user: User) -> None:
    login_profile_get(user)
    user.set_unusable_password()
    user.save(update_fields=["password"])


def user_delete(actor: User, user: User) -> None:
    """IAM refuses to delete a user that still has keys, groups, policies or a password."""
    if user.has_usable_password():
        raise DeleteConflict("Cannot delete entity, must delete login profile first.")
    if user.access_keys.exists():
        raise DeleteConflict("Cannot delete entity, must delete access keys first.")
    if user.iam_groups.exists():
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    if PolicyAttachment.objects.filter(user=user).exists():
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if InlinePolicy.objects.filter(user=user).exists():
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if user.pk == actor.pk:
        # Not IAM's rule: here the caller is the account's admin (its root), who must not
        # lock the account out by deleting itself through a session.
        raise DeleteConflict("Cannot delete entity, you cannot delete yourself.")
    user.delete()


def entity_tag(entity: User | Role, tags: Sequence[dict[str, str]]) -> None:
    entity.tags = _merge_tags(entity.tags, tags)
    entity.save(update_fields=["tags"])


def entity_untag(entity: User | Role, keys: Iterable[str]) -> None:
    removed = set(keys)
    entity.tags = {key: value for key, value in entity.tags.items() if key not in removed}
    entity.save(update_fields=["tags"])


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


# ---- access keys ----------------------------------------------------------------------


def access_key_create(user: User) -> AccessKey:
    if user.access_keys.count() >= MAX_ACCESS_KEYS:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}")
    return services.access_key_create(user=user)


def access_key_get(user: User, access_key_id: str) -> AccessKey:
    key = user.access_keys.filter(access_key_id=access_key_id).first()
    if key is None:
        raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
    return key


# ---- groups ---------------------------------------------------------------------------


def group_get(account: Account, name: str) -> Group:
    group = Group.objects.filter(account=account, name=name).first()
    if group is None:
        raise NoSuchEntity(f"The group with name {name} cannot be found.")
    return group


def group_create(account: Account, name: str, path: str = "/") -> Group:
    with transaction.atomic():
        if Group.objects.filter(account=account, name__iexact=name).exists():
            raise EntityAlreadyExists(f"Group with name {name} already exists.")
        if Group.objects.filter(account=account).count() >= MAX_GROUPS:
            raise LimitExceeded(f"Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS}")
        try:
            with transaction.atomic():
                return Group.objects.create(
                    account=account, name=name, path=path, group_id=new_iam_id("AGPA")
                )
        except IntegrityError:
            raise EntityAlreadyExists(f"Group with name {name} already exists.") from None


def group_delete(group: Group) -> None:
    if group.members.exists():
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    if PolicyAttachment.objects.filter(group=group).exists():
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if InlinePolicy.objects.filter(group=group).exists():
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    group.delete()


def group_add_user(group: Group, user: User) -> None:
    if group.members.filter(pk=user.pk).exists():
        return
    if user.iam_groups.count() >= MAX_GROUPS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
    group.members.add(user)


def group_remove_user(group: Group, user: User) -> None:
    if not group.members.filter(pk=user.pk).exists():
        raise NoSuchEntity(
            f"The user with name {user.username} cannot be found in group {group.name}."
        )
    group.members.remove(user)


# ---- roles ----------------------------------------------------------------------------


def role_get(account: Account, name: str) -> Role:
    role = Role.objects.filter(account=account, name=name).first()
    if role is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.")
    return role


def role_create(
    account: Account,
    name: str,
    trust_policy: str,
    *,
    path: str = "/",
    description: str = "",
    max_session_duration: int = 3600,
    tags: Sequence[dict[str, str]] | None = None,
) -> Role:
    checked_policy(trust_policy, PolicyKind.TRUST, owner=name)
    with transaction.atomic():
        if Role.objects.filter(account=account, name__iexact=name).exists():
            raise EntityAlreadyExists(f"Role with name {name} already exists.")
        if Role.objects.filter(account=account).count() >= MAX_ROLES:
            raise LimitExceeded(f"Cannot exceed quota for RolesPerAccount: {MAX_ROLES}")
        try:
            with transaction.atomic():
                return Role.objects.create(
                    account=account,
                    name=name,
                    path=path,
                    role_id=new_iam_id("AROA"),
                    assume_role_policy_document=trust_policy,
                    description=description,
                    max_session_duration=max_session_duration,
                    tags=_tags(tags),
                )
        except IntegrityError:
            raise EntityAlreadyExists(f"Role with name {name} already exists.") from None


def role_update_trust(role: Role, trust_policy: str) -> None:
    checked_policy(trust_policy, PolicyKind.TRUST, owner=role.name)
    role.assume_role_policy_document = trust_policy
    role.save(update_fields=["assume_role_policy_document"])


def role_update(role: Role, description: str | None, max_session_duration: int | None) -> None:
    if description is not None:
        role.description = description
    if max_session_duration is not None:
        role.max_session_duration = max_session_duration
    role.save(update_fields=["description", "max_session_duration"])


def role_delete(role: Role) -> None:
    if PolicyAttachment.objects.filter(role=role).exists():
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if InlinePolicy.objects.filter(role=role).exists():
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    role.delete()


# ---- inline policies --------------------------------------------------------------------

Identity = User | Group | Role
_KIND = {User: PolicyKind.USER_INLINE, Group: PolicyKind.GROUP_INLINE, Role: PolicyKind.ROLE_INLINE}


def _owner_filter(identity: Identity) -> dict[str, Any]:
    if isinstance(identity, User):
        return {"user": identity}
    if isinstance(identity, Group):
        return {"group": identity}
    return {"role": identity}


def _identity_name(identity: Identity) -> str:
    return identity.username if isinstance(identity, User) else identity.name


def _identity_word(identity: Identity) -> str:
    return _KIND[type(identity)].value


def inline_put(identity: Identity, name: str, document: str) -> None:
    """Store (or replace) an inline policy; all of an identity's inline policies together
    must fit IAM's size quota for its kind."""
    kind = _KIND[type(identity)]
    owner = _identity_name(identity)
    checked_policy(document, kind, owner=owner)
    others = InlinePolicy.objects.filter(**_owner_filter(identity)).exclude(name=name)
    total = policy_size(document) + sum(
        policy_size(text) for text in others.values_list("document", flat=True)
    )
    if total > SIZE_LIMITS[kind]:
        raise LimitExceeded(
            f"Maximum policy size of {SIZE_LIMITS[kind]} bytes exceeded for {kind.value} {owner}"
        )
    InlinePolicy.objects.update_or_create(
        name=name, **_owner_filter(identity), defaults={"document": document}
    )


def inline_get(identity: Identity, name: str) -> InlinePolicy:
    found = InlinePolicy.objects.filter(name=name, **_owner_filter(identity)).first()
    if found is None:
        raise NoSuchEntity(
            f"The {_identity_word(identity)} policy with name {name} cannot be found."
        )
    return found


def inline_names(identity: Identity) -> QuerySet[InlinePolicy]:
    return InlinePolicy.objects.filter(**_owner_filter(identity)).order_by("name")


# ---- managed policies -----------------------------------------------------------------


def aws_policy_id(arn: str) -> str:
    """A stable id for an AWS managed policy (the same in every account)."""
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return "ANPA" + digest[:16]


def policy_create(
    account: Account,
    name: str,
    document: str,
    *,
    path: str = "/",
    description: str = "",
    tags: Sequence[dict[str, str]] | None = None,
) -> ManagedPolicy:
    checked_policy(document, PolicyKind.MANAGED)
    with transaction.atomic():
        if ManagedPolicy.objects.filter(account=account, name__iexact=name).exists():
            raise EntityAlreadyExists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            )
        if ManagedPolicy.objects.filter(account=account).count() >= MAX_POLICIES:
            raise LimitExceeded(f"Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES}")
        try:
            with transaction.atomic():
                policy = ManagedPolicy.objects.create(
                    account=account,
                    name=name,
                    path=path,
                    policy_id=new_iam_id("ANPA"),
                    description=description,
                    default_version_id="v1",
                    next_version=2,
                    tags=_tags(tags),
                )
        except IntegrityError:
            raise EntityAlreadyExists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            ) from None
        PolicyVersion.objects.create(policy=policy, version_id="v1", document=document)
    return policy


def _not_found(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")


def policy_get(account: Account, arn: str) -> ManagedPolicy:
    """The account's own policy with this ARN (its path included)."""
    prefix = f"arn:aws:iam::{account.id}:policy/"
    if not arn.startswith(prefix):
        raise _not_found(arn)
    rest = arn[len(prefix) - 1 :]
    path, _, name = rest.rpartition("/")
    policy = ManagedPolicy.objects.filter(account=account, name=name, path=path + "/").first()
    if policy is None:
        raise _not_found(arn)
    return policy


def aws_policy_get(arn: str) -> AwsPolicy:
    found = BY_ARN.get(arn)
    if found is None:
        raise _not_found(arn)
    return found


def is_aws_policy(arn: str) -> bool:
    return arn.startswith(AWS_POLICY_PREFIX)


def policy_delete(policy: ManagedPolicy) -> None:
    if policy.attachments.exists():
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    if policy.versions.count() > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must "
            "delete the policy's versions. The default version is deleted with the policy."
        )
    policy.delete()


def version_create(policy: ManagedPolicy, document: str, set_default: bool) -> PolicyVersion:
    checked_policy(document, PolicyKind.MANAGED)
    with transaction.atomic():
        locked = ManagedPolicy.objects.select_for_update().get(pk=policy.pk)
        if locked.versions.count() >= MAX_VERSIONS:
            raise LimitExceeded(
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create "
                "a new version, you must delete an existing version."
            )
        version_id = f"v{locked.next_version}"
        version = PolicyVersion.objects.create(
            policy=locked, version_id=version_id, document=document
        )
        locked.next_version += 1
        if set_default:
            locked.default_version_id = version_id
        locked.save(update_fields=["next_version", "default_version_id", "updated"])
    policy.refresh_from_db()
    return version


def version_get(policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    version = policy.versions.filter(version_id=version_id).first()
    if version is None:
        raise NoSuchEntity(f"Policy {policy.arn} version {version_id} does not exist.")
    return version


def version_delete(policy: ManagedPolicy, version_id: str) -> None:
    version = version_get(policy, version_id)
    if version_id == policy.default_version_id:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    version.delete()


def version_set_default(policy: ManagedPolicy, version_id: str) -> None:
    version_get(policy, version_id)
    policy.default_version_id = version_id
    policy.save(update_fields=["default_version_id", "updated"])


# ---- attachments ------------------------------------------------------------------------


def _attachable(account: Account, arn: str) -> ManagedPolicy | None:
    """The account's policy row for ``arn`` (None for an AWS managed one); not found if
    neither exists."""
    if is_aws_policy(arn):
        aws_policy_get(arn)
        return None
    return policy_get(account, arn)


def attach(identity: Identity, arn: str) -> None:
    account = identity.account
    policy = _attachable(account, arn)
    owner = _owner_filter(identity)
    existing = PolicyAttachment.objects.filter(**owner)
    if existing.filter(policy_arn=arn).exists():
        return
    if existing.count() >= MAX_ATTACHED:
        kind = type(identity).__name__
        raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{kind}: {MAX_ATTACHED}")
    PolicyAttachment.objects.create(account=account, policy_arn=arn, policy=policy, **owner)


def detach(identity: Identity, arn: str) -> None:
    deleted, _ = PolicyAttachment.objects.filter(policy_arn=arn, **_owner_filter(identity)).delete()
    if not deleted:
        raise NoSuchEntity(f"Policy {arn} was not found.")


def attached(identity: Identity, path_prefix: str = "/") -> list[dict[str, str]]:
    result = []
    for arn in (
        PolicyAttachment.objects.filter(**_owner_filter(identity))
        .order_by("policy_arn")
        .values_list("policy_arn", flat=True)
    ):
        name = arn.rpartition("/")[2]
        path = "/" + arn.split(":", 5)[5].partition("/")[2].rpartition("/")[0]
        path = path.rstrip("/") + "/"
        if path.startswith(path_prefix):
            result.append({"PolicyName": name, "PolicyArn": arn})
    return result


def attachment_count(account_id: str, arn: str) -> int:
    return PolicyAttachment.objects.filter(account_id=account_id, policy_arn=arn).count()


def attachment_counts(account_id: str) -> dict[str, int]:
    """How many identities each managed policy is attached to, in one query."""
    rows = (
        PolicyAttachment.objects.filter(account_id=account_id)
        .values("policy_arn")
        .annotate(count=Count("id"))
    )
    return {row["policy_arn"]: row["count"] for row in rows}


def entities_for_policy(account: Account, arn: str) -> dict[str, list[dict[str, str]]]:
    _attachable(account, arn)
    rows = PolicyAttachment.objects.filter(account=account, policy_arn=arn).select_related(
        "user", "group", "role"
    )
    users, groups, roles = [], [], []
    for row in rows:
        if row.user is not None:
            users.append({"UserName": row.user.username, "UserId": row.user.iam_id})
        elif row.group is not None:
            groups.append({"GroupName": row.group.name, "GroupId": row.group.group_id})
        elif row.role is not None:
            roles.append({"RoleName": row.role.name, "RoleId": row.role.role_id})
    return {"PolicyUsers": users, "PolicyGroups": groups, "PolicyRoles": roles}


# ---- the policies that apply to an identity ------------------------------------------------


def _attached_policies(account: Account, query: Q) -> list[Policy]:
    found: list[Policy] = []
    rows = PolicyAttachment.objects.filter(query).select_related("policy")
    for row in rows:
        if row.policy is None:
            aws = BY_ARN.get(row.policy_arn)
            if aws is not None:
                found.append(
                    parse_policy(
                        aws.document,
                        PolicyKind.MANAGED,
                        source=f"aws-managed|{aws.name}",
                        check_size=False,
                    )
                )
            continue
        version = row.policy.versions.filter(version_id=row.policy.default_version_id).first()
        if version is not None:
            found.append(
                parse_policy(
                    version.document,
                    PolicyKind.MANAGED,
                    source=f"user-managed|{row.policy.name}",
                    check_size=False,
                )
            )
    return found


def _inline_policies(query: Q, kind: str) -> list[Policy]:
    return [
        parse_policy(
            row.document, _KIND_BY_WORD[kind], source=f"{kind}|{row.name}", check_size=False
        )
        for row in InlinePolicy.objects.filter(query).order_by("name")
    ]


_KIND_BY_WORD = {
    "user": PolicyKind.USER_INLINE,
    "group": PolicyKind.GROUP_INLINE,
    "role": PolicyKind.ROLE_INLINE,
}


def identity_policies(identity: Identity) -> list[Policy]:
    """Every identity-based policy that applies to ``identity``: its inline and attached
    policies, and for a user those of its groups."""
    account = identity.account
    if isinstance(identity, User):
        groups = list(identity.iam_groups.all())
        return [
            *_inline_policies(Q(user=identity), "user"),
            *_inline_policies(Q(group__in=groups), "group"),
            *_attached_policies(account, Q(user=identity) | Q(group__in=groups)),
        ]
    if isinstance(identity, Group):
        return [
            *_inline_policies(Q(group=identity), "group"),
            *_attached_policies(account, Q(group=identity)),
        ]
    return [
        *_inline_policies(Q(role=identity), "role"),
        *_attached_policies(account, Q(role=identity)),
    ]


def identity_by_arn(account: Account, arn: str) -> Identity:
    """The user, group or role an ARN of this account names (its path included)."""
    prefix = f"arn:aws:iam::{account.id}:"
    kind, _, rest = arn.removeprefix(prefix).partition("/")
    name = rest.rpartition("/")[2]
    if arn.startswith(prefix) and name:
        if kind == "user":
            user = User.objects.filter(account=account, username=name).first()
            if user is not None:
                return user
        elif kind == "group":
            group = Group.objects.filter(account=account, name=name).first()
            if group is not None:
                return group
        elif kind == "role":
            role = Role.objects.filter(account=account, name=name).first()
            if role is not None:
                return role
    raise InvalidInput(f"Invalid Entity Arn: {arn} does not clearly define entity type and name.")


# ---- deleting with everything attached (as the AWS console deletes) ---------------------


def user_delete_with_dependents(actor: User, user: User) -> None:
    """Delete ``user`` the way the AWS console does: its console password, access keys,
    group memberships, attached and inline policies first, then the user by IAM's own
    :func:`user_delete` (which still refuses the caller itself). All or nothing."""
    with transaction.atomic():
        if user.pk == actor.pk:
            raise DeleteConflict("Cannot delete entity, you cannot delete yourself.")
        if user.has_usable_password():
            login_profile_delete(user)
        user.access_keys.all().delete()
        user.iam_groups.clear()
        PolicyAttachment.objects.filter(user=user).delete()
        InlinePolicy.objects.filter(user=user).delete()
        user_delete(actor, user)


def group_delete_with_dependents(group: Group) -> None:
    """Delete ``group`` after removing its members and policies (the AWS console's delete)."""
    with transaction.atomic():
        group.members.clear()
        PolicyAttachment.objects.filter(group=group).delete()
        InlinePolicy.objects.filter(group=group).delete()
        group_delete(group)


def role_delete_with_dependents(role: Role) -> None:
    """Delete ``role`` after detaching and deleting its policies (the AWS console's delete)."""
    with transaction.atomic():
        PolicyAttachment.objects.filter(role=role).delete()
        InlinePolicy.objects.filter(role=role).delete()
        role_delete(role)


def policy_delete_with_dependents(policy: ManagedPolicy) -> None:
    """Delete a customer managed policy after detaching it from every identity and deleting
    its other versions (the AWS console's delete)."""
    with transaction.atomic():
        policy.attachments.all().delete()
        policy.versions.exclude(version_id=policy.default_version_id).delete()
        policy_delete(policy)


def policy_get_by_name(account: Account, name: str) -> ManagedPolicy:
    """The account's customer managed policy called ``name`` (names are unique in an
    account, whatever the path)."""
    policy = ManagedPolicy.objects.filter(account=account, name=name).first()
    if policy is None:
        raise NoSuchEntity(f"Policy {name} does not exist or is not attachable.")
    return policy
