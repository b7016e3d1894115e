"""A tenant cannot starve the host's /tmp budget into errors: when it is spent, idle
environments (least recently used first) are stopped to make room, and only when every
environment is busy does a new one get AWS's throttle (429), never a 500."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import LiveServer, client_for, create_function, create_user, make_zip
from conftest import run_server as start_server

pytestmark = [pytest.mark.live, pytest.mark.sandbox, pytest.mark.security, pytest.mark.one_profile]

APP = """
import os, time
def handler(event, context):
    if event.get("hold"):
        print("holding", flush=True)
    time.sleep(event.get("hold", 0))
    return os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize // (1024 * 1024)
"""


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Room for two 1 GB /tmp images and nothing else (no standbys, no spare images).
    yield from start_server(
        tmp_path_factory,
        {
            "FUNCTORY_EPHEMERAL_TOTAL_MB": "2100",
            "FUNCTORY_EPHEMERAL_SPARE": "0",
            "FUNCTORY_STANDBY_ENVIRONMENTS": "0",
        },
    )


def _functions(server: LiveServer, count: int) -> Any:
    lam = client_for(server, create_user(server))
    for n in range(count):
        create_function(
            lam,
            f"big-{n}",
            Code={"ZipFile": make_zip({"app.py": APP})},
            EphemeralStorage={"Size": 1024},
            Timeout=30,
        )
    return lam


def _invoke(lam: Any, name: str, hold: float = 0) -> Any:
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"hold": hold}))
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def test_idle_environments_make_room_for_a_new_one(small_disk: LiveServer) -> None:
    lam = _functions(small_disk, 3)
    assert _invoke(lam, "big-0") >= 900
    assert _invoke(lam, "big-1") >= 900
    # Both 1 GB images are held by idle environments: the third start stops the older one.
    assert _invoke(lam, "big-2") >= 900
    assert _invoke(lam, "big-1") >= 900  # still warm: it was not the least recently used
    assert _invoke(lam, "big-0") >= 900  # cold again, after another eviction


def _holding(logs: Any, name: str) -> bool:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return False
    return any(event["message"].startswith("holding") for event in events)


def test_with_every_environment_busy_a_new_one_is_throttled_not_a_500(
    small_disk: LiveServer,
) -> None:
    credentials = create_user(small_disk)
    lam = client_for(small_disk, credentials)
    logs = client_for(small_disk, credentials, "logs")
    for n in range(3):
        create_function(
            lam,
            f"busy-{n}",
            Code={"ZipFile": make_zip({"app.py": APP})},
            EphemeralStorage={"Size": 1024},
            Timeout=30,
        )
    holders = [threading.Thread(target=_invoke, args=(lam, f"busy-{n}", 10)) for n in range(2)]
    for holder in holders:
        holder.start()
    try:
        deadline = time.monotonic() + 30
        while not all(_holding(logs, f"busy-{n}") for n in range(2)):
            assert time.monotonic() < deadline, "the holders never started"
            time.sleep(0.2)
        with pytest.raises(ClientError) as excinfo:
            _invoke(lam, "busy-2")
        error = excinfo.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Error"]["Code"] == "TooManyRequestsException"
    finally:
        for holder in holders:
            holder.join()
    assert _invoke(lam, "busy-2") >= 900  # once they are idle, room is made again
