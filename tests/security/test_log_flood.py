"""Issue 10, item 6: a function that prints without end must not flood the server.

One invocation printing 100 MB used to be stored whole (~150 MB of database, 40 s of
ingest) while the server grew by 130 MB and kept it. Now what it stores is capped, it
returns normally, another tenant is unaffected and the server's memory stays flat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Credentials, LiveServer, client_for, create_function, create_user, make_zip
from invocations.executor import logcaps

FLOOD = """
import sys
import time


def handler(event, context):
    block = ("x" * 1023 + "\\n") * 1024  # 1 MiB of 1 KiB lines
    for _ in range(event.get("mb", 0)):
        sys.stdout.write(block)
        time.sleep(event.get("pace", 0))
    lines = event.get("lines", 0)
    if lines:
        sys.stdout.write("".join(f"flood {i}\\n" for i in range(lines)))
    sys.stdout.flush()
    return {"ok": True}
"""

QUIET = """
def handler(event, context):
    for i in range(event["lines"]):
        print(f"tenant-b {event['tag']} {i}")
    return {"ok": True}
"""

FLOOD_ARGS: dict[str, Any] = {"Timeout": 120, "MemorySize": 256}
PLATFORM_PREFIXES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "[functory]")


def _events(logs: Any, group: str, pattern: str | None = None) -> list[str]:
    params: dict[str, Any] = {"logGroupName": group}
    if pattern:
        params["filterPattern"] = pattern
    messages: list[str] = []
    for page in logs.get_paginator("filter_log_events").paginate(**params):
        messages.extend(event["message"] for event in page["events"])
    return messages


def _wait_for(logs: Any, group: str, phrase: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _events(logs, group, f'"{phrase}"'):
                return
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{phrase!r} never appeared in {group}")


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = _rss_kb(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss_kb(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_kb(self.pid))


@pytest.fixture
def tenant_b(functory: LiveServer) -> Iterator[Credentials]:
    yield create_user(functory)


def _invoke_in_thread(lam: Any, name: str, payload: bytes) -> tuple[threading.Thread, dict]:
    answer: dict[str, Any] = {}

    def run() -> None:
        try:
            answer["response"] = lam.invoke(FunctionName=name, Payload=payload)
            answer["payload"] = answer["response"]["Payload"].read()
        except Exception as error:  # reported by the test
            answer["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answer


@pytest.mark.sandbox
def test_a_100_mb_print_is_capped_and_the_server_stays_flat(
    functory: LiveServer, lam: Any, credentials: Credentials, tenant_b: Credentials
) -> None:
    logs = client_for(functory, credentials, "logs")
    lam_b = client_for(functory, tenant_b)
    logs_b = client_for(functory, tenant_b, "logs")
    create_function(lam, "flood", Code={"ZipFile": make_zip({"app.py": FLOOD})}, **FLOOD_ARGS)
    create_function(lam_b, "quiet", Code={"ZipFile": make_zip({"app.py": QUIET})})
    # Warm both environments first: cold starts are not what is measured.
    assert "FunctionError" not in lam.invoke(FunctionName="flood", Payload=b'{"mb": 1}')
    assert "FunctionError" not in lam_b.invoke(
        FunctionName="quiet", Payload=b'{"lines": 1, "tag": "warm"}'
    )
    time.sleep(1)  # let the warm-up's logs settle before the baseline is taken

    with RssSampler(functory.process.pid) as rss:
        flood, answer = _invoke_in_thread(lam, "flood", b'{"mb": 100, "pace": 0.02}')
        tags: list[str] = []
        while (flood.is_alive() and len(tags) < 20) or not tags:
            tag = f"t{len(tags)}"
            response = lam_b.invoke(
                FunctionName="quiet", Payload=f'{{"lines": 50, "tag": "{tag}"}}'.encode()
            )
            assert response["StatusCode"] == 200
            assert "FunctionError" not in response
            tags.append(tag)
        flood.join(180)
    assert "error" not in answer, answer.get("error")
    response = answer["response"]
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert answer["payload"] == b'{"ok": true}'
    request_id = response["ResponseMetadata"]["RequestId"]

    _wait_for(logs, "/aws/lambda/flood", f"REPORT RequestId: {request_id}")
    messages = _events(logs, "/aws/lambda/flood")
    output = [m for m in messages if not m.startswith(PLATFORM_PREFIXES)]
    stored = sum(len(m.encode()) for m in output)
    # The 1 MiB warm-up is stored too, beside the flood's capped output.
    assert stored <= logcaps.INVOCATION_MAX_BYTES + 1024 * 1024
    assert messages.count(logcaps.TRUNCATION_NOTICE) == 1
    assert f"END RequestId: {request_id}" in messages
    assert any(m.startswith(f"REPORT RequestId: {request_id}\t") for m in messages)
    assert any(m.startswith("[functory] log output throttled:") for m in messages)

    # The other tenant's invocations during the flood kept every one of their lines.
    _wait_for(logs_b, "/aws/lambda/quiet", f"tenant-b {tags[-1]} 49")
    # Quoted: unquoted, CloudWatch reads tenant-b as "tenant, but not b".
    quiet = _events(logs_b, "/aws/lambda/quiet", '"tenant-b"')
    for tag in tags:
        assert [m for m in quiet if m.startswith(f"tenant-b {tag} ")] == [
            f"tenant-b {tag} {i}" for i in range(50)
        ]
    assert not [m for m in _events(logs_b, "/aws/lambda/quiet") if m.startswith("[functory]")]

    growth_mb = (rss.peak - rss.baseline) / 1024
    assert growth_mb < 80, f"server RSS grew by {growth_mb:.0f} MB during the flood"


@pytest.mark.sandbox
def test_the_account_bucket_drops_a_flooding_accounts_lines_only(
    functory: LiveServer, lam: Any, credentials: Credentials, tenant_b: Credentials
) -> None:
    logs = client_for(functory, credentials, "logs")
    lam_b = client_for(functory, tenant_b)
    logs_b = client_for(functory, tenant_b, "logs")
    create_function(lam, "lines", Code={"ZipFile": make_zip({"app.py": FLOOD})}, **FLOOD_ARGS)
    create_function(lam_b, "quiet", Code={"ZipFile": make_zip({"app.py": QUIET})})
    # Under the invocation's 100,000-line cap, far over the account's 20,000-line burst.
    flood, answer = _invoke_in_thread(lam, "lines", b'{"lines": 90000}')
    response = lam_b.invoke(FunctionName="quiet", Payload=b'{"lines": 3000, "tag": "b"}')
    assert "FunctionError" not in response
    flood.join(180)
    assert "error" not in answer, answer.get("error")
    assert "FunctionError" not in answer["response"]
    request_id = answer["response"]["ResponseMetadata"]["RequestId"]

    _wait_for(logs, "/aws/lambda/lines", f"REPORT RequestId: {request_id}")
    throttled = _events(logs, "/aws/lambda/lines", '"log output throttled"')
    assert throttled
    assert not _events(logs, "/aws/lambda/lines", '"log output truncated"')
    assert len(_events(logs, "/aws/lambda/lines", "flood")) < 90000

    _wait_for(logs_b, "/aws/lambda/quiet", "tenant-b b 2999")
    quiet = _events(logs_b, "/aws/lambda/quiet")
    assert [m for m in quiet if m.startswith("tenant-b b ")] == [
        f"tenant-b b {i}" for i in range(3000)
    ]
    assert not [m for m in quiet if m.startswith("[functory]")]


@pytest.mark.docker
def test_a_100_mb_print_is_capped_in_a_container_too(functory_docker: LiveServer) -> None:
    creds = create_user(functory_docker)
    dlam = client_for(functory_docker, creds)
    logs = client_for(functory_docker, creds, "logs")
    create_function(dlam, "flood", Code={"ZipFile": make_zip({"app.py": FLOOD})}, **FLOOD_ARGS)
    response = dlam.invoke(FunctionName="flood", Payload=b'{"mb": 100}')
    assert "FunctionError" not in response
    assert response["Payload"].read() == b'{"ok": true}'
    request_id = response["ResponseMetadata"]["RequestId"]

    _wait_for(logs, "/aws/lambda/flood", f"REPORT RequestId: {request_id}")
    messages = _events(logs, "/aws/lambda/flood")
    output = [m for m in messages if not m.startswith(PLATFORM_PREFIXES)]
    assert sum(len(m.encode()) for m in output) <= logcaps.INVOCATION_MAX_BYTES
    assert messages.count(logcaps.TRUNCATION_NOTICE) == 1
    assert f"END RequestId: {request_id}" in messages
