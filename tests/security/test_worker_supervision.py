"""`serve` supervises the Celery worker it starts (issue 10, item 7)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import (
    QUICK_ASYNC_RECOVERY,
    ROOT,
    LiveServer,
    client_for,
    create_function,
    create_user,
    descendants,
    done_markers,
    make_zip,
    run_server,
)
from console.supervisor import FIRST_DELAY, MAX_DELAY, STEADY_SECONDS, Supervisor, read_state
from console.worker_user import blocked_folder, needed_paths, worker_user

pytestmark = pytest.mark.live

EVENTS = 100


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own (its worker gets killed) whose lost claims come back quickly."""
    yield from run_server(tmp_path_factory, QUICK_ASYNC_RECOVERY)


def _health(server: LiveServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
    return body


def _running_worker(server: LiveServer, not_pid: int | None = None) -> int:
    deadline = time.monotonic() + 60
    while True:
        worker = _health(server).get("worker") or {}
        if worker.get("running") and worker.get("pid") != not_pid:
            return int(worker["pid"])
        assert time.monotonic() < deadline, f"no running worker on /healthz: {worker}"
        time.sleep(0.2)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_a_killed_worker_is_reaped_restarted_and_its_events_all_run(
    functory: LiveServer,
) -> None:
    worker = _running_worker(functory)
    assert worker in descendants(functory.process.pid)
    credentials = create_user(functory)
    lam = client_for(functory, credentials)
    logs = client_for(functory, credentials, "logs")
    name = f"supervised-{uuid.uuid4().hex[:8]}"
    code = "def handler(event, context):\n    print('done', event['n'])\n"
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})

    def accept(numbers: range) -> None:
        for n in numbers:
            response = lam.invoke(
                FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n})
            )
            assert response["StatusCode"] == 202

    accept(range(EVENTS // 2))
    for pid in [worker, *descendants(worker)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    accept(range(EVENTS // 2, EVENTS))

    replacement = _running_worker(functory, not_pid=worker)
    assert replacement != worker
    # Reaped: the killed worker is gone, not a zombie of the server.
    deadline = time.monotonic() + 10
    while _state(worker) == "Z":
        assert time.monotonic() < deadline, "the killed worker was left a zombie"
        time.sleep(0.1)
    health = _health(functory)
    assert health["status"] == "ok"
    assert health["worker"]["restarts"] >= 1

    deadline = time.monotonic() + 180
    while (seen := done_markers(logs, name)) != set(range(EVENTS)):
        assert time.monotonic() < deadline, f"{EVENTS - len(seen)} accepted events never ran"
        time.sleep(0.5)


def test_a_child_that_keeps_dying_is_restarted_with_back_off_and_reaped(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    starts: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(["true"])  # dies at once, every time
        starts.append(process)
        return process

    supervisor = Supervisor("quitter", start, state)
    supervisor.start()
    try:
        deadline = time.monotonic() + 20
        while len(starts) < 3:
            assert time.monotonic() < deadline, "not restarted"
            time.sleep(0.05)
        # The third child may not have exited yet when it is recorded: what the state file
        # must say, once it has, is that nothing runs and the last child exited with 0.
        while (recorded := read_state(state)) is None or recorded["running"]:
            assert time.monotonic() < deadline, f"still recorded as running: {recorded}"
            time.sleep(0.05)
        assert recorded["last_exit"] == 0
    finally:
        supervisor.stop()
    assert supervisor.restarts >= 2
    # Every child reaped: those that ran out exited with 0; one started just as stop() came
    # may have been terminated instead (-SIGTERM), which is reaped all the same.
    assert all(process.returncode is not None for process in starts)
    assert all(process.returncode in (0, -signal.SIGTERM) for process in starts)
    assert not state.exists()


def test_healthz_says_degraded_while_the_worker_is_down(
    client: Any, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    settings.FUNCTORY_EMBEDDED_WORKER = True
    assert client.get("/healthz").json() == {"status": "ok"}  # not supervised here
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "worker-state.json").write_text(
        json.dumps({"name": "worker", "pid": dead.pid, "restarts": 3, "running": True})
    )
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["worker"]["running"] is False
    assert body["worker"]["restarts"] == 3
    (tmp_path / "worker-state.json").write_text(
        json.dumps({"name": "worker", "pid": os.getpid(), "restarts": 3})
    )
    assert client.get("/healthz").json()["status"] == "ok"


def test_restarts_back_off_and_reset_after_a_steady_run(tmp_path: Path) -> None:
    supervisor = Supervisor("x", lambda: subprocess.Popen(["true"]), tmp_path / "s.json")
    delays = [0.0]
    for _ in range(12):
        delays.append(supervisor.next_delay(delays[-1], ran_for=0.1))
    assert delays[1] == FIRST_DELAY
    assert delays[2] == 2 * FIRST_DELAY
    assert max(delays) == MAX_DELAY
    assert supervisor.next_delay(MAX_DELAY, ran_for=STEADY_SECONDS) == FIRST_DELAY


def test_a_dead_pid_on_record_reads_as_not_running(tmp_path: Path) -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"name": "worker", "pid": process.pid, "running": True}))
    assert read_state(state) == {"name": "worker", "pid": process.pid, "running": False}
    state.write_text("{half")
    assert read_state(state) is None


@pytest.fixture(scope="module")
def functory_in_reachable_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose data dir an unprivileged user can reach (pytest's own temporary
    folders are root's alone), as under ``make run``."""
    parent = Path(tempfile.mkdtemp(prefix="functory-worker-user-"))
    try:
        parent.chmod(0o755)
        (parent / "data").mkdir()
        yield from run_server(tmp_path_factory, data_dir=parent / "data")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def test_serve_prints_its_components_then_the_url_and_drops_root_for_the_worker(
    functory_in_reachable_dir: LiveServer,
) -> None:
    server = functory_in_reachable_dir
    worker = _running_worker(server)
    # An asynchronous event that ran: the worker is all the way up, its start-up output is
    # written (the banner came before it consumed anything).
    credentials = create_user(server)
    lam = client_for(server, credentials)
    logs = client_for(server, credentials, "logs")
    name = f"started-{uuid.uuid4().hex[:8]}"
    code = "def handler(event, context):\n    print('done', event['n'])\n"
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
    deadline = time.monotonic() + 120
    while done_markers(logs, name) != {1}:
        assert time.monotonic() < deadline, "the asynchronous event never ran"
        time.sleep(0.5)

    data_dir = Path(server.env["FUNCTORY_DATA_DIR"])
    output = (data_dir / f"server-{urlsplit(server.url).port}.log").read_text()
    user = worker_user()
    blocked = blocked_folder(user, needed_paths(ROOT, data_dir)) if user else None
    if user is None:  # not root: nothing to drop
        assert _uid(worker) == os.geteuid()
    elif blocked:
        # This Python (or the code) lies where the unprivileged user cannot go: the worker
        # stays root, and both serve and Celery say so (Celery's warning comes last).
        assert _uid(worker) == 0
        assert f"worker: runs as root, since {user.name} cannot enter {blocked}" in output
        assert "SecurityWarning: You're running the worker with superuser privileges" in output
        output = output[: output.index("SecurityWarning")].rsplit("\n", 1)[0]
    else:
        assert _uid(worker) == user.uid != 0
        assert f"worker: Celery, supervised, as {user.name}\n" in output
        assert "SecurityWarning" not in output

    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1] == f"Functory listening on {server.url}", output
    assert lines[0].startswith("server: uvicorn on 127.0.0.1:"), output
    assert any(line.startswith("worker: Celery, supervised, as ") for line in lines), output
    assert "beat: in the worker's process" in lines, output
    components = [i for i, line in enumerate(lines) if line.startswith(("server:", "worker:"))]
    credentials_at = lines.index("Created the first admin user. This is shown once; keep it safe:")
    assert credentials_at > max(components), output
    for banner in ("-------------- celery@", "[config]", "[queues]", "No hostname was supplied"):
        assert banner not in output
