"""The environment pool: warm reuse, scale-out when busy, keep-alive reaping, retirement.

Environments are keyed by their spec (code + configuration). An invocation takes an idle
environment of its key (the most recently used, so the pool shrinks naturally under lower
load); one invocation at a time per environment. When a function version's spec changes,
environments of the old spec are retired: idle ones at once, busy ones as soon as they
finish.

Scale-out without storms: an invocation that finds no idle environment waits in its key's
queue (first come, first served), and the pool starts a new environment for it only when
that would serve it sooner than the key's busy environments finishing their invocations:
when the time until a busy environment of the key would be free for it (from how long the
key's invocations hold one, a moving average, and how long the busy ones have run) is
longer than a start takes (measured too). A function that sleeps or waits on I/O gets an
environment per concurrent invocation, as on AWS; a burst of short invocations on a busy
host is served by the environments it has, instead of booting one per request while the
CPUs are saturated. Starts run at most ``MAX_CONCURRENT_STARTS`` at a time (more only
slow each other), and a start whose invocations were served meanwhile is not made. An
environment that finishes is handed to the next waiting invocation at once; a started one
too (so it serves whoever waited longest).

Execution-role credentials: a new environment gets its function's role credentials from the
pool's ``credentials`` source (at its start, or a standby's adoption). An environment is
given an invocation only while its credentials outlast that invocation's timeout plus
``CREDENTIALS_MARGIN_S``; one whose credentials will not is stopped, and the next start gets
fresh ones. So no function ever runs with expired credentials, and nothing is pushed into
a running environment (whose SDK clients keep the credentials they read at init).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from invocations.executor.catalog import RuntimeUnavailable
from invocations.executor.environment import Environment
from invocations.executor.ephemeral import EphemeralStorageExhausted
from invocations.executor.runtime_api import RuntimeOutcome
from invocations.executor.spec import (
    ON_DEMAND,
    PROVISIONED,
    Credentials,
    EnvironmentSpec,
    InvokeRequest,
    InvokeResult,
)

logger = logging.getLogger(__name__)


class Backend(Protocol):
    name: str

    async def start(
        self,
        spec: EnvironmentSpec,
        credentials: Credentials | None = None,
        *,
        initialization_type: str = ON_DEMAND,
    ) -> Environment: ...

    def retire(self, function_key_prefix: str) -> None:
        """Drop what the backend keeps for those function versions (SnapStart templates)."""

    async def close(self) -> None: ...


# The execution role's credentials for a new environment of a spec (None: it gets none).
CredentialSource = Callable[[EnvironmentSpec], Awaitable[Credentials | None]]
# Beyond an invocation's timeout, how long its environment's credentials must still last
# when it is handed the invocation (the runtime's answer and the teardown of a timeout).
CREDENTIALS_MARGIN_S = 10.0


# When the /tmp budget is spent: how many idle environments one start may stop to make
# room (one per try), and the pause for each one's /tmp to be released.
EVICTION_ATTEMPTS = 40
EVICTION_PAUSE_S = 0.05

# Environment starts in progress at once (each is mostly CPU: a sandbox and an interpreter).
MAX_CONCURRENT_STARTS = max(2, 2 * (os.cpu_count() or 1))
# Memory: below this much available on the host, idle environments are stopped, least
# recently used first, an estimated ``IDLE_ENVIRONMENT_MB`` each (an idle Python
# environment's PSS with its network helper, ``bench/invoke.py --density``: 35 MB), before
# the keep-alive would. A cache must not push the host into swapping or the OOM killer.
IDLE_ENVIRONMENT_MB = 36.0
MEMORY_REAP_PAUSE_S = 5.0
# Provisioned concurrency: a target whose environments were started more than twice its
# count (and two) times in this window is failed (they exit, or cannot start).
PROVISION_WINDOW_S = 60.0


def memory_available_mb() -> float:
    """The host's MemAvailable (``/proc/meminfo``), in MB; infinite if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def default_memory_floor_mb() -> float:
    """10 % of the host's memory, at least 512 MB."""
    try:
        total_kb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1024
    except (ValueError, OSError):
        return 512.0
    return max(512.0, total_kb / 1024 * 0.10)


# What a start is assumed to take before one was measured, and the moving averages' weight.
DEFAULT_START_S = 0.1
AVERAGE_WEIGHT = 0.2
# While invocations wait, the decision to start is looked at again at least this often.
MAX_RECHECK_S = 0.25

Handed = tuple[Environment, RuntimeOutcome | None]


@dataclass(frozen=True)
class ProvisionTarget:
    """Environments of ``spec`` to keep started and initialised (provisioned concurrency).
    ``token`` changes when the configuration is put again: one that failed is tried again."""

    spec: EnvironmentSpec
    count: int
    token: str = ""


@dataclass(frozen=True)
class ProvisionState:
    ready: int  # environments of the target's spec initialised and kept
    failure: str = ""  # why one could not be started or initialised (then none is retried)


class PoolClosed(RuntimeError):
    """An invocation waited for an environment of a pool that was closed meanwhile."""


class EnvironmentPool:
    def __init__(
        self,
        backend: Backend,
        *,
        keep_alive_s: float = 300.0,
        credentials: CredentialSource | None = None,
        memory_floor_mb: float = 0.0,
        memory_available: Callable[[], float] = memory_available_mb,
    ) -> None:
        self.backend = backend
        self.keep_alive_s = keep_alive_s
        self.credentials = credentials
        self.memory_floor_mb = memory_floor_mb  # 0: only the keep-alive reaps
        self.memory_available = memory_available
        self._memory_reaped_at = -math.inf
        self._idle: dict[str, list[Environment]] = defaultdict(list)
        self._busy: set[Environment] = set()
        self._current: dict[str, str] = {}  # function_key -> live spec key
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        # Per spec key: invocations waiting for an environment, starts in progress, the
        # moving average of how long an environment is held per invocation; per runtime,
        # of how long a start takes.
        self._waiting: dict[str, deque[asyncio.Future[Handed]]] = defaultdict(deque)
        self._starting: dict[str, int] = defaultdict(int)
        self._held_s: dict[str, float] = {}
        self._start_s: dict[str, float] = {}
        self._start_slots: asyncio.Semaphore | None = None
        self._rechecks: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Provisioned concurrency, per spec key: the target, starts in progress for it, and
        # a failure (with the token it happened under).
        self._targets: dict[str, ProvisionTarget] = {}
        self._provisioning: dict[str, int] = defaultdict(int)
        self._provision_failed: dict[str, tuple[str, str]] = {}
        self._provision_attempts: dict[str, deque[float]] = defaultdict(deque)
        # Function ARN prefixes retired (deleted), numbered: a plan read before a deletion
        # must not bring its targets back (``provision``'s ``since``).
        self._retirements: deque[tuple[int, str]] = deque(maxlen=1000)
        self.retirement = 0
        self.started = 0  # environments started, in all (the benchmarks report it)

    # -- public -------------------------------------------------------------------------

    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvokeResult:
        self._ensure_reaper()
        self._note_spec(spec)
        environment, init_error = await self._acquire(spec)
        held_from = time.monotonic()
        try:
            return await environment.invoke(request, init_error)
        except asyncio.CancelledError:
            # The caller went away (a client that disconnected, a worker that died) in the
            # middle of the invocation: given back now, the environment would hand that
            # invocation's late response to the next one. It is stopped instead.
            environment.retired = True
            raise
        finally:
            held = time.monotonic() - held_from
            previous = self._held_s.get(spec.key, held)
            self._held_s[spec.key] = previous + AVERAGE_WEIGHT * (held - previous)
            self._release(environment)

    def retire(self, function_key_prefix: str) -> None:
        """Retire every environment of the function versions under this ARN prefix."""
        for key, environments in list(self._idle.items()):
            keep = []
            for environment in environments:
                if environment.spec.function_key.startswith(function_key_prefix):
                    self._stop_later(environment)
                else:
                    keep.append(environment)
            self._idle[key] = keep
        for environment in self._busy:
            if environment.spec.function_key.startswith(function_key_prefix):
                environment.retired = True
        for function_key in list(self._current):
            if function_key.startswith(function_key_prefix):
                del self._current[function_key]
        for key, target in list(self._targets.items()):
            if target.spec.function_key.startswith(function_key_prefix):
                del self._targets[key]
        self.backend.retire(function_key_prefix)
        self.retirement += 1
        self._retirements.append((self.retirement, function_key_prefix))

    def provision(
        self, targets: list[ProvisionTarget], since: int | None = None
    ) -> dict[str, ProvisionState]:
        """Keep each target's count of environments of its spec started and initialised,
        never reaped for age (memory pressure takes them last); the provisioned
        environments beyond what is still named are stopped at once. Targets of functions
        retired after ``since`` (a ``retirement`` number read before the targets were) are
        left out. Returns each target's state by spec key."""
        self._ensure_reaper()
        gone = [
            prefix for number, prefix in self._retirements if since is not None and number > since
        ]
        self._targets = {
            target.spec.key: target
            for target in targets
            if target.count > 0 and not target.spec.function_key.startswith(tuple(gone))
        }
        for key, (token, _) in list(self._provision_failed.items()):
            target = self._targets.get(key)
            if target is None or target.token != token:
                del self._provision_failed[key]
                self._provision_attempts.pop(key, None)
        self._stop_unprovisioned()
        for target in self._targets.values():
            self._note_spec(target.spec)
            self._top_up(target)
        return {key: self.provision_state(key) for key in self._targets}

    def _stop_unprovisioned(self) -> None:
        """Idle environments started for provisioned concurrency that no target keeps any
        more: stopped now, not left for the keep-alive (a tenant moving its configuration
        around would otherwise keep many times its share running)."""
        for key, environments in list(self._idle.items()):
            kept = self._kept(key, environments)
            surplus = [env for env in environments if env.provisioned and env not in kept]
            for env in surplus:
                environments.remove(env)
                self._stop_later(env)

    def provision_state(self, key: str) -> ProvisionState:
        target = self._targets.get(key)
        if target is None:
            return ProvisionState(0)
        failed = self._provision_failed.get(key)
        return ProvisionState(
            min(target.count, self._live(key)), failed[1] if failed is not None else ""
        )

    def stats(self) -> dict[str, int]:
        return {
            "idle": sum(len(v) for v in self._idle.values()),
            "busy": len(self._busy),
        }

    def load(self) -> dict[str, int]:
        """Besides ``stats``: invocations waiting for an environment, starts in progress,
        and environments started since the pool was made."""
        return {
            **self.stats(),
            "waiting": sum(len(v) for v in self._waiting.values()),
            "starting": sum(self._starting.values()),
            "started": self.started,
        }

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        for timer in self._rechecks.values():
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiting in self._waiting.values():
            for handed in waiting:
                if not handed.done():
                    handed.set_exception(PoolClosed("the environment pool was closed"))
        self._waiting.clear()
        environments = [env for envs in self._idle.values() for env in envs] + list(self._busy)
        self._idle.clear()
        await asyncio.gather(*(env.stop() for env in environments), return_exceptions=True)
        await self.backend.close()

    # -- internals ------------------------------------------------------------------------

    def _note_spec(self, spec: EnvironmentSpec) -> None:
        previous = self._current.get(spec.function_key)
        if previous == spec.key:
            return
        self._current[spec.function_key] = spec.key
        if previous is not None:
            for environment in self._idle.pop(previous, []):
                self._stop_later(environment)
            for environment in self._busy:
                if environment.spec.key == previous:
                    environment.retired = True

    async def _acquire(self, spec: EnvironmentSpec) -> Handed:
        handed_dead = False
        while True:
            environment = await self._take_idle(spec)
            if environment is not None:
                return environment, None
            environment, init_error = await self._wait_for_one(spec, front=handed_dead)
            if init_error is not None or not await self._runtime_ended(environment):
                return environment, init_error
            handed_dead = True  # its runtime had exited: keep this invocation's turn

    async def _take_idle(self, spec: EnvironmentSpec) -> Environment | None:
        idle = self._idle.get(spec.key)
        while idle:
            environment = idle.pop()
            if self._usable(environment):
                environment.thaw()
                self._mark_busy(environment)
                if not await self._runtime_ended(environment):
                    return environment
                continue
            self._stop_later(environment)
        return None

    async def _runtime_ended(self, environment: Environment) -> bool:
        """Whether the busy ``environment`` turned out to have no runtime waiting for an
        invocation (it is then stopped)."""
        try:
            ended = await environment.runtime_ended()
        except BaseException:  # its caller went away: nobody will give it back
            ended = True
            raise
        finally:
            if ended:
                self._busy.discard(environment)
                environment.busy = False
                self._stop_later(environment)
                self._scale(environment.spec)
        return ended

    async def _wait_for_one(self, spec: EnvironmentSpec, *, front: bool = False) -> Handed:
        """Queue (at the back, or at the ``front``) for the next environment of ``spec``
        that finishes or starts."""
        if self._closed:
            raise PoolClosed("the environment pool was closed")
        handed: asyncio.Future[Handed] = asyncio.get_running_loop().create_future()
        if front:
            self._waiting[spec.key].appendleft(handed)
        else:
            self._waiting[spec.key].append(handed)
        self._scale(spec)
        try:
            return await handed
        except BaseException:
            if handed.done() and not handed.cancelled() and handed.exception() is None:
                # Handed over just as its caller left: the next one in line takes it.
                environment, init_error = handed.result()
                self._busy.discard(environment)
                environment.busy = False
                self._offer(environment, init_error)
            else:
                with contextlib.suppress(ValueError):
                    self._waiting[spec.key].remove(handed)
            raise

    def _usable(self, environment: Environment) -> bool:
        return (
            not environment.dead
            and environment.process.poll() is None
            and _credentials_last_one_invocation(environment)
        )

    def _mark_busy(self, environment: Environment) -> None:
        environment.busy = True
        environment.held_since = time.monotonic()
        self._busy.add(environment)

    def _offer(self, environment: Environment, init_error: RuntimeOutcome | None = None) -> None:
        """Hand a free environment to the invocation that waited longest, or keep it idle."""
        waiting = self._waiting.get(environment.spec.key)
        while waiting:
            handed = waiting.popleft()
            if not handed.done():
                self._mark_busy(environment)
                handed.set_result((environment, init_error))
                return
        stale = self._current.get(environment.spec.function_key) != environment.spec.key
        if environment.retired or stale or self._closed or init_error is not None:
            # Nobody waits for it, and nobody may later: a retired or superseded function's,
            # or one whose init failed (an init timeout leaves its runtime half-started).
            self._stop_later(environment)
            return
        self._idle[environment.spec.key].append(environment)
        # After the response is on its way: an idle environment must not run (or burn CPU).
        environment.freeze_when_idle()

    def _scale(self, spec: EnvironmentSpec) -> None:
        """Start environments for the invocations waiting on ``spec`` that one would serve
        sooner than the busy ones; look again a start's time later while any still wait."""
        waiting = self._waiting.get(spec.key)
        if not waiting or self._closed:
            return
        while waiting and waiting[0].done():
            waiting.popleft()
        unserved = sum(1 for handed in waiting if not handed.done()) - self._starting[spec.key]
        while unserved > 0 and self._worth_starting(spec, unserved, self._starting[spec.key]):
            self._starting[spec.key] += 1
            unserved -= 1
            task = asyncio.get_running_loop().create_task(self._start_for_waiting(spec))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if waiting and spec.key not in self._rechecks and not self._closed:
            self._rechecks[spec.key] = asyncio.get_running_loop().call_later(
                min(self._start_estimate(spec), MAX_RECHECK_S), self._recheck, spec
            )

    def _recheck(self, spec: EnvironmentSpec) -> None:
        self._rechecks.pop(spec.key, None)
        self._scale(spec)

    def _start_estimate(self, spec: EnvironmentSpec) -> float:
        """How long a start of ``spec`` takes: its own, else its runtime's, moving average."""
        known = self._start_s.get(spec.key)
        return known if known is not None else self._start_s.get(spec.runtime, DEFAULT_START_S)

    def _start_measured(self, spec: EnvironmentSpec, took: float) -> None:
        for key in (spec.key, spec.runtime):
            previous = self._start_s.get(key, took)
            self._start_s[key] = previous + AVERAGE_WEIGHT * (took - previous)

    def _worth_starting(self, spec: EnvironmentSpec, unserved: int, starting: int) -> bool:
        """Whether the ``unserved``-th waiting invocation beyond those the ``starting``
        environments will take would wait longer for a busy environment than a start
        takes."""
        held = self._held_s.get(spec.key)
        if held is None:
            return True  # nothing measured yet: one per invocation, as AWS scales
        now = time.monotonic()
        ages = [now - env.held_since for env in self._busy if env.spec.key == spec.key]
        if not ages:
            return True  # none busy: nothing else will serve it
        # When each busy one is free: what its function's average leaves of it, or, once
        # past the average, as long again as it has run (it waits on something, or hangs).
        frees = sorted(max(held - age, age) for age in ages)
        if unserved <= len(frees):
            wait = frees[unserved - 1]
        else:  # then each takes the next waiting invocation, held like the longest so far
            per_round = max([held, *ages]) / len(frees)
            wait = frees[-1] + (unserved - len(frees)) * per_round
        return wait > self._start_estimate(spec)

    async def _start_for_waiting(self, spec: EnvironmentSpec) -> None:
        environment: Environment | None = None
        init_error: RuntimeOutcome | None = None
        skipped = False
        try:
            if self._start_slots is None:
                self._start_slots = asyncio.Semaphore(MAX_CONCURRENT_STARTS)
            await self._start_slots.acquire()
            slot_held = True
            try:
                # Served meanwhile by environments that finished, or no longer worth it?
                # (Judged as ``_scale`` judges, this start left out: it then starts none.)
                waiting = sum(1 for h in self._waiting.get(spec.key, ()) if not h.done())
                others = self._starting[spec.key] - 1
                if waiting <= others or not self._worth_starting(spec, waiting - others, others):
                    skipped = True
                    return
                began = time.monotonic()
                credentials = await self.credentials(spec) if self.credentials else None
                environment = await self._start(spec, credentials)
                self.started += 1
                ready = asyncio.ensure_future(environment.wait_ready())
                try:
                    # The slot covers the start's own work (the sandbox, the interpreter),
                    # not an init that sleeps or waits on the network: past twice a start,
                    # other starts may go ahead.
                    await asyncio.wait({ready}, timeout=2 * self._start_estimate(spec))
                    if not ready.done():
                        self._start_slots.release()
                        slot_held = False
                    init_error = await ready
                except BaseException:
                    ready.cancel()
                    await environment.stop()
                    environment = None
                    raise
                if init_error is None:
                    self._start_measured(spec, time.monotonic() - began)
            finally:
                if slot_held:
                    self._start_slots.release()
        except Exception as exc:
            # The invocation that waited longest fails with it, as if it had started the
            # environment itself (an unavailable runtime, no room for its /tmp, ...).
            for handed in self._waiting.get(spec.key, ()):
                if not handed.done():
                    handed.set_exception(exc)
                    break
            else:
                logger.warning("starting an environment nobody waits for failed: %r", exc)
        finally:
            self._starting[spec.key] -= 1
            if environment is not None:
                if self._closed:
                    await environment.stop()
                else:
                    self._offer(environment, init_error)
            if not self._closed and not skipped:
                self._scale(spec)

    async def _start(
        self,
        spec: EnvironmentSpec,
        credentials: Credentials | None,
        initialization_type: str = ON_DEMAND,
    ) -> Environment:
        """A new environment; when the /tmp budget is spent, idle environments (least
        recently used first) make room: they are a cache, a cold start is not."""
        for _ in range(EVICTION_ATTEMPTS):
            try:
                return await self.backend.start(
                    spec, credentials, initialization_type=initialization_type
                )
            except EphemeralStorageExhausted:
                victim = self._least_recently_used_idle()
                if victim is not None:
                    await victim.stop()
                # Its /tmp is released on the unmounter thread, a moment after the stop.
                await asyncio.sleep(EVICTION_PAUSE_S)
        return await self.backend.start(spec, credentials, initialization_type=initialization_type)

    # -- provisioned concurrency ----------------------------------------------------------

    def _live(self, key: str) -> int:
        """Environments of a spec started and initialised: idle or serving an invocation."""
        busy = sum(1 for env in self._busy if env.spec.key == key and not env.retired)
        return sum(1 for env in self._idle.get(key, ()) if self._usable(env)) + busy

    def _kept(self, key: str, idle: list[Environment]) -> list[Environment]:
        """The idle environments of ``key`` a provisioned target keeps, whatever their age
        (the most recently used; those serving an invocation count toward it first)."""
        target = self._targets.get(key)
        if target is None:
            return []
        busy = sum(1 for env in self._busy if env.spec.key == key and not env.retired)
        room = max(0, target.count - busy)
        usable = [env for env in idle if self._usable(env)]
        return sorted(usable, key=lambda env: env.last_used, reverse=True)[:room]

    def _top_up(self, target: ProvisionTarget) -> None:
        key = target.spec.key
        if self._closed or key in self._provision_failed:
            return
        if self._memory_short():
            return  # not while the keep-alive is stopping environments for memory
        attempts = self._provision_attempts[key]
        now = time.monotonic()
        while attempts and attempts[0] < now - PROVISION_WINDOW_S:
            attempts.popleft()
        for _ in range(target.count - self._live(key) - self._provisioning[key]):
            if len(attempts) >= 2 * target.count + 2:
                # Environments that exit once ready (or never start) would otherwise be
                # started again on every check, taking start slots from everyone.
                self._provision_failed[key] = (
                    target.token,
                    f"Environments of the function kept exiting or failing to start "
                    f"({len(attempts)} started in {PROVISION_WINDOW_S:.0f} s).",
                )
                return
            attempts.append(now)
            self._provisioning[key] += 1
            task = asyncio.get_running_loop().create_task(self._start_provisioned(target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_provisioned(self, target: ProvisionTarget) -> None:
        spec = target.spec
        environment: Environment | None = None
        try:
            if self._start_slots is None:
                self._start_slots = asyncio.Semaphore(MAX_CONCURRENT_STARTS)
            async with self._start_slots:
                if self._memory_short() or spec.key not in self._targets:
                    return  # looked at again on the next check
                credentials = await self.credentials(spec) if self.credentials else None
                environment = await self._start(spec, credentials, PROVISIONED)
            environment.provisioned = True
            self.started += 1
            init_error = await environment.wait_ready()
            if init_error is not None:
                await environment.stop()
                environment = None
                self._provision_failed[spec.key] = (target.token, _init_failure(init_error))
        except RuntimeUnavailable as exc:
            self._provision_failed[spec.key] = (target.token, str(exc))
        except Exception:
            # Maybe passing (the /tmp budget, the host): tried again on the next checks,
            # as many times as the crash-loop guard in ``_top_up`` allows.
            logger.exception("starting a provisioned environment failed")
        finally:
            self._provisioning[spec.key] -= 1
            if environment is not None:
                if self._closed:
                    await environment.stop()
                else:
                    self._offer(environment)

    def _memory_short(self) -> bool:
        return self.memory_floor_mb > 0 and self.memory_available() < self.memory_floor_mb

    def _least_recently_used_idle(self, *, kept_too: bool = False) -> Environment | None:
        """The idle environment used longest ago: one no provisioned target keeps, or, with
        ``kept_too`` and none such left, a kept one."""
        candidates = []
        for key, envs in self._idle.items():
            kept = self._kept(key, envs)
            candidates += [env for env in envs if env not in kept]
        if not candidates and kept_too:
            candidates = [env for envs in self._idle.values() for env in envs]
        if not candidates:
            return None
        victim = min(candidates, key=lambda env: env.last_used)
        self._idle[victim.spec.key].remove(victim)
        return victim

    def _release(self, environment: Environment) -> None:
        environment.busy = False
        self._busy.discard(environment)
        retired = environment.retired
        stale = self._current.get(environment.spec.function_key) != environment.spec.key
        if retired or stale or self._closed or not self._usable(environment):
            self._stop_later(environment)
            if not self._closed:
                self._scale(environment.spec)  # whoever waited for it needs another
            return
        self._offer(environment)

    def _stop_later(self, environment: Environment) -> None:
        task = asyncio.get_running_loop().create_task(environment.stop())
        task.add_done_callback(_log_failure)

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(min(1.0, self.keep_alive_s / 2))
            self.reap()

    def _reap_for_memory(self) -> None:
        if self.memory_floor_mb <= 0:
            return
        # What the last stops free takes a moment to show: look again only after that.
        if time.monotonic() - self._memory_reaped_at < MEMORY_REAP_PAUSE_S:
            return
        deficit = self.memory_floor_mb - self.memory_available()
        if deficit <= 0:
            return
        self._memory_reaped_at = time.monotonic()
        for _ in range(max(1, math.ceil(deficit / IDLE_ENVIRONMENT_MB))):
            victim = self._least_recently_used_idle(kept_too=True)
            if victim is None:
                return
            logger.info("memory low (%.0f MB short): stopping an idle environment", deficit)
            self._stop_later(victim)

    def reap(self, now: float | None = None) -> None:
        """Stop the environments idle for longer than the keep-alive (as of ``now``, on the
        monotonic clock: the current time unless given), those that ended or whose
        credentials would not last another invocation, and, while the host's available
        memory is below the floor, enough of the least recently used idle ones to make it
        up. Provisioned targets keep their count whatever the age or the memory, and get
        new environments for those that ended."""
        self._reap_for_memory()
        cutoff = (time.monotonic() if now is None else now) - self.keep_alive_s
        for key, environments in list(self._idle.items()):
            kept = self._kept(key, environments)
            keep = [
                env
                for env in environments
                if (env.last_used >= cutoff or env in kept) and self._usable(env)
            ]
            for env in environments:
                if env not in keep:
                    self._stop_later(env)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        # What is known of specs no environment or invocation is left for.
        live = set(self._idle) | {env.spec.key for env in self._busy}
        for key in list(self._waiting):
            if not self._waiting[key] and not self._starting.get(key):
                del self._waiting[key]
                self._starting.pop(key, None)
        for key in list(self._held_s):
            if key not in live and key not in self._waiting:
                del self._held_s[key]
        # Provisioned environments that ended (a crash, credentials running out) are
        # replaced.
        for target in list(self._targets.values()):
            self._top_up(target)


def _credentials_last_one_invocation(environment: Environment) -> bool:
    return environment.credentials_last(environment.spec.timeout_s + CREDENTIALS_MARGIN_S)


def _init_failure(outcome: RuntimeOutcome) -> str:
    """A provisioned environment's failed init, for the configuration's StatusReason."""
    try:
        message = str(json.loads(outcome.payload).get("errorMessage", ""))
    except (ValueError, AttributeError):
        message = ""
    reason = f"Function initialization failed ({outcome.error_type or 'Runtime.Unknown'})"
    return f"{reason}: {message[:400]}" if message else f"{reason}."


def _log_failure(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            logger.warning("stopping an environment failed: %r", exc)
