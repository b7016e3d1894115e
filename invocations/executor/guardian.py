"""Sweeps an executor's environment cgroups when that executor dies.

    python -m invocations.executor.guardian <owner token>

Started by ``cgroups.start_guardian`` with a pipe on stdin that only the executor holds.
EOF on it means the executor is gone (or closed it on purpose); the guardian then waits
for the owner's process to disappear and sweeps every orphaned cgroup: frozen
environments are killed and thawed instead of staying frozen forever, and so are the
containers it labelled as its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

from invocations.executor import cgroups


def main(owner: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the server is not our end
    while sys.stdin.buffer.read(65536):
        pass
    deadline = time.monotonic() + 30
    while cgroups.owner_alive(owner) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not cgroups.owner_alive(owner):
        cgroups.sweep_orphans()
        if os.path.exists("/var/run/docker.sock"):
            _sweep_containers()


def _sweep_containers() -> None:
    with contextlib.suppress(Exception):
        import docker

        from invocations.executor.docker_backend import sweep_orphan_containers

        sweep_orphan_containers(docker.from_env())


if __name__ == "__main__":
    main(sys.argv[1])
