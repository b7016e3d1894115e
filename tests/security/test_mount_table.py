"""A sandbox's mount table names no host path of the platform (issue 10, item 12).

A bind mount shows its root within its source file system in ``/proc/self/mountinfo``:
binding the code cache's directory told a function where the platform keeps its state,
its code digest and where the checkout is. Code and layers are erofs images here, /etc
and the runtimes a tmpfs, a standby's slots a tmpfs of its own (``platformfs``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from invocations.executor import cgroups, platformfs, treeimages
from invocations.executor.pool import EnvironmentPool
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.spec import EnvironmentSpec, InvokeRequest

pytestmark = [pytest.mark.sandbox, pytest.mark.one_profile]

APP = """
import os

def handler(event, context):
    return {
        "mountinfo": open("/proc/self/mountinfo").read(),
        "task": sorted(os.listdir("/var/task")),
        "cwd": sorted(os.listdir(".")),
        "opt": sorted(os.listdir("/opt")),
        "runtime": sorted(os.listdir("/var/runtime")),
        "layer": open("/opt/python/shared.py").read() if os.path.exists("/opt/python") else None,
    }
"""


def _tree(path: Path, files: dict[str, str]) -> str:
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    for entry in [path, *path.rglob("*")]:
        os.chmod(entry, 0o755 if entry.is_dir() else 0o644)
    return str(path)


@pytest.fixture
def trees(tmp_path: Path) -> tuple[str, str]:
    if not treeimages.available():
        pytest.skip("this host cannot mount erofs images")
    code = _tree(tmp_path / "code-cache" / "abc123", {"app.py": APP})
    layers = _tree(tmp_path / "layer-cache" / "def456", {"python/shared.py": "LAYER = 1\n"})
    return code, layers


def _spec(code: str, layers: str | None, name: str = "mounts", **changes: Any) -> EnvironmentSpec:
    spec = EnvironmentSpec(
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        function_name=name,
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=128,
        timeout_s=20,
        code_dir=code,
        layers_dir=layers,
        log_group=f"/aws/lambda/{name}",
        account_id="123456789012",
    )
    return dataclasses.replace(spec, **changes)


async def _invoke(pool: EnvironmentPool, spec: EnvironmentSpec) -> dict[str, Any]:
    request = InvokeRequest(str(uuid.uuid4()), b"{}", spec.function_arn)
    result = await pool.invoke(spec, request)
    assert result.function_error is None, result.payload
    body: dict[str, Any] = json.loads(result.payload)
    return body


def _assert_no_host_path(mountinfo: str, tmp_path: Path) -> None:
    for path in (str(tmp_path), str(ROOT), "/work", ".venv", "site-packages", "code-cache"):
        assert path not in mountinfo, (path, mountinfo)


def _mounts_at(mountinfo: str, point: str) -> list[str]:
    """The file system types mounted at ``point``, bottom first."""
    return [
        line.split(" - ")[1].split()[0]
        for line in mountinfo.splitlines()
        if line.split()[4] == point
    ]


def test_a_fresh_sandbox_sees_its_code_and_layers_but_no_host_path(
    tmp_path: Path, trees: tuple[str, str]
) -> None:
    code, layers = trees
    # Not Lambda's default /tmp size: never a standby, always a fresh sandbox.
    spec = _spec(code, layers, ephemeral_mb=640)

    async def scenario() -> dict[str, Any]:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            return await _invoke(pool, spec)
        finally:
            await pool.close()

    body = asyncio.run(scenario())
    _assert_no_host_path(body["mountinfo"], tmp_path)
    assert body["task"] == body["cwd"] == ["app.py"]
    assert body["layer"] == "LAYER = 1\n"
    assert body["runtime"] == ["java", "nodejs", "python"]
    assert _mounts_at(body["mountinfo"], "/var/task") == ["erofs"]
    assert _mounts_at(body["mountinfo"], "/opt") == ["erofs"]


def test_a_standby_adopted_by_a_function_sees_its_code_and_no_host_path(
    tmp_path: Path, trees: tuple[str, str]
) -> None:
    code, layers = trees

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend)
        try:
            first = await _invoke(pool, _spec(code, None, name="first"))
            for _ in range(600):  # the first cold start asked for standbys of its runtime
                if backend._standby.get("python3.11"):
                    break
                await asyncio.sleep(0.1)
            assert backend._standby.get("python3.11"), "no standby environment was started"
            adopted = await _invoke(pool, _spec(code, layers, name="second"))
            return first, adopted
        finally:
            await pool.close()

    first, adopted = asyncio.run(scenario())
    assert _mounts_at(first["mountinfo"], "/var/task") == ["erofs"]
    # The slot the standby booted with, with the function's image mounted over it.
    assert _mounts_at(adopted["mountinfo"], "/var/task") == ["tmpfs", "erofs"]
    assert _mounts_at(adopted["mountinfo"], "/opt") == ["tmpfs", "erofs"]
    assert adopted["task"] == adopted["cwd"] == ["app.py"]
    assert adopted["layer"] == "LAYER = 1\n"
    _assert_no_host_path(adopted["mountinfo"], tmp_path)


def test_two_backends_over_one_state_dir_share_its_mounts(
    tmp_path: Path, trees: tuple[str, str]
) -> None:
    code, _ = trees
    state = str(tmp_path / "state")

    async def scenario() -> list[dict[str, Any]]:
        pools = [EnvironmentPool(SandboxBackend(state, lambda *a: None)) for _ in range(2)]
        try:
            specs = [_spec(code, None, name=f"f{n}", ephemeral_mb=640) for n in range(4)]
            return list(
                await asyncio.gather(*(_invoke(pools[n % 2], s) for n, s in enumerate(specs)))
            )
        finally:
            for pool in pools:
                await pool.close()

    bodies = asyncio.run(scenario())
    assert [body["task"] for body in bodies] == [["app.py"]] * 4
    assert len(list((tmp_path / "state" / "mounts").iterdir())) == 1


def test_idle_tree_mounts_beyond_the_limit_are_unmounted_and_mounted_again_when_used(
    tmp_path: Path, trees: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _ = trees
    other = _tree(tmp_path / "code-cache" / "other", {"app.py": APP, "extra.txt": "x"})
    monkeypatch.setattr(platformfs, "MAX_TREES", 1)
    monkeypatch.setattr(platformfs, "IDLE_TREE_S", 0.0)

    async def scenario() -> list[list[str]]:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            listings = []
            for tree, name in ((code, "a"), (other, "b"), (code, "c")):
                body = await _invoke(pool, _spec(tree, None, name=name, ephemeral_mb=640))
                listings.append(body["task"])
            return listings
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == [["app.py"], ["app.py", "extra.txt"], ["app.py"]]
    (own,) = (tmp_path / "state" / "mounts").iterdir()
    assert len(list((own / "trees").iterdir())) == 1  # the evicted one's mount point is gone


def test_mount_points_left_by_a_dead_executor_are_removed(
    tmp_path: Path, trees: tuple[str, str]
) -> None:
    code, _ = trees
    owner = subprocess.Popen(["sleep", "600"])
    dead = cgroups.owner_token(owner.pid)
    owner.kill()
    owner.wait()
    mounts = tmp_path / "state" / "mounts"
    left = mounts / f"o{dead}-0123abcd"
    (left / "trees" / ("0" * 40)).mkdir(parents=True)
    (left / "slots" / "0123456789ab" / "task").mkdir(parents=True)
    alive = mounts / f"o{cgroups.owner_token()}-feedbeef"
    alive.mkdir()

    async def scenario() -> None:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            await _invoke(pool, _spec(code, None, ephemeral_mb=640))
        finally:
            await pool.close()

    asyncio.run(scenario())
    remaining = {entry.name for entry in mounts.iterdir()}
    assert left.name not in remaining
    assert alive.name in remaining


def test_without_tree_images_sandboxes_still_run_from_bound_directories(
    tmp_path: Path, trees: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, layers = trees
    monkeypatch.setenv("FUNCTORY_TREE_IMAGES", "off")

    async def scenario() -> dict[str, Any]:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            return await _invoke(pool, _spec(code, layers, ephemeral_mb=640))
        finally:
            await pool.close()

    body = asyncio.run(scenario())
    assert body["task"] == ["app.py"]
    assert body["layer"] == "LAYER = 1\n"
    assert _mounts_at(body["mountinfo"], "/var/task") != ["erofs"]


def test_a_tree_whose_image_cannot_be_mounted_is_bound_as_a_directory(
    tmp_path: Path, trees: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _ = trees

    def no_loop_device(image: Path) -> str:
        raise subprocess.CalledProcessError(1, ["losetup"], stderr="could not find a free loop")

    monkeypatch.setattr(treeimages, "attach", no_loop_device)

    async def scenario() -> dict[str, Any]:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            return await _invoke(pool, _spec(code, None, ephemeral_mb=640))
        finally:
            await pool.close()

    body = asyncio.run(scenario())
    assert body["task"] == ["app.py"]
    assert _mounts_at(body["mountinfo"], "/var/task") != ["erofs"]


def test_a_standby_is_offered_only_once_its_sandbox_is_set_up(
    tmp_path: Path, trees: tuple[str, str]
) -> None:
    """Adopting a standby mounts the function's trees into its slot: done while bubblewrap
    still binds that slot, the sandbox died ("Race condition binding dirfd")."""
    code, layers = trees

    async def scenario() -> list[list[str]]:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend)
        listings = []
        try:
            for round_ in range(6):
                await backend._replenish("python3.11")
                ready = backend._standby.get("python3.11", [])
                assert ready, "no standby environment was started"
                assert all(booted.server.awaiting_assignment.done() for booted in ready)
                # Adopted the moment they are offered.
                specs = [_spec(code, layers, name=f"r{round_}s{n}") for n in range(len(ready))]
                bodies = await asyncio.gather(*(_invoke(pool, spec) for spec in specs))
                listings += [body["task"] for body in bodies]
        finally:
            await pool.close()
        return listings

    listings = asyncio.run(scenario())
    assert listings and all(listing == ["app.py"] for listing in listings), listings


LINKS = """
import os

def handler(event, context):
    out = {}
    for name in ("shadow", "up", "secret"):
        path = "/var/task/" + name
        out[name] = {"link": os.readlink(path) if os.path.islink(path) else None,
                     "readable": os.access(path, os.R_OK)}
    out["up_lists"] = sorted(os.listdir("/var/task/up"))
    return out
"""


def test_links_in_a_package_stay_links_in_its_image_and_bring_no_host_file(
    tmp_path: Path, trees: tuple[str, str]
) -> None:
    """mkfs.erofs runs as root over a tenant's tree: a link to a host file, or up out of
    the tree, must be stored as a link (resolved inside the sandbox), never followed."""
    code = tmp_path / "code-cache" / "links"
    _tree(code, {"app.py": LINKS})
    host_secret = tmp_path / "host-secret"
    host_secret.write_text("host only\n")
    os.symlink("/etc/shadow", code / "shadow")
    os.symlink("../../..", code / "up")
    os.symlink(str(host_secret), code / "secret")

    async def scenario() -> dict[str, Any]:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            return await _invoke(pool, _spec(str(code), None, ephemeral_mb=640))
        finally:
            await pool.close()

    body = asyncio.run(scenario())
    assert body["shadow"] == {"link": "/etc/shadow", "readable": False}
    assert body["secret"] == {"link": str(host_secret), "readable": False}
    # /var/task/../../.. is the sandbox's own root, not the host's.
    assert "var" in body["up_lists"] and "home" not in body["up_lists"]
    image = next((tmp_path / "state" / "images").glob("*.erofs"))
    assert b"host only" not in image.read_bytes()
