"""Resource-based policies, found by the ARN a request acts on.

IAM sits below the apps that own resources, so each app registers a loader for its resource
type (``lambda:function`` from functions' AppConfig); a loader returns the resource's
policy (all statements, whatever qualifier they name: a statement's ``Resource`` decides
what it covers), or None for a resource without one or that does not exist.

Loads are cached per resource for ``FUNCTORY_CONFIG_CACHE_SECONDS`` and dropped in this
process as soon as the owner says its policy changed (:func:`changed`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings

from iam.policy import Policy

# (account id, the ARN after the resource type: "name", "name:qualifier", "name:1") -> policy
Loader = Callable[[str, str], Policy | None]

_loaders: dict[str, Loader] = {}


def register(kind: str, loader: Loader) -> None:
    """``kind`` as an ARN spells it after the account: ``lambda:function``."""
    _loaders[kind] = loader


def _parts(arn: str) -> tuple[str, str, str] | None:
    """(kind, account, resource name) of an ARN a loader is registered for."""
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[0] != "arn":
        return None
    kind = f"{parts[2]}:{parts[5]}"
    if kind not in _loaders:
        return None
    return kind, parts[4], parts[6]


def account_of(arn: str) -> str | None:
    """The account an ARN names (None for ``*``, for ARNs without one and for AWS's)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not (len(parts[4]) == 12 and parts[4].isdigit()):
        return None  # AWS's own (arn:aws:iam::aws:policy/...) belongs to no account
    return parts[4]


class NotCached(Exception):
    """A policy the cache does not hold: read it off the event loop."""


class _Cache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], tuple[float, Policy | None]] = {}
        self._lock = threading.Lock()

    def get(self, arn: str, *, load: bool) -> Policy | None:
        parts = _parts(arn)
        if parts is None:
            return None
        entry = self._entries.get(parts)
        if entry is not None and entry[0] >= time.monotonic():
            return entry[1]
        if not load:
            raise NotCached(arn)
        kind, account, name = parts
        policy = _loaders[kind](account, name)
        ttl = float(settings.FUNCTORY_CONFIG_CACHE_SECONDS)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[parts] = (time.monotonic() + ttl, policy)
        return policy

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = _Cache()


def changed() -> None:
    """A resource policy changed in this process: forget every cached one."""
    cache.clear()
