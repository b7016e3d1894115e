"""SnapStart on the sandbox backend: environments forked from an initialised template.

Each forked environment must be as separate from its siblings and its template as the
template's sandbox allows: its own host uid, cgroup, /tmp and Runtime API; the template's
init (module state, ``before_snapshot`` hooks) shared; ``random`` reseeded.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from invocations.executor.environment import Environment
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.spec import Credentials, EnvironmentSpec, InvokeRequest, InvokeResult
from invocations.executor.templates import ForkedProcess

pytestmark = pytest.mark.sandbox

APP = r"""
import ctypes, os, random, signal, uuid
from snapshot_restore_py import register_after_restore, register_before_snapshot

TOKEN = uuid.uuid4().hex
INIT_PID = os.getpid()
open("/tmp/written-at-init", "w").write("x")
HOOKS = {"before": 0, "after": 0}
libc = ctypes.CDLL(None, use_errno=True)


@register_before_snapshot
def before():
    HOOKS["before"] += 1


@register_after_restore
def after():
    HOOKS["after"] += 1


def attempt(call):
    try:
        call()
    except OSError as exc:
        return exc.errno
    return 0


def unshare(flags):
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare")


# What the template's init may do (its filter is the laxer one): a user and mount namespace
# pair in a child, and nothing beyond it.
def init_probe():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        results = [attempt(lambda: unshare(0x10000000 | 0x00020000))]
        results.append(attempt(lambda: unshare(0x40000000)))  # a network namespace
        mount = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)
        results.append(0 if mount == 0 else ctypes.get_errno())
        os.write(write, json.dumps(results).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    return json.loads(os.read(read, 1000))


import json
INIT_PROBE = init_probe()


def handler(event, context):
    action = event.get("action")
    if action == "write":
        open("/tmp/" + event["name"], "w").write("y")
    if action == "exit":
        os._exit(event["code"])
    if action == "allocate":
        hog = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    if action == "escape":
        return {
            "unshare": attempt(lambda: unshare(0x10000000 | 0x00020000)),
            "signal_template": attempt(lambda: os.kill(os.getppid(), signal.SIGKILL)),
        }
    return {
        "token": TOKEN,
        "pid": os.getpid(),
        "init_pid": INIT_PID,
        "uid": os.getuid(),
        "tmp": sorted(os.listdir("/tmp")),
        "random": random.random(),
        "hooks": HOOKS,
        "init_probe": INIT_PROBE,
        "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
        "template_variable": os.environ.get("_FUNCTORY_TEMPLATE"),
        "key": os.environ.get("AWS_ACCESS_KEY_ID"),
    }
"""


def _code(tmp_path: Path, source: str) -> str:
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "app.py").write_text(source)
    os.chmod(directory, 0o755)
    os.chmod(directory / "app.py", 0o644)
    return str(directory)


def _spec(code_dir: str, memory: int = 128) -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:snap",
        function_name="snap",
        version="1",
        runtime="python3.11",  # the host's own: the backend forks any python3.x
        handler="app.handler",
        memory_mb=memory,
        timeout_s=10,
        code_dir=code_dir,
        layers_dir=None,
        log_group="/aws/lambda/snap",
        account_id="123456789012",
        snap_start=True,
    )


async def _invoke(environment: Environment, event: dict[str, Any]) -> InvokeResult:
    request = InvokeRequest(
        request_id=str(uuid.uuid4()),
        payload=json.dumps(event).encode(),
        invoked_arn=environment.spec.function_arn,
    )
    return await environment.invoke(request, await environment.wait_ready())


async def _started(backend: SandboxBackend, spec: EnvironmentSpec) -> Environment:
    environment = await backend.start(spec)
    assert isinstance(environment.process, ForkedProcess), "not forked from a template"
    return environment


def _with_backend(tmp_path: Path, scenario: Callable[[SandboxBackend], Awaitable[None]]) -> None:
    """Run ``scenario`` with a sandbox backend of its own, closed however it ends."""

    async def run() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        try:
            await scenario(backend)
        finally:
            await backend.close()

    asyncio.run(run())


def _host_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_forked_environments_share_the_init_but_not_tmp_uid_or_random_state(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, APP))
        first, second = await _started(backend, spec), await _started(backend, spec)
        await _invoke(first, {"action": "write", "name": "first-only"})
        one = json.loads((await _invoke(first, {})).payload)
        two = json.loads((await _invoke(second, {})).payload)
        # One init for both: the same module state, the hooks run as AWS runs them.
        assert one["token"] == two["token"]
        assert one["hooks"] == two["hooks"] == {"before": 1, "after": 1}
        assert one["pid"] != two["pid"] != one["init_pid"]
        # A /tmp of its own: empty at the fork (not the template's), unshared after.
        assert one["tmp"] == ["first-only"] and two["tmp"] == []
        assert one["random"] != two["random"]
        assert one["runtime_api"] != two["runtime_api"]
        assert one["template_variable"] is None
        # Inside, the uid the function's /etc/passwd names; on the host, one each.
        assert one["uid"] == two["uid"]
        host_uids = {_host_uid(env.process.pid) for env in (first, second)}
        assert len(host_uids) == 2 and one["uid"] not in host_uids
        assert {env.process.user.uid for env in (first, second)} == host_uids  # type: ignore[attr-defined]
        for environment in (first, second):
            await environment.stop()

    _with_backend(tmp_path, scenario)


def test_template_init_may_make_only_the_namespace_pair_and_no_mount(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        environment = await _started(backend, _spec(_code(tmp_path, APP)))
        probe = json.loads((await _invoke(environment, {})).payload)["init_probe"]
        # The pair (allowed, for the forks); a network namespace and a mount: EPERM.
        assert probe == [0, 1, 1]
        await environment.stop()

    _with_backend(tmp_path, scenario)


def test_a_forked_environment_gets_the_full_filter_and_cannot_signal_its_template(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, APP))
        environment = await _started(backend, spec)
        attempts = json.loads((await _invoke(environment, {"action": "escape"})).payload)
        assert attempts == {"unshare": 1, "signal_template": 1}  # EPERM both
        await environment.stop()
        # The template is unharmed: the next environment is forked from it.
        after = await _started(backend, spec)
        assert (await _invoke(after, {})).function_error is None
        await after.stop()

    _with_backend(tmp_path, scenario)


def test_a_forked_environment_is_held_to_its_own_memory_limit(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, APP))
        environment = await _started(backend, spec)
        result = await _invoke(environment, {"action": "allocate", "mb": 400})
        assert json.loads(result.payload)["errorType"] == "Runtime.OutOfMemory"
        await environment.stop()
        fine = await _started(backend, spec)
        assert (await _invoke(fine, {"action": "allocate", "mb": 20})).function_error is None
        await fine.stop()

    _with_backend(tmp_path, scenario)


def test_a_forked_environment_that_exits_reports_its_exit_status(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        environment = await _started(backend, _spec(_code(tmp_path, APP)))
        result = await _invoke(environment, {"action": "exit", "code": 3})
        assert result.function_error == "Unhandled"
        assert b"exit status 3" in result.payload, result.payload
        await environment.stop()

    _with_backend(tmp_path, scenario)


def test_a_failing_init_falls_back_to_a_fresh_start_that_reports_it(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        code = _code(tmp_path, "raise ValueError('no config')\ndef handler(e, c):\n    return 1\n")
        environment = await backend.start(_spec(code))
        assert not isinstance(environment.process, ForkedProcess)
        outcome = await environment.wait_ready()
        assert outcome is not None and b"no config" in outcome.payload
        await environment.stop()

    _with_backend(tmp_path, scenario)


def _credentials(key: str, lifetime_s: float) -> Credentials:
    return Credentials(key, "secret", "token", time.time() + lifetime_s)


def test_forks_get_their_templates_credentials_until_those_would_not_last(tmp_path):
    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        spec = _spec(_code(tmp_path, APP))

        async def seen(credentials: Credentials) -> dict[str, Any]:
            environment = await backend.start(spec, credentials)
            assert isinstance(environment.process, ForkedProcess)
            try:
                return dict(json.loads((await _invoke(environment, {})).payload))
            finally:
                await environment.stop()

        try:
            first = await seen(_credentials("AKIAFIRST", 3600))
            # Its init's SDK clients hold the first: every fork gets those, not newer ones.
            second = await seen(_credentials("AKIASECOND", 3600))
            assert second["key"] == first["key"] == "AKIAFIRST"
            assert second["token"] == first["token"]
        finally:
            await backend.close()
        backend = SandboxBackend(str(tmp_path / "state2"), lambda *a: None)
        try:
            # Credentials that would not outlast an invocation (and a margin): a new
            # template, initialised with the newer ones.
            first = await seen(_credentials("AKIASHORT", spec.timeout_s + 30))
            second = await seen(_credentials("AKIALONG", 3600))
            assert (first["key"], second["key"]) == ("AKIASHORT", "AKIALONG")
            assert first["token"] != second["token"]
        finally:
            await backend.close()

    asyncio.run(scenario())


async def _gone(process: Any, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_a_retired_versions_template_outlives_its_forks_then_stops(tmp_path):
    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, APP))
        environment = await _started(backend, spec)
        template = backend._templates[spec.key]
        backend.retire(spec.function_arn + ":")
        # Its fork still serves: the template's pid namespace must live on for it.
        await asyncio.sleep(1.5)
        assert template.environment.process.poll() is None
        assert (await _invoke(environment, {})).function_error is None
        await environment.stop()
        assert await _gone(template.environment.process)
        # The next start makes a new template.
        again = await _started(backend, spec)
        assert backend._templates[spec.key] is not template
        await again.stop()

    _with_backend(tmp_path, scenario)


def test_an_idle_template_is_stopped_after_its_keep_alive(tmp_path, monkeypatch):
    monkeypatch.setattr("invocations.executor.templates.IDLE_S", 0.2)

    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, APP))
        environment = await _started(backend, spec)
        template = backend._templates[spec.key]
        await asyncio.sleep(1)
        assert template.environment.process.poll() is None  # a fork still runs
        await environment.stop()
        assert await _gone(template.environment.process)
        assert spec.key not in backend._templates

    _with_backend(tmp_path, scenario)


def test_a_template_that_forked_its_share_is_replaced_and_stopped_once_unused(
    tmp_path, monkeypatch
):
    monkeypatch.setattr("invocations.executor.templates.MAX_FORKS", 2)

    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, APP))
        tokens = []
        first_template = None
        for _ in range(3):
            environment = await _started(backend, spec)
            first_template = first_template or backend._templates[spec.key]
            tokens.append(json.loads((await _invoke(environment, {})).payload)["token"])
            await environment.stop()
            await asyncio.sleep(0.2)  # its successor forked ahead
        assert tokens[0] == tokens[1] != tokens[2]
        assert first_template is not None
        assert backend._templates[spec.key] is not first_template
        assert await _gone(first_template.environment.process)

    _with_backend(tmp_path, scenario)
