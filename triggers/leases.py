"""Leases in the database: one holder per key across every host that shares it.

A server process claims a key (a mapping's poller: ``esm:<uuid>``) when nobody holds it or
its holder let it expire, renews what it holds well before expiry, and releases it when it
stops. A host that dies stops renewing; another claims the key once it expires. Every
change of holder is one conditional ``UPDATE`` (or an ``INSERT`` that the unique key
serialises), so two processes can never both succeed.

Expiry times come from the claiming process's clock: hosts are expected to keep their
clocks within a fraction of the lease period (NTP). A holder also stops acting on a lease
on its own monotonic clock once the period has passed since its last successful renewal
(``Held.valid``), whether or not the database could be reached.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from triggers.models import Lease

Clock = Callable[[], datetime]


def new_owner() -> str:
    """A name for this process's claims: unique even across restarts of one pid."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Held:
    """A lease this process holds, as far as it knows."""

    key: str
    token: int
    # time.monotonic() by which the lease has surely not expired in the database: the
    # moment the last successful claim or renewal *started*, plus the period, less a margin.
    valid_until: float = field(default=0.0)

    def valid(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.valid_until


def _validity(started: float, seconds: float) -> float:
    # A tenth of the period is kept back for the clocks of two hosts to disagree.
    return started + seconds * 0.9


def claim(key: str, owner: str, seconds: float, *, clock: Clock = timezone.now) -> Held | None:
    """Take ``key`` if nobody holds it (or its holder's lease expired); ``None`` if held."""
    started = time.monotonic()
    now = clock()
    expires = now + timedelta(seconds=seconds)
    taken = Lease.objects.filter(Q(key=key), Q(owner=owner) | Q(expires__lt=now)).update(
        owner=owner, expires=expires, token=F("token") + 1
    )
    if not taken:
        try:
            with transaction.atomic():
                Lease.objects.create(key=key, owner=owner, expires=expires, token=1)
        except IntegrityError:
            return None
    token = Lease.objects.filter(key=key, owner=owner).values_list("token", flat=True).first()
    if token is None:  # taken over between the two statements (a period shorter than a query)
        return None
    return Held(key=key, token=token, valid_until=_validity(started, seconds))


def renew(
    held: Iterable[Held], owner: str, seconds: float, *, clock: Clock = timezone.now
) -> set[str]:
    """Extend every lease in ``held`` still ours (same holder, same token); returns the keys
    renewed. Those missing were taken over: their holder must stop at once."""
    leases = {lease.key: lease for lease in held}
    if not leases:
        return set()
    started = time.monotonic()
    expires = clock() + timedelta(seconds=seconds)
    mine = Lease.objects.filter(key__in=leases, owner=owner)
    mine.update(expires=expires)
    kept: set[str] = set()
    for key, token in mine.values_list("key", "token"):
        lease = leases[key]
        if token == lease.token:
            lease.valid_until = _validity(started, seconds)
            kept.add(key)
    return kept


def release(keys: Iterable[str], owner: str) -> None:
    """Give up leases at once (a clean stop): another process may claim them right away."""
    Lease.objects.filter(key__in=list(keys), owner=owner).delete()


def holders(prefix: str, *, clock: Clock = timezone.now) -> dict[str, str]:
    """Unexpired leases whose key starts with ``prefix``: key -> owner."""
    rows = Lease.objects.filter(key__startswith=prefix, expires__gte=clock())
    return dict(rows.values_list("key", "owner"))


def forget(keys: Iterable[str]) -> None:
    """Delete leases of things that no longer exist (a deleted mapping's)."""
    Lease.objects.filter(key__in=list(keys)).delete()
