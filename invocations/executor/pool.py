"""The environment pool: warm reuse, scale-out when busy, keep-alive reaping, retirement.

Environments are keyed by their spec (code + configuration). An invocation takes an idle
environment of its key (the most recently used, so the pool shrinks naturally under lower
load) or starts a new one; one invocation at a time per environment. When a function
version's spec changes, environments of the old spec are retired: idle ones at once, busy
ones as soon as they finish.

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
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

from invocations.executor.environment import Environment
from invocations.executor.ephemeral import EphemeralStorageExhausted
from invocations.executor.runtime_api import RuntimeOutcome
from invocations.executor.spec import Credentials, EnvironmentSpec, InvokeRequest, InvokeResult

logger = logging.getLogger(__name__)


class Backend(Protocol):
    name: str

    async def start(
        self, spec: EnvironmentSpec, credentials: Credentials | None = None
    ) -> Environment: ...

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


class EnvironmentPool:
    def __init__(
        self,
        backend: Backend,
        *,
        keep_alive_s: float = 300.0,
        credentials: CredentialSource | None = None,
    ) -> None:
        self.backend = backend
        self.keep_alive_s = keep_alive_s
        self.credentials = credentials
        self._idle: dict[str, list[Environment]] = defaultdict(list)
        self._busy: set[Environment] = set()
        self._current: dict[str, str] = {}  # function_key -> live spec key
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    # -- public -------------------------------------------------------------------------

    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvokeResult:
        self._ensure_reaper()
        self._note_spec(spec)
        environment, init_error = await self._acquire(spec)
        try:
            return await environment.invoke(request, init_error)
        except asyncio.CancelledError:
            # The caller went away (a client that disconnected, a worker that died) in the
            # middle of the invocation: given back now, the environment would hand that
            # invocation's late response to the next one. It is stopped instead.
            environment.retired = True
            raise
        finally:
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

    def stats(self) -> dict[str, int]:
        return {
            "idle": sum(len(v) for v in self._idle.values()),
            "busy": len(self._busy),
        }

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
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

    async def _acquire(self, spec: EnvironmentSpec) -> tuple[Environment, RuntimeOutcome | None]:
        idle = self._idle.get(spec.key)
        while idle:
            environment = idle.pop()
            if (
                not environment.dead
                and environment.process.poll() is None
                and _credentials_last_one_invocation(environment)
            ):
                environment.thaw()
                environment.busy = True
                self._busy.add(environment)
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
                if not ended:
                    return environment, None
                continue
            self._stop_later(environment)
        credentials = await self.credentials(spec) if self.credentials is not None else None
        environment = await self._start(spec, credentials)
        environment.busy = True
        self._busy.add(environment)
        try:
            init_error = await environment.wait_ready()
        except BaseException:
            self._busy.discard(environment)
            await environment.stop()
            raise
        return environment, init_error

    async def _start(self, spec: EnvironmentSpec, credentials: Credentials | None) -> Environment:
        """A new environment; when the /tmp budget is spent, idle environments (least
        recently used first) make room: they are a cache, a cold start is not."""
        for _ in range(EVICTION_ATTEMPTS):
            try:
                return await self.backend.start(spec, credentials)
            except EphemeralStorageExhausted:
                victim = self._least_recently_used_idle()
                if victim is not None:
                    await victim.stop()
                # Its /tmp is released on the unmounter thread, a moment after the stop.
                await asyncio.sleep(EVICTION_PAUSE_S)
        return await self.backend.start(spec, credentials)

    def _least_recently_used_idle(self) -> Environment | None:
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
        if environment.dead or retired or stale or self._closed:
            self._stop_later(environment)
            return
        self._idle[environment.spec.key].append(environment)
        # After the response is on its way: an idle environment must not run (or burn CPU).
        environment.freeze_when_idle()

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

    def reap(self, now: float | None = None) -> None:
        """Stop the environments idle for longer than the keep-alive (as of ``now``, on the
        monotonic clock: the current time unless given), and those whose credentials would
        not last another invocation."""
        cutoff = (time.monotonic() if now is None else now) - self.keep_alive_s
        for key, environments in list(self._idle.items()):
            keep = [
                env
                for env in environments
                if env.last_used >= cutoff
                and not env.dead
                and _credentials_last_one_invocation(env)
            ]
            for env in environments:
                if env not in keep:
                    self._stop_later(env)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]


def _credentials_last_one_invocation(environment: Environment) -> bool:
    return environment.credentials_last(environment.spec.timeout_s + CREDENTIALS_MARGIN_S)


def _log_failure(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            logger.warning("stopping an environment failed: %r", exc)
