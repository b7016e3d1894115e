"""A container's mount table names no host path of the platform (issue 10, item 12).

Code, layers and the runtimes were binds of host directories, and the io FIFO, passwd and
group came from the state directory: ``/proc/self/mountinfo`` showed each one's host
path. Now the trees are erofs volumes over read-only loop devices, one per tree shared by
its containers, removed with their devices when the backend closes or, for a dead
executor, by the next one; the io files come from a directory of their own in /dev/shm.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, LiveServer, client_for, create_function, create_user, make_zip
from invocations.executor import cgroups, treeimages
from invocations.executor.spec import EnvironmentSpec
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.docker, pytest.mark.one_profile]

WAIT_S = 60.0

LOOK = """
import glob, os

def handler(event, context):
    return {
        "mountinfo": open("/proc/self/mountinfo").read(),
        "task": sorted(os.listdir("/var/task")),
        "opt": sorted(os.listdir("/opt")),
        "runtime": sorted(os.listdir("/var/runtime")),
        "layer": open("/opt/marker.txt").read(),
        "backing": [open(p).read() for p in glob.glob("/sys/block/loop*/loop/backing_file")],
    }
"""


def _needs_images() -> None:
    if not treeimages.available():
        pytest.skip("this host cannot mount erofs images: trees are bound from the host")


def _wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _loops_over(directory: Path) -> list[str]:
    """Loop devices backed by a file in ``directory`` (deleted or not)."""
    found = []
    for loop in Path("/sys/block").glob("loop*/loop"):
        with contextlib.suppress(OSError):
            backing = loop.joinpath("backing_file").read_text().strip()
            if Path(backing.removesuffix(" (deleted)")).parent == directory:
                found.append(loop.parent.name)
    return found


def _volume_gone(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return True
    return False


def _tree_volumes(client: Any, owner: str) -> list[str]:
    from invocations.executor.docker_trees import VOLUME_PREFIX

    volumes = client.volumes.list(filters={"label": f"functory.owner={owner}"})
    return [v.name for v in volumes if v.name.startswith(VOLUME_PREFIX)]


def test_a_functions_mount_table_names_no_host_path(functory_docker: LiveServer) -> None:
    _needs_images()
    lam = client_for(functory_docker, create_user(functory_docker))
    layer = lam.publish_layer_version(
        LayerName="marker", Content={"ZipFile": make_zip({"marker.txt": "from the layer"})}
    )
    create_function(
        lam,
        "mounts",
        Code={"ZipFile": make_zip({"app.py": LOOK})},
        Layers=[layer["LayerVersionArn"]],
        Timeout=30,
    )
    response = invoke(lam, "mounts", LogType="Tail")
    body = response["Body"]
    assert "FunctionError" not in response, response.get("Log")
    assert body["task"] == ["app.py"]
    assert body["opt"] == ["marker.txt"] and body["layer"] == "from the layer"
    assert "python" in body["runtime"]

    data_dir = Path(functory_docker.env["FUNCTORY_DATA_DIR"])
    # Whole paths, and their tails (a bind's root is relative to its file system's mount).
    forbidden = [str(ROOT), str(data_dir), ".venv", "site-packages"]
    forbidden += [data_dir.name, "runtime/code", "runtime/state", "invocations/executor"]
    for path in forbidden:
        assert path not in body["mountinfo"], (path, body["mountinfo"])
    # /work as a path of its own (the overlay root's options end in Docker's ``.../work``).
    paths = re.split(r"[\s,=:]+", body["mountinfo"])
    assert not [p for p in paths if p == "/work" or p.startswith("/work/")], body["mountinfo"]
    assert body["backing"] == []  # sysfs names each loop device's file
    lines = {line.split()[4]: line for line in body["mountinfo"].splitlines()}
    for target in ("/var/task", "/opt", "/var/runtime"):
        assert " - erofs " in lines[target], lines[target]
        assert lines[target].split()[3] == "/", lines[target]  # the root: the tree itself


# A crashed executor: a container running on its tree volume, and a device it attached
# but made no volume of (it died in between).
CRASHING_EXECUTOR = """
import os, sys
from pathlib import Path
import docker
from invocations.executor import cgroups, treeimages
from invocations.executor.docker_backend import IMAGE
from invocations.executor.docker_tmp import owner_labels
from invocations.executor.docker_trees import DockerTrees

client = docker.from_env()
images = Path(sys.argv[1]).resolve() / "images"
trees = DockerTrees(client, images)
volume = trees.volume_for(sys.argv[2], images)
container = client.containers.run(
    IMAGE, ["sleep", "600"], detach=True, network_mode="none", labels=owner_labels(),
    mounts=[trees.mount("/var/task", sys.argv[2])],
)
link = trees.links / f"o{cgroups.owner_token()}-0123abcd"
os.link(treeimages.image_for(sys.argv[2], images), link)
unused = treeimages.attach(link)
print(container.id, volume.name, volume.device, unused, flush=True)
sys.stdin.read()
"""


def test_a_later_docker_backend_removes_the_tree_volumes_and_devices_of_a_dead_executor(
    tmp_path: Path,
) -> None:
    import docker

    from invocations.executor.docker_backend import DockerBackend, sweep_orphan_containers

    _needs_images()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.py").write_text("x = 1\n")
    state = tmp_path / "state"
    links = state.resolve() / "images" / "attached"
    executor = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING_EXECUTOR), str(state), str(tree)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert executor.stdout is not None
    client = docker.from_env()
    try:
        started = executor.stdout.readline().decode().split()
        assert len(started) == 4, "the crashing executor did not start"
        container_id, volume, device, unused = started
        assert sorted(_loops_over(links)) == sorted([Path(device).name, Path(unused).name])
        executor.kill()
        executor.wait()

        # The guardian's sweep (it knows no state directory): the volume and its device.
        sweep_orphan_containers(client)
        _wait_for(lambda: not client.containers.list(all=True, filters={"id": container_id}), "c")
        _wait_for(lambda: _volume_gone(client, volume), "the tree volume to go")
        assert _loops_over(links) == [Path(unused).name]
        # The next executor's: the device of no volume too.
        backend = DockerBackend(str(state), lambda *a: None)
        _wait_for(lambda: not _loops_over(links), "the loop devices to be detached")
        assert not any(links.iterdir())
        asyncio.run(backend.close())
    finally:
        executor.kill()
        executor.wait()
        sweep_orphan_containers(client, links)


def _spec(name: str, code_dir: str) -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        function_name=name,
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=128,
        timeout_s=30,
        code_dir=code_dir,
        layers_dir=None,
        log_group=f"/aws/lambda/{name}",
        account_id="123456789012",
    )


def test_functions_of_the_same_code_share_one_volume_removed_with_the_backend(
    tmp_path: Path,
) -> None:
    import docker

    from invocations.executor.docker_backend import DockerBackend, sweep_orphan_containers

    _needs_images()
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    os.chmod(code, 0o755)
    client = docker.from_env()
    state = tmp_path / "state"
    links = state.resolve() / "images" / "attached"
    owner = cgroups.owner_token()
    io_dirs: list[Path] = []

    async def scenario() -> list[dict[str, Any]]:
        backend = DockerBackend(str(state), lambda *a: None)
        environments = []
        try:
            # Two cold starts at once, of two functions with the same code.
            environments = list(
                await asyncio.gather(
                    backend.start(_spec("first", str(code))),
                    backend.start(_spec("second", str(code))),
                )
            )
            mounts = []
            for environment in environments:
                container = environment.process.container  # type: ignore[attr-defined]
                container.reload()
                (task,) = [m for m in container.attrs["Mounts"] if m["Destination"] == "/var/task"]
                mounts.append(task)
                io_dirs.append(Path(container.labels["functory.io"]))
            assert all(io_dir.parent == Path("/dev/shm") for io_dir in io_dirs), io_dirs
            assert _loops_over(links)
        finally:
            for environment in environments:
                await environment.stop()
            await backend.close()
        return mounts

    try:
        first, second = asyncio.run(scenario())
        assert first["Type"] == second["Type"] == "volume", (first, second)
        assert first["Name"] == second["Name"]
        assert not _tree_volumes(client, owner)
        assert not _loops_over(links)
        assert not any(links.iterdir())
        assert io_dirs and not any(io_dir.exists() for io_dir in io_dirs)
    finally:
        for name in _tree_volumes(client, owner):
            with contextlib.suppress(Exception):
                client.api.remove_volume(name, force=True)
        sweep_orphan_containers(client, links)
        # This process is alive: the sweep leaves its devices; these are the test's own.
        for loop in _loops_over(links):
            subprocess.run(["losetup", "-d", f"/dev/{loop}"], check=False)
