"""A SnapStart tenant who wants out: its init rewrites the runtime's template code, so the
template and every fork run whatever it likes instead of the protocol.

None of it may reach another environment's uid, stall the executor, or turn into an
error other than an ordinary start.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from invocations.executor import identity, sandbox, templates
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.templates import ForkedProcess
from invocations.tests.test_snapstart import (
    APP,
    _code,
    _invoke,
    _spec,
    _started,
    _with_backend,
)

pytestmark = pytest.mark.sandbox

# The fork makes its namespace pair, then forks a grandchild before the executor has set
# it up; the grandchild waits for the uid map, takes the environment's new host uid, and
# stays (outside the environment's cgroup) after the environment is stopped.
KEEPS_THE_UID = r"""
import __main__, os, time
T = os.getuid()
_real = __main__.become_environment


class _Unshared:
    def __init__(self, real):
        self.real = real

    def unshare(self, flags):
        return 0

    def __getattr__(self, name):
        return getattr(self.real, name)


def become(api, libc, output, control):
    if libc.unshare(0x10000000 | 0x00020000) != 0:
        os._exit(1)
    if os.fork() == 0:
        os.close(control)
        os.close(output)
        for _ in range(4000):
            if open("/proc/self/uid_map").read().strip():
                break
            time.sleep(0.001)
        os.setresgid(T, T, T)
        os.setresuid(T, T, T)
        while True:
            time.sleep(1)
    return _real(api, _Unshared(libc), output, control)


__main__.become_environment = become


def handler(event, context):
    return 1
"""

# A template runtime rewritten by its init: connected to the executor, then silent.
_CONNECTS = r"""
import __main__, socket, time


def connected(address):
    executor = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for _ in range(500):
        try:
            executor.connect("\0" + address)
            return executor
        except ConnectionRefusedError:
            time.sleep(0.01)


def handler(event, context):
    return "started the usual way"
"""
NEVER_READY = (
    _CONNECTS
    + r"""
def serve(api, address):
    executor = connected(address)
    while True:
        time.sleep(1)


__main__.serve_as_template = serve
"""
)
NEVER_FORKS = (
    _CONNECTS
    + r"""
def serve(api, address):
    executor = connected(address)
    executor.send(b'{"ready": true}')
    while True:
        time.sleep(1)


__main__.serve_as_template = serve
"""
)

HANGS_UP = (
    _CONNECTS
    + r"""
def serve(api, address):
    connected(address).send(b'{"ready": true}')  # then closed with the socket
    while True:
        time.sleep(1)


__main__.serve_as_template = serve
"""
)

GARBLED_PID = r"""
import __main__, os, socket


def become(api, libc, output, control):
    socket.socket(fileno=control).send(b'{"pid": Infinity}')
    os._exit(0)


__main__.become_environment = become


def handler(event, context):
    return "started the usual way"
"""


def _running_as(uid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_forked_uid_taken_by_a_stray_grandchild_is_nobody_elses_until_the_template_ends(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        spec = _spec(_code(tmp_path, KEEPS_THE_UID))
        try:
            environment = await _started(backend, spec)
            assert (await _invoke(environment, {})).function_error is None
            uid = environment.process.user.uid  # type: ignore[attr-defined]
            await environment.stop()
            deadline = time.monotonic() + 10
            while not _running_as(uid):  # the grandchild took it
                assert time.monotonic() < deadline, "the grandchild never took the uid"
                await asyncio.sleep(0.05)
            # Still the template's: no other environment can be given it.
            assert identity._try(uid) is None
            assert (identity.LOCK_DIR / str(uid)).exists()
        finally:
            await backend.close()
        # The template's pid namespace took the grandchild with it; then the uid is free.
        assert not _running_as(uid)
        assert not (identity.LOCK_DIR / str(uid)).exists()

    asyncio.run(scenario())


def test_a_template_that_never_gets_ready_costs_one_init_timeout_then_starts_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "INIT_TIMEOUT_S", 1.0)

    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, NEVER_READY))
        began = time.monotonic()
        environment = await asyncio.wait_for(backend.start(spec), 30)
        assert not isinstance(environment.process, ForkedProcess)
        result = await _invoke(environment, {})
        assert result.payload == b'"started the usual way"'
        await environment.stop()
        # Not asked again for a while: the next start does not wait for a template.
        again = await backend.start(spec)
        assert not isinstance(again.process, ForkedProcess)
        await again.stop()
        assert time.monotonic() - began < 20

    _with_backend(tmp_path, scenario)


@pytest.mark.parametrize("source", [NEVER_FORKS, HANGS_UP], ids=["never-forks", "hangs-up"])
def test_a_template_that_never_forks_is_given_up_and_starts_go_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.setattr(templates, "FORK_TIMEOUT_S", 0.5)

    async def scenario(backend: SandboxBackend) -> None:
        spec = _spec(_code(tmp_path, source))
        environment = await asyncio.wait_for(backend.start(spec), 30)
        assert not isinstance(environment.process, ForkedProcess)
        assert (await _invoke(environment, {})).payload == b'"started the usual way"'
        await environment.stop()
        assert spec.key not in backend._templates

    _with_backend(tmp_path, scenario)


def test_a_fork_that_reports_a_garbled_pid_means_an_ordinary_start(tmp_path: Path) -> None:
    async def scenario(backend: SandboxBackend) -> None:
        environment = await backend.start(_spec(_code(tmp_path, GARBLED_PID)))
        assert not isinstance(environment.process, ForkedProcess)
        assert (await _invoke(environment, {})).payload == b'"started the usual way"'
        await environment.stop()

    _with_backend(tmp_path, scenario)


def test_the_mount_helper_refuses_anything_but_a_mount_namespace() -> None:
    helper = templates._MountHelper()
    network = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with pytest.raises(templates.TemplateUnavailable, match="setns"):
            helper.mount_tmp(network, 1 << 20)
    finally:
        os.close(network)
        helper._stop()


SKIPS_ITS_NAMESPACE = r"""
import __main__, json, os, socket


def become(api, libc, output, control):
    # Reports itself without making its user namespace: the uid map write is refused.
    socket.socket(fileno=control).send(json.dumps({"pid": os.getpid()}).encode())
    socket.socket(fileno=control).recv(1 << 20)
    os._exit(0)


__main__.become_environment = become


def handler(event, context):
    return "started the usual way"
"""


def _recording_uids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The uids this test's backends take (other processes share the lock directory)."""
    taken: list[int] = []
    allocate = identity.allocate

    def recorded() -> identity.Identity:
        user = allocate()
        taken.append(user.uid)
        return user

    monkeypatch.setattr(identity, "allocate", recorded)
    return taken


def _all_released(uids: list[int]) -> bool:
    return not any((identity.LOCK_DIR / str(uid)).exists() for uid in uids)


def test_a_template_whose_first_fork_fails_gives_back_every_uid_it_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _recording_uids(monkeypatch)

    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        try:
            environment = await backend.start(_spec(_code(tmp_path, SKIPS_ITS_NAMESPACE)))
            assert not isinstance(environment.process, ForkedProcess)
            assert (await _invoke(environment, {})).payload == b'"started the usual way"'
            await environment.stop()
        finally:
            await backend.close()
        assert len(taken) >= 3  # the template's, the failed fork's, the ordinary start's
        assert _all_released(taken)

    asyncio.run(scenario())


def test_closing_the_backend_stops_a_retired_template_whose_fork_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _recording_uids(monkeypatch)

    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        spec = _spec(_code(tmp_path, APP))
        environment = await _started(backend, spec)
        template = backend._templates[spec.key]
        backend.retire(spec.function_arn + ":")
        await asyncio.sleep(0.2)
        await backend.close()  # the fork still runs: the retiring template is stopped too
        assert template.environment.process.poll() is not None
        deadline = time.monotonic() + 5
        while environment.process.poll() is None:  # killed with it
            assert time.monotonic() < deadline, "the fork outlived its template"
            await asyncio.sleep(0.05)
        await environment.stop()
        assert _all_released(taken)

    asyncio.run(scenario())
