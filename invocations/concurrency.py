"""Concurrency accounting for invocations: a lease per running invocation.

A function with reserved concurrency counts against its reservation only; every other
function of the account shares the unreserved pool (the account limit minus all
reservations). :func:`acquire` takes a slot or answers ``None`` (throttled);
:func:`release` gives it back.

Two backends, chosen by ``settings.REDIS_URL``:

- in-process (embedded profile): counters under a lock; a dead process takes its counters
  with it, so nothing can leak.
- Redis (scaled profile): one sorted set of lease ids per counter, scored by expiry time and
  changed by an atomic Lua script, so counting is exact across processes and hosts. A lease
  whose holder died is never released; it expires after the function's timeout plus a
  margin and is pruned by the next acquire.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

RESERVED_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
# A lease outlives its invocation's timeout by this much before Redis forgets it.
LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Lease:
    key: str
    lease_id: str
    backend: Backend
    # The running sets this lease is also in, and how many invocations each held once it
    # joined: counted across every process and host (Redis; ``()`` in process).
    running_keys: tuple[str, ...] = ()
    running: tuple[int, ...] = ()


class Backend(Protocol):
    async def acquire(
        self, key: str, limit: int, ttl_s: float, running_keys: tuple[str, ...] = ()
    ) -> Lease | None: ...

    async def release(self, lease: Lease) -> None: ...


class LocalBackend:
    """Counters in this process's memory."""

    def __init__(self) -> None:
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    async def acquire(
        self, key: str, limit: int, ttl_s: float, running_keys: tuple[str, ...] = ()
    ) -> Lease | None:
        # One process counts everything it runs itself: the metrics recorder does that.
        with self._lock:
            running = self._running.get(key, 0)
            if running >= limit:
                return None
            self._running[key] = running + 1
        return Lease(key, "", self)

    async def release(self, lease: Lease) -> None:
        with self._lock:
            running = self._running.get(lease.key, 0) - 1
            if running > 0:
                self._running[lease.key] = running
            else:
                self._running.pop(lease.key, None)

    def running(self, key: str) -> int:
        return self._running.get(key, 0)


# KEYS[1]: the counter's sorted set, KEYS[2..]: running sets (metrics: how many run per
# series, whatever counter they count against); ARGV: limit, lease ttl (s), lease id.
# Returns 0 when throttled, else {1, size of each running set}. Redis's own clock scores
# the leases, so hosts whose clocks disagree still agree on expiry.
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ttl = tonumber(ARGV[2])
local ttl_ms = math.ceil(ttl * 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local taken = {1}
for i, key in ipairs(KEYS) do
  if i > 1 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  end
  redis.call('ZADD', key, now + ttl, ARGV[3])
  if redis.call('PTTL', key) < ttl_ms then
    redis.call('PEXPIRE', key, ttl_ms)
  end
  if i > 1 then
    taken[i] = redis.call('ZCARD', key)
  end
end
return taken
"""


class RedisBackend:
    """Leases in Redis sorted sets, through ``redis.asyncio`` on the caller's event loop."""

    def __init__(self, url: str, prefix: str = "functory:concurrency:") -> None:
        self.url = url
        self.prefix = prefix
        # redis.asyncio connections belong to the loop that opened them: one client per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self.url)
            entry = (client, client.register_script(ACQUIRE_SCRIPT))
            self._clients[loop] = entry
        return entry

    async def acquire(
        self, key: str, limit: int, ttl_s: float, running_keys: tuple[str, ...] = ()
    ) -> Lease | None:
        _, script = self._client()
        lease_id = uuid.uuid4().hex
        keys = [self.prefix + name for name in (key, *running_keys)]
        taken = await script(keys=keys, args=[limit, ttl_s, lease_id])
        if not taken:
            return None
        return Lease(key, lease_id, self, running_keys, tuple(int(n) for n in taken[1:]))

    async def release(self, lease: Lease) -> None:
        client, _ = self._client()
        async with client.pipeline(transaction=False) as pipe:
            for key in (lease.key, *lease.running_keys):
                pipe.zrem(self.prefix + key, lease.lease_id)
            await pipe.execute()

    async def running(self, key: str) -> int:
        client, _ = self._client()
        return int(await client.zcard(self.prefix + key))

    async def close(self) -> None:
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()


_backend: Backend | None = None
_backend_lock = threading.Lock()


def backend() -> Backend:
    """This process's backend: Redis when ``REDIS_URL`` is set, else in-process."""
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                url = getattr(settings, "REDIS_URL", "")
                _backend = (
                    RedisBackend(
                        url,
                        getattr(settings, "FUNCTORY_CONCURRENCY_PREFIX", "functory:concurrency:"),
                    )
                    if url
                    else LocalBackend()
                )
    return _backend


def counter_key(account_id: str, function_key: str, reserved: int | None) -> str:
    """The counter an invocation counts against: its reservation, or the account's pool."""
    if reserved is not None:
        return f"fn:{account_id}:{function_key}"
    return f"acct:{account_id}"


def throttle_reason(reserved: int | None) -> str:
    return RESERVED_EXCEEDED if reserved is not None else ACCOUNT_EXCEEDED


def running_key(series: tuple[str, str, str]) -> str:
    """The set of an invocation series' running leases (ConcurrentExecutions)."""
    account_id, function_name, qualifier = series
    return f"run:{account_id}:{function_name}:{qualifier}"


async def acquire(
    account_id: str,
    function_key: str,
    reserved: int | None,
    unreserved_pool: int,
    *,
    timeout_s: float = 900.0,
    using: Backend | None = None,
    series: tuple[tuple[str, str, str], ...] = (),
) -> Lease | None:
    """A slot for one invocation, or ``None`` when its limit is reached (throttle); with
    ``series``, the lease also says how many invocations of each are running."""
    limit = reserved if reserved is not None else unreserved_pool
    if limit <= 0:
        return None
    chosen = using or backend()
    ttl_s = timeout_s + LEASE_MARGIN_SECONDS
    return await chosen.acquire(
        counter_key(account_id, function_key, reserved),
        limit,
        ttl_s,
        tuple(running_key(s) for s in series),
    )


async def release(lease: Lease) -> None:
    """Give the slot back; if Redis is unreachable the lease simply expires."""
    try:
        await lease.backend.release(lease)
    except Exception:
        logger.warning("Could not release concurrency lease %s", lease.key, exc_info=True)
