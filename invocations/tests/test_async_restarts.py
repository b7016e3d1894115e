"""Nothing accepted is lost across restarts: the server killed right after accepting events,
the broker's messages gone (Redis here keeps nothing on disk), then a new server and a new
worker: every event still runs, because the events live in the database, not the broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

from conftest import (
    ROOT,
    client_for,
    create_function,
    create_user,
    done_markers,
    make_zip,
    run_server,
)
from console.celery_worker import worker_command

pytestmark = pytest.mark.live

EVENTS = 30
BROKER = os.environ.get("FUNCTORY_TEST_BROKER_URL", "redis://127.0.0.1:6379/9")


def test_events_survive_a_server_kill_and_a_broker_that_lost_its_messages(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {
        "CELERY_BROKER_URL": BROKER,
        "FUNCTORY_EMBEDDED_WORKER": "0",  # no worker yet: the events wait in the broker
        "FUNCTORY_ASYNC_REQUEUE_AFTER_SECONDS": "3",
        "FUNCTORY_ASYNC_SWEEP_SECONDS": "1",
    }
    broker = redis.Redis.from_url(BROKER)
    broker.flushdb()
    first_run = run_server(tmp_path_factory, env)
    first = next(first_run)
    second_run = None
    worker = None
    try:
        credentials = create_user(first)
        lam = client_for(first, credentials)
        name = f"restart-{uuid.uuid4().hex[:8]}"
        code = "def handler(event, context):\n    print('done', event['n'])\n"
        create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
        for n in range(EVENTS):
            response = lam.invoke(
                FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n})
            )
            assert response["StatusCode"] == 202
        assert broker.llen("celery") == EVENTS  # handed to the broker, nobody took them

        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        broker.flushdb()  # the broker restarted empty

        second_run = run_server(tmp_path_factory, env, share_with=first)
        second = next(second_run)
        data_dir = Path(second.env["FUNCTORY_DATA_DIR"])
        log = open(data_dir / "restart-worker.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            worker_command(data_dir / "celerybeat-schedule-restart"),
            env=second.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        logs = client_for(second, credentials, "logs")
        deadline = time.monotonic() + 120
        while (seen := done_markers(logs, name)) != set(range(EVENTS)):
            assert time.monotonic() < deadline, f"{EVENTS - len(seen)} events lost"
            time.sleep(0.5)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        if second_run is not None:
            second_run.close()
        first_run.close()
        broker.flushdb()
