"""Leases in the database: one holder per key, renewed by it, taken over once expired."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from triggers import leases
from triggers.models import Lease

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_only_one_owner_holds_a_key() -> None:
    clock = Clock()
    first = leases.claim("esm:a", "host-1", 10, clock=clock)
    assert first is not None and first.valid()
    assert leases.claim("esm:a", "host-2", 10, clock=clock) is None
    assert leases.holders("esm:", clock=clock) == {"esm:a": "host-1"}


def test_an_expired_lease_is_taken_over_and_its_old_holder_learns_it() -> None:
    clock = Clock()
    old = leases.claim("esm:a", "host-1", 10, clock=clock)
    assert old is not None
    clock.advance(11)
    new = leases.claim("esm:a", "host-2", 10, clock=clock)
    assert new is not None and new.token > old.token
    assert leases.renew([old], "host-1", 10, clock=clock) == set()
    assert leases.holders("esm:", clock=clock) == {"esm:a": "host-2"}


def test_renewing_keeps_a_lease_from_expiring() -> None:
    clock = Clock()
    held = leases.claim("esm:a", "host-1", 10, clock=clock)
    assert held is not None
    for _ in range(5):
        clock.advance(6)
        assert leases.renew([held], "host-1", 10, clock=clock) == {"esm:a"}
        assert leases.claim("esm:a", "host-2", 10, clock=clock) is None


def test_a_released_lease_can_be_claimed_at_once() -> None:
    clock = Clock()
    assert leases.claim("esm:a", "host-1", 10, clock=clock) is not None
    leases.release(["esm:a"], "host-1")
    assert leases.claim("esm:a", "host-2", 10, clock=clock) is not None
    # Releasing what another holds does nothing.
    leases.release(["esm:a"], "host-1")
    assert Lease.objects.get(key="esm:a").owner == "host-2"


def test_a_holder_stops_trusting_its_lease_before_the_period_ends() -> None:
    held = leases.claim("esm:a", "host-1", 10)
    assert held is not None
    now = time.monotonic()
    assert held.valid(now)
    assert not held.valid(now + 9.5)


def test_expired_leases_are_not_listed_as_held() -> None:
    clock = Clock()
    leases.claim("esm:a", "host-1", 10, clock=clock)
    leases.claim("other:b", "host-1", 10, clock=clock)
    assert leases.holders("esm:", clock=clock) == {"esm:a": "host-1"}
    clock.advance(11)
    assert leases.holders("esm:", clock=clock) == {}
