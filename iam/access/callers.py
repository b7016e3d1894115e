"""Who is calling, as IAM sees them: the principal and the identity-based policies that
apply to it, cached per identity and the account's IAM revision.

The policies of an identity are read and parsed once, then served from this process's
cache. Every IAM change (a policy, attachment, group membership, role, user) bumps the
account's ``iam_revision`` and empties this process's cache at once; another process sees
it when its entry is next checked, at most ``FUNCTORY_ACCESS_KEY_CACHE_SECONDS`` later (the
same window as a deactivated access key).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from iam import entities
from iam.models import Account, Role, TemporaryCredential, User
from iam.policy import Policy, Principal

Credential = Any  # an AccessKey or a TemporaryCredential (iam.authentication.Credential)


@dataclass(frozen=True)
class Caller:
    """The principal of a call, the identity-based policies that apply to it, and whether
    it is an account's root (its admin: no identity-based policy needed in its account)."""

    principal: Principal
    policies: tuple[Policy, ...]
    root: bool

    @property
    def account(self) -> str:
        return self.principal.account


def _session(credential: Credential) -> TemporaryCredential | None:
    return credential if isinstance(credential, TemporaryCredential) else None


def _role(credential: Credential) -> Role | None:
    session = _session(credential)
    return session.role if session is not None and session.role_id is not None else None


def principal_of(credential: Credential, user: User | None) -> tuple[Principal, bool]:
    """The principal signing with ``credential`` (for ``user``), and whether it is root."""
    role = _role(credential)
    if role is not None:
        session = _session(credential)
        assert session is not None
        principal = Principal(
            session.arn,
            session.account_id,
            "assumed-role",
            session.session_name,
            f"{role.role_id}:{session.session_name}",
            role.tags or {},
            role_arn=role.arn,
        )
        return principal, False
    assert user is not None
    if user.is_staff:
        # The account's admin acts as its root user (createuser --admin).
        return Principal(user.arn, user.account_id, "root", user.username, user.iam_id), True
    principal = Principal(
        user.arn, user.account_id, "user", user.username, user.iam_id, user.tags or {}
    )
    return principal, False


# (account id, "user" or "role", primary key): an account's entries can be dropped alone.
IdentityKey = tuple[str, str, int]


def _identity_key(credential: Credential, user: User | None) -> IdentityKey:
    role = _role(credential)
    if role is not None:
        return (str(role.account_id), "role", role.pk)
    assert user is not None
    return (str(user.account_id), "user", user.pk)


@dataclass
class _Entry:
    checked_until: float
    revision: int
    policies: tuple[Policy, ...]


class PolicyCache:
    """identity → its parsed policies, with the account revision they were read at."""

    def __init__(self) -> None:
        self._entries: dict[IdentityKey, _Entry] = {}
        self._lock = threading.Lock()

    def fresh(self, key: IdentityKey) -> tuple[Policy, ...] | None:
        entry = self._entries.get(key)
        if entry is None or entry.checked_until < time.monotonic():
            return None
        return entry.policies

    def load(self, key: IdentityKey, account_id: str, identity: User | Role) -> tuple[Policy, ...]:
        """Read the account's revision; reuse the entry if it was read at that revision,
        else read and parse the identity's policies again (database reads)."""
        revision = (
            Account.objects.filter(id=account_id).values_list("iam_revision", flat=True).first()
        ) or 0
        entry = self._entries.get(key)
        ttl = float(settings.FUNCTORY_ACCESS_KEY_CACHE_SECONDS)
        if entry is None or entry.revision != revision:
            policies = tuple(entities.identity_policies(identity))
            entry = _Entry(0.0, revision, policies)
        entry.checked_until = time.monotonic() + ttl
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = entry
        return entry.policies

    def forget(self, account_id: str) -> None:
        """Drop one account's entries: another account's IAM changes (a tenant can make
        many) never cost anyone else a reload."""
        with self._lock:
            for key in [key for key in self._entries if key[0] == account_id]:
                del self._entries[key]

    def clear(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._entries.clear()


policies = PolicyCache()


def caller_cached(credential: Credential, user: User | None) -> Caller | None:
    """The caller from this process's cache only (no query), or None."""
    principal, root = principal_of(credential, user)
    if root:
        return Caller(principal, (), True)
    found = policies.fresh(_identity_key(credential, user))
    return None if found is None else Caller(principal, found, False)


def caller_of(credential: Credential, user: User | None) -> Caller:
    """The caller, reading its policies when the cache cannot answer (database reads)."""
    cached = caller_cached(credential, user)
    if cached is not None:
        return cached
    principal, _ = principal_of(credential, user)
    role = _role(credential)
    identity: User | Role = role if role is not None else user  # type: ignore[assignment]
    found = policies.load(_identity_key(credential, user), principal.account, identity)
    return Caller(principal, found, False)
