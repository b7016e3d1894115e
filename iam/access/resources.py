"""What enforcement needs to know of a resource, found by the ARN a request acts on: its
resource-based policy and its tags (``aws:ResourceTag/…``).

IAM sits below the apps that own resources, so each app registers loaders for its resource
type (``lambda:function`` from functions' AppConfig). A policy loader returns the
resource's policy (all statements, whatever qualifier they name: a statement's ``Resource``
decides what it covers), a tag loader its tags; None for none, or a resource that does not
exist.

Loads are cached per resource for ``FUNCTORY_CONFIG_CACHE_SECONDS`` and dropped in this
process as soon as the owner says something changed (:func:`changed`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from django.conf import settings

from iam.policy import Policy

T = TypeVar("T")
# (account id, the ARN after the resource type: "name", "name:qualifier", "name:1") -> value
Loader = Callable[[str, str], T | None]


class NotCached(Exception):
    """Something the cache does not hold: read it off the event loop."""


class _Registry(Generic[T]):
    def __init__(self) -> None:
        self._loaders: dict[str, Loader[T]] = {}
        self._entries: dict[tuple[str, str, str], tuple[float, T | None]] = {}
        self._lock = threading.Lock()

    def register(self, kind: str, loader: Loader[T]) -> None:
        """``kind`` as an ARN spells it after the account: ``lambda:function``."""
        self._loaders[kind] = loader

    def _parts(self, arn: str) -> tuple[str, str, str] | None:
        """(kind, account, the rest) of an ARN a loader is registered for."""
        parts = arn.split(":", 6)
        if len(parts) < 7 or parts[0] != "arn":
            return None
        kind = f"{parts[2]}:{parts[5]}"
        if kind not in self._loaders:
            return None
        return kind, parts[4], parts[6]

    def get(self, arn: str, *, load: bool) -> T | None:
        parts = self._parts(arn)
        if parts is None:
            return None
        entry = self._entries.get(parts)
        if entry is not None and entry[0] >= time.monotonic():
            return entry[1]
        if not load:
            raise NotCached(arn)
        kind, account, rest = parts
        value = self._loaders[kind](account, rest)
        ttl = float(settings.FUNCTORY_CONFIG_CACHE_SECONDS)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[parts] = (time.monotonic() + ttl, value)
        return value

    def forget(self, account_id: str) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[1] == account_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


policies: _Registry[Policy] = _Registry()
tags: _Registry[Mapping[str, str]] = _Registry()
cache = policies  # the resource policies, by ARN


def register(kind: str, loader: Loader[Policy]) -> None:
    policies.register(kind, loader)


def register_tags(kind: str, loader: Loader[Mapping[str, str]]) -> None:
    tags.register(kind, loader)


def account_of(arn: str) -> str | None:
    """The account an ARN names (None for ``*``, for ARNs without one and for AWS's)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not (len(parts[4]) == 12 and parts[4].isdigit()):
        return None  # AWS's own (arn:aws:iam::aws:policy/...) belongs to no account
    return parts[4]


def changed(account_id: str) -> None:
    """A resource of ``account_id`` changed its policy or tags in this process: forget that
    account's cached ones (only that account's: a tenant's many updates cost no one else)."""
    policies.forget(account_id)
    tags.forget(account_id)
