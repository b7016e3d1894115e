"""A short-lived per-process cache of access keys, so a warm API call needs no query.

Entries live ``FUNCTORY_ACCESS_KEY_CACHE_SECONDS`` (5) and are dropped at once when this
process changes a key or a user; another process's change (e.g. a deactivation) takes effect
within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from iam.models import AccessKey, TemporaryCredential

_MISSING: Any = object()


class AccessKeyCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[float, AccessKey | TemporaryCredential]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, access_key_id: str) -> AccessKey | TemporaryCredential | Any | None:
        """The cached key, else ``MISSING``."""
        entry = self._entries.get(access_key_id)
        if entry is None or entry[0] < self._clock():
            return _MISSING
        return entry[1]

    def put(self, access_key_id: str, key: AccessKey | TemporaryCredential) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            ttl = float(settings.FUNCTORY_ACCESS_KEY_CACHE_SECONDS)
            self._entries[access_key_id] = (self._clock() + ttl, key)

    def clear(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._entries.clear()


MISSING = _MISSING
access_keys = AccessKeyCache()
