"""Nothing accepted is lost: a Celery worker killed mid-run, and a new one started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import (
    QUICK_ASYNC_RECOVERY,
    ROOT,
    LiveServer,
    async_rows,
    client_for,
    create_function,
    create_user,
    descendants,
    done_markers,
    is_celery,
    make_zip,
    run_server,
)
from console.celery_worker import worker_command

pytestmark = pytest.mark.live

EVENTS = 200


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose lost claims and messages come back within seconds."""
    yield from run_server(tmp_path_factory, QUICK_ASYNC_RECOVERY)


def test_every_event_runs_although_the_worker_is_killed_mid_run(functory: LiveServer) -> None:
    credentials = create_user(functory)
    lam = client_for(functory, credentials)
    logs = client_for(functory, credentials, "logs")
    name = f"fault-{uuid.uuid4().hex[:8]}"
    code = (
        "import time\n"
        "def handler(event, context):\n"
        "    time.sleep(0.02)\n"
        "    print('done', event['n'])\n"
    )
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
    for n in range(EVENTS):
        response = lam.invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n})
        )
        assert response["StatusCode"] == 202

    deadline = time.monotonic() + 120
    while len(done_markers(logs, name)) < 10:
        assert time.monotonic() < deadline, "the worker never started on the events"
        time.sleep(0.2)
    workers = [pid for pid in descendants(functory.process.pid) if is_celery(pid)]
    assert workers
    victims = {pid for worker in workers for pid in [worker, *descendants(worker)]}
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    done_before = len(done_markers(logs, name))

    data_dir = Path(functory.env["FUNCTORY_DATA_DIR"])
    log = open(data_dir / "replacement-worker.log", "wb")  # noqa: SIM115
    replacement = subprocess.Popen(
        worker_command(data_dir / "celerybeat-schedule-2"),
        env=functory.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while (seen := done_markers(logs, name)) != set(range(EVENTS)):
            if time.monotonic() > deadline:
                missing = [json.dumps({"n": n}) + " " for n in set(range(EVENTS)) - seen]
                report = async_rows(functory, name).splitlines()
                pytest.fail(
                    f"{len(missing)} events lost (done before the kill: {done_before}):\n"
                    + "\n".join(
                        line
                        for line in report
                        if not line.startswith("{") or line.startswith(tuple(missing))
                    )
                )
            time.sleep(1)
    finally:
        replacement.terminate()
        try:
            replacement.wait(timeout=10)
        except subprocess.TimeoutExpired:
            replacement.kill()
        log.close()
