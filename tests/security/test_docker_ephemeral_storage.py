"""A container's /tmp is on disk: charged apart from memory, capped at its size, its own.

On the Docker backend a tmpfs /tmp counted against the container's memory: a 128 MB
function writing /tmp was OOM-killed long before its EphemeralStorage was full. Now each
container gets a volume over an ext4 image of EphemeralStorage (``docker_tmp.py``);
it goes with its container, and what a dead executor left is swept by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import LiveServer, client_for, create_function, create_user, make_zip
from invocations.executor import ephemeral
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.docker, pytest.mark.one_profile]

MIB = 1024 * 1024
WAIT_S = 60.0

# Unbuffered writes: each one lands in the file system or fails, so ``written`` is exact.
FILL_TMP = """
import os

def handler(event, context):
    written = 0
    chunk = b"x" * (1024 * 1024)
    with open("/tmp/" + event["name"], "wb", buffering=0) as handle:
        while written < event["mb"] * 1024 * 1024:
            try:
                written += handle.write(chunk)
            except OSError as exc:
                return {"written": written, "errno": exc.errno}
    mode = os.stat("/tmp").st_mode & 0o7777
    return {"written": written, "errno": None, "mode": mode, "files": sorted(os.listdir("/tmp"))}
"""


def _wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _loops_over(image: Path) -> list[str]:
    """Loop devices backed by ``image`` (deleted or not)."""
    found = []
    for loop in Path("/sys/block").glob("loop*/loop"):
        with contextlib.suppress(OSError):
            backing = loop.joinpath("backing_file").read_text().strip()
            if backing.removesuffix(" (deleted)") == str(image):
                found.append(loop.parent.name)
    return found


def _volume_gone(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return True
    return False


def test_a_128_mb_container_fills_a_1_gb_tmp_on_disk_then_gets_enospc(
    functory_docker: LiveServer,
) -> None:
    import docker

    if ephemeral.mode() != "disk":
        pytest.skip("this host has no loop devices: /tmp is a tmpfs")
    creds = create_user(functory_docker)
    lam = client_for(functory_docker, creds)
    function = create_function(
        lam,
        "filltmp",
        MemorySize=128,
        EphemeralStorage={"Size": 1024},
        Timeout=300,
        Code={"ZipFile": make_zip({"app.py": FILL_TMP})},
    )
    # 600 MB in 128 MB of memory: /tmp is not in memory (a tmpfs was OOM-killed here).
    first = invoke(lam, "filltmp", {"name": "a", "mb": 600})
    assert "FunctionError" not in first, first["Body"]
    assert first["Body"] == {"written": 600 * MIB, "errno": None, "mode": 0o1777, "files": ["a"]}

    client = docker.from_env()
    (container,) = client.containers.list(
        filters={"label": f"functory.function={function['FunctionArn']}"}
    )
    (tmp,) = [m for m in container.attrs["Mounts"] if m["Destination"] == "/tmp"]
    assert tmp["Type"] == "volume"
    volume = client.volumes.get(tmp["Name"])
    image = Path(volume.attrs["Labels"]["functory.tmp.image"])
    assert image.is_file()

    # The same environment keeps its /tmp; beyond EphemeralStorage it gets ENOSPC, and
    # within a few blocks of it (never beyond), not a crash.
    second = invoke(lam, "filltmp", {"name": "b", "mb": 600})
    assert "FunctionError" not in second, second["Body"]
    assert second["Body"]["errno"] == errno.ENOSPC, second["Body"]
    total = 600 * MIB + second["Body"]["written"]
    assert 1016 * MIB <= total <= 1024 * MIB, total

    # Its environment gone, so are its container, volume, image and loop device.
    lam.delete_function(FunctionName="filltmp")
    _wait_for(lambda: not client.containers.list(all=True, filters={"id": container.id}), "ctr")
    _wait_for(lambda: _volume_gone(client, volume.name), "the /tmp volume to be removed")
    _wait_for(lambda: not image.exists(), "the /tmp image to be deleted")
    _wait_for(lambda: not _loops_over(image), "the loop device to be freed")


# A crashed executor: one container started on its /tmp volume, one volume made whose
# container never started (its loop device still attached).
CRASHING_EXECUTOR = """
import sys
from pathlib import Path
import docker
from invocations.executor import ephemeral
from invocations.executor.docker_backend import IMAGE
from invocations.executor.docker_tmp import DockerTmp, owner_labels

client = docker.from_env()
tmp = DockerTmp(client, ephemeral.EphemeralStore(Path(sys.argv[1])))
running, unstarted = tmp.acquire(600), tmp.acquire(600)
container = client.containers.run(
    IMAGE, ["sleep", "600"], detach=True, network_mode="none",
    mounts=[running.mount()], labels=owner_labels(),
)
tmp.started(running)
tmp.close()  # its jobs done: the running one's loop device goes with its unmount
print(container.id, running.name, unstarted.name, flush=True)
sys.stdin.read()
"""


def test_a_later_docker_backend_removes_the_tmp_volumes_of_a_dead_executor(
    tmp_path: Path,
) -> None:
    import docker

    from invocations.executor.docker_backend import DockerBackend, sweep_orphan_containers

    if ephemeral.mode() != "disk":
        pytest.skip("this host has no loop devices: /tmp is a tmpfs")
    root = Path(__file__).resolve().parents[2]
    state = tmp_path / "state"
    executor = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING_EXECUTOR), str(state)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root), "FUNCTORY_EPHEMERAL_SPARE": "0"},
    )
    assert executor.stdout is not None
    client = docker.from_env()
    images = state / "ephemeral"
    try:
        started = executor.stdout.readline().decode().split()
        assert len(started) == 3, "the crashing executor did not start"
        container_id, *volumes = started
        made = sorted(images.iterdir())
        assert len(made) == 2 and all(_loops_over(image) for image in made)
        executor.kill()
        executor.wait()

        backend = DockerBackend(str(state), lambda *a: None)
        _wait_for(lambda: not client.containers.list(all=True, filters={"id": container_id}), "c")
        _wait_for(lambda: all(_volume_gone(client, v) for v in volumes), "the volumes to go")
        assert not any(images.iterdir())
        _wait_for(lambda: not any(_loops_over(i) for i in made), "the loop devices to go")
        asyncio.run(backend.close())
    finally:
        executor.kill()
        executor.wait()
        sweep_orphan_containers(client)
        ephemeral.detach_orphan_loops(images.resolve())


def test_docker_tmp_volumes_stay_within_the_total_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker

    from invocations.executor.docker_tmp import DockerTmp

    if ephemeral.mode() != "disk":
        pytest.skip("this host has no loop devices: /tmp is a tmpfs")
    monkeypatch.setenv("FUNCTORY_EPHEMERAL_TOTAL_MB", "1500")
    monkeypatch.setattr(ephemeral, "SPARE", 0)
    store = ephemeral.EphemeralStore(tmp_path / "state")
    client = docker.from_env()
    tmp = DockerTmp(client, store)
    try:
        first = tmp.acquire(1024)
        with pytest.raises(ephemeral.EphemeralStorageExhausted):
            tmp.acquire(1024)
        tmp.release(first)
        _wait_for(lambda: store.used_mb == 0, "the first volume's share to come back")
        assert _volume_gone(client, first.name) and not first.image.exists()
        tmp.release(tmp.acquire(1024))
    finally:
        tmp.close()
    assert not any(store.directory.iterdir())
