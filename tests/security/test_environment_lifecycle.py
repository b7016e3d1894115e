"""Between invocations nothing of an environment runs, and all environments share a ceiling.

A tenant's handler can leave a child process (or thread) running after it returns; on
AWS it is frozen with the environment and resumes in the next invocation. Here too: an
idle environment's cgroup is frozen, a frozen environment is still reaped cleanly, and
frozen cgroups left by a dead executor are thawed and killed by the next one (or by the
dead executor's guardian). The parent cgroup bounds the sum over all environments.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from invocations.executor import cgroups, ephemeral
from invocations.executor.environment import Environment
from invocations.executor.pool import Backend, EnvironmentPool
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.spec import EnvironmentSpec, InvokeRequest

# The handler starts a busy child once, and returns at once; later invocations report
# whether the child is alive and making progress while they run.
APP = """
import os, subprocess, sys, time

CHILD = None

def _ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

def handler(event, context):
    global CHILD
    if CHILD is None:
        CHILD = subprocess.Popen(["python3", "-c", "while True: pass"])
        return {"child": CHILD.pid}
    before = _ticks(CHILD.pid)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _ticks(CHILD.pid) == before:
        time.sleep(0.01)
    return {"alive": CHILD.poll() is None, "progressed": _ticks(CHILD.pid) > before}
"""

WAIT_S = 20.0


def _wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def _await_for(condition: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def code_dir(tmp_path: Path) -> str:
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "app.py").write_text(APP)
    os.chmod(directory, 0o755)
    os.chmod(directory / "app.py", 0o644)
    return str(directory)


def _spec(code_dir: str) -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:lifecycle",
        function_name="lifecycle",
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=256,
        timeout_s=30,
        code_dir=code_dir,
        layers_dir=None,
        log_group="/aws/lambda/lifecycle",
        account_id="123456789012",
    )


async def _invoke(pool: EnvironmentPool, spec: EnvironmentSpec) -> dict[str, object]:
    request = InvokeRequest(
        request_id=str(uuid.uuid4()), payload=b"{}", invoked_arn=spec.function_arn
    )
    result = await pool.invoke(spec, request)
    assert result.function_error is None, result.payload
    body: dict[str, object] = json.loads(result.payload)
    return body


def _only_idle(pool: EnvironmentPool) -> Environment:
    (environment,) = [env for envs in pool._idle.values() for env in envs]
    return environment


def _sandbox_cgroup(environment: Environment) -> cgroups.Cgroup:
    cgroup = getattr(environment.process, "cgroup", None)
    assert cgroup is not None, "the sandbox runs without cgroups here"
    return cgroup


def _cgroup_dirs(cgroup: cgroups.Cgroup) -> list[Path]:
    if isinstance(cgroup, cgroups.CgroupV1):
        return list(cgroup.paths.values())
    return [cgroup.path]


def _pids(cgroup: cgroups.Cgroup) -> list[int]:
    path = cgroup.paths["pids"] if isinstance(cgroup, cgroups.CgroupV1) else cgroup.path
    return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: it runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


# -- freezing ----------------------------------------------------------------------------


async def _child_is_frozen_between_invocations(
    pool: EnvironmentPool,
    spec: EnvironmentSpec,
    state: Callable[[Environment], str],
    usage: Callable[[Environment], int],
) -> None:
    assert "child" in await _invoke(pool, spec)
    environment = _only_idle(pool)
    await _await_for(lambda: state(environment) == "FROZEN", "the idle environment to freeze")
    before = usage(environment)
    await asyncio.sleep(0.5)  # a busy child would use ~0.5 CPU-seconds here
    assert usage(environment) == before, "the environment used CPU while idle"
    # The next invocation thaws it: the child is alive and runs again, as on AWS.
    assert await _invoke(pool, spec) == {"alive": True, "progressed": True}
    await _await_for(lambda: state(environment) == "FROZEN", "the environment to freeze again")


@pytest.mark.sandbox
def test_a_child_left_running_by_a_handler_burns_no_cpu_while_the_sandbox_is_idle(
    tmp_path: Path, code_dir: str
) -> None:
    async def scenario() -> None:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            await _child_is_frozen_between_invocations(
                pool,
                _spec(code_dir),
                lambda env: _sandbox_cgroup(env).freezer_state(),
                lambda env: _sandbox_cgroup(env).cpu_usage_ns(),
            )
        finally:
            await pool.close()

    asyncio.run(scenario())


@pytest.mark.sandbox
def test_a_frozen_environment_is_reaped_and_retired_cleanly(tmp_path: Path, code_dir: str) -> None:
    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend, keep_alive_s=1.0)
        try:
            spec = _spec(code_dir)
            for retire in (False, True):
                await _reaped_while_frozen(pool, spec, retire)
        finally:
            await pool.close()

    asyncio.run(scenario())


async def _reaped_while_frozen(pool: EnvironmentPool, spec: EnvironmentSpec, retire: bool) -> None:
    await _invoke(pool, spec)
    environment = _only_idle(pool)
    cgroup = _sandbox_cgroup(environment)
    await _await_for(lambda: cgroup.freezer_state() == "FROZEN", "a frozen environment")
    pids = _pids(cgroup)
    assert len(pids) >= 3  # bwrap, the runtime, the busy child
    if retire:
        pool.retire(spec.function_arn)  # else the keep-alive reaper takes it
    await _await_for(lambda: pool.stats()["idle"] == 0, "the environment to go")
    await _await_for(lambda: all(map(_gone, pids)), "its processes to die")
    dirs = _cgroup_dirs(cgroup)
    await _await_for(lambda: not any(p.exists() for p in dirs), "its cgroup to be removed")
    assert environment.process.poll() is not None


# -- orphans -----------------------------------------------------------------------------


def _frozen_cgroup_owned_by(owner: str) -> tuple[cgroups.Cgroup, subprocess.Popen[bytes]]:
    name = f"o{owner}-env-test{uuid.uuid4().hex[:8]}"
    cls = cgroups.CgroupV2 if cgroups.version() == 2 else cgroups.CgroupV1
    cgroup = cls(name, cgroups.Limits(64))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    cgroup.add(busy.pid)
    cgroup.freeze()
    _wait_for(lambda: cgroup.freezer_state() == "FROZEN", "the cgroup to freeze")
    return cgroup, busy


@pytest.mark.sandbox
def test_the_orphan_sweep_kills_frozen_cgroups_of_dead_owners_only() -> None:
    owner = subprocess.Popen(["sleep", "600"])
    other = subprocess.Popen(["sleep", "600"])
    orphan, orphan_busy = _frozen_cgroup_owned_by(cgroups.owner_token(owner.pid))
    kept, kept_busy = _frozen_cgroup_owned_by(cgroups.owner_token(other.pid))
    try:
        owner.kill()
        owner.wait()
        assert cgroups.sweep_orphans() >= 1
        assert orphan_busy.wait(timeout=WAIT_S) == -signal.SIGKILL
        assert not any(path.exists() for path in _cgroup_dirs(orphan))
        # A cgroup whose owner lives is another executor's environment: left alone.
        assert kept_busy.poll() is None
        assert kept.freezer_state() == "FROZEN"
    finally:
        kept.kill_all()
        kept_busy.wait(timeout=WAIT_S)
        kept.remove()
        other.kill()
        other.wait()
        orphan.kill_all()
        orphan.remove()


GUARDED_EXECUTOR = """
import subprocess, sys, time
from invocations.executor import cgroups, ephemeral

cgroups.start_guardian()
cgroup = cgroups.create("env-guarded", cgroups.Limits(64))
busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
cgroup.add(busy.pid)
cgroup.freeze()
while cgroup.freezer_state() != "FROZEN":
    time.sleep(0.01)
print(busy.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.sandbox
def test_an_executor_killed_with_frozen_environments_leaves_nothing_frozen_behind() -> None:
    root = Path(__file__).resolve().parents[2]
    executor = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(GUARDED_EXECUTOR)],
        cwd=root,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert executor.stdout is not None
    busy_pid = int(executor.stdout.readline())
    token = cgroups.owner_token(executor.pid)
    executor.kill()
    executor.wait()
    # Its guardian sees it die and thaws and kills what it left frozen, without waiting
    # for another executor to start.
    _wait_for(lambda: _gone(busy_pid), "the guardian to kill the frozen child")
    controller = "freezer" if cgroups.version() == 1 else ""
    parent = cgroups.ROOT / controller / cgroups.PARENT
    _wait_for(
        lambda: not any(p.name.startswith(f"o{token}-") for p in parent.iterdir()),
        "the guardian to remove the cgroup",
    )


# -- the parent's ceilings ---------------------------------------------------------------


@pytest.mark.sandbox
def test_the_parent_cgroup_bounds_all_environments_together(tmp_path: Path) -> None:
    SandboxBackend(str(tmp_path / "state"), lambda *a: None)
    total = cgroups.total_memory_mb() * cgroups.MB
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < total < host
    if cgroups.version() == 1:
        memory = cgroups.ROOT / "memory" / cgroups.PARENT / "memory.limit_in_bytes"
        pids = cgroups.ROOT / "pids" / cgroups.PARENT / "pids.max"
    else:
        memory = cgroups.ROOT / cgroups.PARENT / "memory.max"
        pids = cgroups.ROOT / cgroups.PARENT / "pids.max"
    assert int(memory.read_text()) == total
    assert pids.read_text().strip() == str(cgroups.DEFAULT_TOTAL_PIDS)


# -- Docker ------------------------------------------------------------------------------


@pytest.mark.docker
def test_a_child_left_running_by_a_handler_burns_no_cpu_while_the_container_is_idle(
    tmp_path: Path, code_dir: str
) -> None:
    from invocations.executor.docker_backend import DockerBackend, container_cgroup_file

    def state(environment: Environment) -> str:
        path = container_cgroup_file(environment.process.container.id, "freezer.state", "freezer")  # type: ignore[attr-defined]
        return path.read_text().strip() if path is not None else "unknown"

    def usage(environment: Environment) -> int:
        container_id = environment.process.container.id  # type: ignore[attr-defined]
        path = container_cgroup_file(container_id, "cpuacct.usage", "cpuacct")
        assert path is not None
        return int(path.read_text())

    if cgroups.version() != 1:
        pytest.skip("reads the container's v1 freezer and cpuacct files")

    async def scenario() -> None:
        backend: Backend = DockerBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend)
        try:
            await _child_is_frozen_between_invocations(pool, _spec(code_dir), state, usage)
            container = _only_idle(pool).process.container  # type: ignore[attr-defined]
        finally:
            await pool.close()
        _wait_for(lambda: _container_gone(container), "the frozen container to be removed")

    asyncio.run(scenario())


def _container_gone(container: object) -> bool:
    import docker.errors

    try:
        container.reload()  # type: ignore[attr-defined]
    except docker.errors.NotFound:
        return True
    return False


@pytest.mark.docker
def test_a_later_docker_backend_removes_frozen_containers_of_a_dead_executor(
    tmp_path: Path,
) -> None:
    import docker

    from invocations.executor.docker_backend import IMAGE, DockerBackend, container_cgroup_file

    owner = subprocess.Popen(["sleep", "600"])
    token = cgroups.owner_token(owner.pid)
    client = docker.from_env()
    container = client.containers.run(
        IMAGE,
        ["sleep", "600"],
        detach=True,
        network_mode="none",
        labels={
            "functory": "environment",
            "functory.owner": token,
            "functory.owner.host": socket.gethostname(),
        },
    )
    try:
        container.reload()
        freezer = container_cgroup_file(container.id, "freezer.state", "freezer")
        if freezer is not None:
            freezer.write_text("FROZEN")
        owner.kill()
        owner.wait()
        DockerBackend(str(tmp_path / "state"), lambda *a: None)
        _wait_for(lambda: _container_gone(container), "the leftover container to be removed")
    finally:
        owner.kill()
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


# -- ephemeral storage -------------------------------------------------------------------

FILL_TMP = """
def handler(event, context):
    written = 0
    chunk = b"x" * (1024 * 1024)
    with open("/tmp/fill", "wb") as handle:
        while written < event["mb"] * 1024 * 1024:
            try:
                handle.write(chunk)
                handle.flush()
            except OSError as exc:
                return {"written": written, "errno": exc.errno}
            written += len(chunk)
    return {"written": written, "errno": None}
"""


@pytest.mark.sandbox
def test_tmp_is_on_disk_charged_apart_from_memory_and_capped_at_its_size(tmp_path: Path) -> None:
    if ephemeral.mode() != "disk":
        pytest.skip("this host has no loop devices: /tmp is a tmpfs")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(FILL_TMP)
    os.chmod(code, 0o755)
    os.chmod(code / "app.py", 0o644)
    spec = dataclasses.replace(_spec(str(code)), memory_mb=128, ephemeral_mb=1024, timeout_s=120)
    mib = 1024 * 1024

    async def fill(pool: EnvironmentPool, mb: int) -> dict[str, object]:
        payload = json.dumps({"mb": mb}).encode()
        request = InvokeRequest(str(uuid.uuid4()), payload, spec.function_arn)
        result = await pool.invoke(spec, request)
        assert result.function_error is None, result.payload  # never OOM-killed
        body: dict[str, object] = json.loads(result.payload)
        return body

    async def scenario() -> None:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            # Over 1 GB of /tmp written in 128 MB of memory (/tmp is not in memory), then
            # ENOSPC at EphemeralStorage (within a few blocks of it, never beyond).
            result = await fill(pool, 1100)
            assert result["errno"] == errno.ENOSPC, result
            assert 1016 * mib <= int(str(result["written"])) <= 1024 * mib, result
            # The mount is the executor's own: the host's mount table never shows it.
            assert "ephemeral" not in Path("/proc/1/mountinfo").read_text()
        finally:
            await pool.close()

    asyncio.run(scenario())
    images = tmp_path / "state" / "ephemeral"
    _wait_for(lambda: not any(images.iterdir()), "the /tmp image to be deleted")


@pytest.mark.sandbox
def test_tmp_images_left_by_a_dead_executor_are_deleted_on_start(tmp_path: Path) -> None:
    owner = subprocess.Popen(["sleep", "600"])
    dead = cgroups.owner_token(owner.pid)
    owner.kill()
    owner.wait()
    images = tmp_path / "state" / "ephemeral"
    images.mkdir(parents=True)
    (images / f"o{dead}-0123456789ab.img").write_bytes(b"image")
    (images / f"o{dead}-0123456789ab").mkdir()
    live = images / f"o{cgroups.owner_token()}-ba9876543210.img"
    live.write_bytes(b"ours")
    SandboxBackend(str(tmp_path / "state"), lambda *a: None)
    assert sorted(images.iterdir()) == [live]
