"""A standby environment boots with a network; a function without egress never sees it;
pasta does not outlive the executor that started it.

Standbys are booted before anyone knows which function they will serve, with pasta
attached when egress is the default (so most cold starts pay nothing for it). Adopted by a
function whose configuration has no egress, the standby's interfaces are downed and its
pasta killed before the function's code runs; pasta is reaped with the environment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from invocations.executor.pool import EnvironmentPool
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.spec import EnvironmentSpec, InvokeRequest

pytestmark = [pytest.mark.sandbox]

APP = """
import os, socket

def handler(event, context):
    with open("/proc/net/route") as table:
        routes = table.read().splitlines()[1:]
    return {
        "routes": routes,
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }
"""


def _spec(code_dir: str, egress: bool) -> EnvironmentSpec:
    name = "with-egress" if egress else "without-egress"
    return EnvironmentSpec(
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        function_name=name,
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=256,
        timeout_s=30,
        code_dir=code_dir,
        layers_dir=None,
        log_group=f"/aws/lambda/{name}",
        account_id="123456789012",
        egress=egress,
    )


async def _invoke(pool: EnvironmentPool, spec: EnvironmentSpec) -> dict[str, object]:
    request = InvokeRequest(
        request_id=str(uuid.uuid4()), payload=b"{}", invoked_arn=spec.function_arn
    )
    result = await pool.invoke(spec, request)
    assert result.function_error is None, result.payload
    body: dict[str, object] = json.loads(result.payload)
    return body


def test_a_standby_adopted_without_egress_has_only_its_loopback(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(APP)
    os.chmod(code, 0o755)
    os.chmod(code / "app.py", 0o644)
    spec = _spec(str(code), egress=True)

    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend)
        try:
            first = await _invoke(pool, spec)  # asks for standbys of python3.11
            routes = first["routes"]
            assert isinstance(routes, list)
            assert any(route.split()[1] == "00000000" for route in routes), first
            deadline = time.monotonic() + 30
            while not backend._standby.get("python3.11"):
                assert time.monotonic() < deadline, "no standby got ready"
                await asyncio.sleep(0.05)
            standby = backend._standby["python3.11"][-1]
            helper = standby.process.network
            assert helper is not None  # booted with its network
            offline = dataclasses.replace(spec, egress=False, function_name="without-egress")
            body = await _invoke(pool, offline)
            adopted = [env for envs in pool._idle.values() for env in envs]
            assert standby.process in [env.process for env in adopted]  # this standby
            assert body["routes"] == [], body
            assert body["endpoint"] is None
            # Killed before the code ran (its exit takes a moment: waited for, bounded).
            deadline = time.monotonic() + 10
            while helper.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert helper.process.returncode == -9
        finally:
            await pool.close()
            await backend.close()

    asyncio.run(scenario())


GUARDED_EXECUTOR = """
import subprocess, time
from invocations.executor import cgroups, egress

cgroups.start_guardian()
namespace = subprocess.Popen(["unshare", "-n", "sleep", "600"])
time.sleep(0.1)
helper = egress.attach(namespace.pid, 1900099990)
print(namespace.pid, helper.pid if helper else 0, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_an_executor_killed_leaves_no_pasta_behind() -> None:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    root = Path(__file__).resolve().parents[2]
    executor = subprocess.Popen(
        [sys.executable, "-c", GUARDED_EXECUTOR],
        cwd=root,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert executor.stdout is not None
    namespace_pid, pasta_pid = map(int, executor.stdout.readline().split())
    try:
        assert pasta_pid and not _gone(pasta_pid)
        executor.kill()
        executor.wait()
        # Its guardian kills what was in its cgroups, pasta's own included.
        deadline = time.monotonic() + 20
        while not _gone(pasta_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(pasta_pid)
    finally:
        os.kill(namespace_pid, signal.SIGKILL)
