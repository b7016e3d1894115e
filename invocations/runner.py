"""The process's executor: one environment pool on the server's event loop.

The embedded profile runs it inside the web server. The backend is chosen by
``FUNCTORY_EXECUTOR_BACKEND`` (``sandbox``, the default, or ``docker``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from invocations.credentials import execution_credentials
from invocations.executor.environment import LogSink
from invocations.executor.pool import Backend, EnvironmentPool, default_memory_floor_mb
from invocations.executor.spec import EnvironmentSpec
from monitoring.ingest import ingestor
from monitoring.traces.ingest import ingestor as traces

if TYPE_CHECKING:
    from invocations.executor.sandbox import SandboxBackend

_pools: dict[asyncio.AbstractEventLoop, EnvironmentPool] = {}


def _log_sink(
    spec: EnvironmentSpec, stream: str, events: list[tuple[int, str]], essential: bool
) -> None:
    if spec.log_group.startswith("aws/"):
        # CloudWatch reserves group names starting with aws/: Lambda cannot create such a
        # custom group, so, as AWS documents, none of the function's logs are delivered.
        return
    ingestor.submit(spec.account_id, spec.log_group, stream, events, essential=essential)


def make_backend(name: str, log_sink: LogSink) -> Backend:
    state_dir = str(Path(settings.DATA_DIR) / "runtime" / "state")
    if name == "docker":
        from invocations.executor.docker_backend import DockerBackend

        backend: SandboxBackend = DockerBackend(state_dir, log_sink)
    else:
        from invocations.executor.sandbox import SandboxBackend

        backend = SandboxBackend(state_dir, log_sink)
    # Functions' X-Ray SDKs send to a daemon in each environment; what it accepts is stored
    # in batches (monitoring.traces.ingest).
    backend.segment_sink = traces.submit
    return backend


def pool() -> EnvironmentPool:
    """The pool of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    existing = _pools.get(loop)
    if existing is None:
        backend = make_backend(settings.FUNCTORY_EXECUTOR_BACKEND, _log_sink)
        existing = EnvironmentPool(
            backend,
            keep_alive_s=settings.FUNCTORY_KEEP_ALIVE_SECONDS,
            memory_floor_mb=(
                settings.FUNCTORY_REAP_MEMORY_FLOOR_MB
                if settings.FUNCTORY_REAP_MEMORY_FLOOR_MB is not None
                else default_memory_floor_mb()
            ),
            credentials=execution_credentials.for_spec,
        )
        _pools[loop] = existing
    return existing


def existing_pool() -> EnvironmentPool | None:
    """The running event loop's pool if something made it (making one sets up the
    backend: seccomp, cgroups, the egress fence, /tmp images)."""
    return _pools.get(asyncio.get_running_loop())


def retire(function_arn_prefix: str) -> None:
    """Retire environments of a function in every pool of this process (thread-safe)."""
    for loop, existing in list(_pools.items()):
        if loop.is_closed():
            _pools.pop(loop, None)
            continue
        loop.call_soon_threadsafe(existing.retire, function_arn_prefix)
