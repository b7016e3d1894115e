"""The per-process access-key cache: entries last FUNCTORY_ACCESS_KEY_CACHE_SECONDS, a change
here drops them."""

from __future__ import annotations

from typing import Any

from iam.keycache import MISSING, AccessKeyCache
from iam.models import AccessKey


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TTL_SECONDS = 5.0


def test_a_cached_key_is_served_until_its_ttl_has_passed_then_looked_up_again(
    settings: Any,
) -> None:
    settings.FUNCTORY_ACCESS_KEY_CACHE_SECONDS = TTL_SECONDS
    clock = FakeClock()
    cache = AccessKeyCache(clock=clock)
    key = AccessKey(access_key_id="AKIACACHED0000000001")
    assert cache.get(key.access_key_id) is MISSING
    cache.put(key.access_key_id, key)
    assert cache.get(key.access_key_id) is key
    clock.now += TTL_SECONDS
    assert cache.get(key.access_key_id) is key
    clock.now += 0.001
    assert cache.get(key.access_key_id) is MISSING
    # Stored again, it lasts another TTL from then.
    cache.put(key.access_key_id, key)
    clock.now += TTL_SECONDS
    assert cache.get(key.access_key_id) is key


def test_clearing_drops_every_entry_before_its_ttl() -> None:
    cache = AccessKeyCache(clock=FakeClock())
    key = AccessKey(access_key_id="AKIACACHED0000000002")
    cache.put(key.access_key_id, key)
    cache.clear()
    assert cache.get(key.access_key_id) is MISSING
