"""A function attacks the Runtime API it is served by (issue 10, item 2).

The attacks come from inside the sandbox, with plain sockets to ``AWS_LAMBDA_RUNTIME_API``;
the server's open fds and RSS are read from ``/proc`` while they run. Limits are in
``invocations/executor/runtime_api.py``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from conftest import LiveServer, client_for, create_function, create_user, make_zip

pytestmark = [pytest.mark.live, pytest.mark.sandbox, pytest.mark.one_profile]

ATTACKS = r"""
import os, resource, select, socket, threading, time

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
PORT = int(PORT)
PREFIX = "/2018-06-01/runtime"


def flood(event, context):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(event["connections"], hard - 64)
    held = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((HOST, PORT))
        held.append(s)
    time.sleep(event["hold"])
    for s in held:
        s.close()
    return count


def _post_held(path, length, body):
    try:
        s = socket.create_connection((HOST, PORT), timeout=2)
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
        s.sendall(head.encode() + body)
        return s
    except OSError:
        return None


def bodies(event, context):
    body = b"x" * (event["size"] - 1)  # all but the last byte: the server waits for it
    paths = [
        f"{PREFIX}/invocation/not-{context.aws_request_id}/response",
        f"{PREFIX}/init/error",
        f"{PREFIX}/invocation/next",
        "/anything",
    ]
    held = []
    threads = [
        threading.Thread(
            target=lambda i=i: held.append(_post_held(paths[i % len(paths)], event["size"], body))
        )
        for i in range(event["connections"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(event["hold"])
    return sum(1 for s in held if s is not None)


def _closed_within(s, seconds):
    # True when the server closes the connection (EOF or reset) within ``seconds``.
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([s], [], [], 0.2)
        if ready:
            try:
                if not s.recv(65536):
                    return True
            except OSError:
                return True
    return False


def _trickle_until_closed(s, data, seconds):
    end = time.monotonic() + seconds
    for byte in data:
        if time.monotonic() > end:
            return False
        try:
            s.sendall(bytes([byte]))
        except OSError:
            return True
        if _closed_within(s, 0.5):
            return True
    return _closed_within(s, max(0.0, end - time.monotonic()))


def slow(event, context):
    wait = event["wait"]
    results = {}

    def silent():
        s = socket.create_connection((HOST, PORT))
        results["silent"] = _closed_within(s, wait)

    def partial_head():
        s = socket.create_connection((HOST, PORT))
        s.sendall(f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n".encode())
        results["partial_head"] = _closed_within(s, wait)

    def trickled_head():
        s = socket.create_connection((HOST, PORT))
        head = f"GET /nothing HTTP/1.1\r\nHost: x\r\n" + "X-Pad: y\r\n" * 40 + "\r\n"
        results["trickled_head"] = _trickle_until_closed(s, head.encode(), wait)

    def many_lines():
        s = socket.create_connection((HOST, PORT))
        head = f"GET /nothing HTTP/1.1\r\n" + "X-Line: y\r\n" * 300 + "\r\n"
        s.sendall(head.encode())
        s.settimeout(wait)
        try:
            reply = s.recv(65536)
        except OSError:
            reply = b""
        results["many_lines"] = not reply.startswith(b"HTTP/1.1 404")

    def stalled_body():
        s = socket.create_connection((HOST, PORT))
        s.sendall(
            f"POST {PREFIX}/invocation/{context.aws_request_id}/error HTTP/1.1\r\n"
            f"Host: x\r\nContent-Length: 100\r\n\r\n0123456789".encode()
        )
        results["stalled_body"] = _closed_within(s, wait)

    def idle_keep_alive():
        s = socket.create_connection((HOST, PORT))
        s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(wait)
        reply = s.recv(65536)
        results["idle_answered"] = reply.startswith(b"HTTP/1.1 404")
        results["idle_keep_alive"] = _closed_within(s, wait)

    threads = [
        threading.Thread(target=job)
        for job in (silent, partial_head, trickled_head, many_lines, stalled_body, idle_keep_alive)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def spam(event, context):
    # Refused requests, as fast as the server answers them, on four connections.
    end = time.monotonic() + event["seconds"]
    counts = []

    def worker():
        answered, s = 0, None
        while time.monotonic() < end:
            try:
                if s is None:
                    s = socket.create_connection((HOST, PORT), timeout=1)
                s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while not data.endswith(b"}"):
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    data += chunk
                answered += 1
            except OSError:
                if s is not None:
                    s.close()
                s = None
        counts.append(answered)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def exact(event, context):
    return "x" * (event["size"] - 2)  # a JSON string: two quotes around it

"""


def _server_resources(pid: int) -> tuple[int, int]:
    """(open fds, RSS in KiB) of the server process."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, rss


class _Sampler:
    """Samples the server's fds and RSS until stopped: the peaks, not a moment's values."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_fds, self.peak_rss = _server_resources(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            fds, rss = _server_resources(self.pid)
            self.peak_fds = max(self.peak_fds, fds)
            self.peak_rss = max(self.peak_rss, rss)
            time.sleep(0.02)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _attacker(lam: Any, handler: str, memory: int = 512, timeout: int = 60) -> str:
    name = f"attack-{handler}"
    create_function(
        lam,
        name,
        Handler=f"app.{handler}",
        MemorySize=memory,
        Timeout=timeout,
        Code={"ZipFile": make_zip({"app.py": ATTACKS})},
    )
    return name


def _invoke(lam: Any, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload))
    response["Body"] = json.loads(response["Payload"].read())
    return response


def _during(run: Callable[[], Any], other: Callable[[], Any], after: float) -> tuple[Any, Any]:
    """``run()`` in a thread and ``other()`` ``after`` seconds into it: both results."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["run"] = run()
        except Exception as exc:  # handed to the test below
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    time.sleep(after)
    other_result = other()
    thread.join(timeout=120)
    if "error" in result:
        raise result["error"]
    return result["run"], other_result


def test_a_connection_flood_costs_the_server_no_fds(functory: LiveServer, lam: Any) -> None:
    name = _attacker(lam, "flood")
    assert _invoke(lam, name, {"connections": 0, "hold": 0})["Body"] == 0  # warm
    victim = client_for(functory, create_user(functory))
    create_function(victim, "victim")
    assert _invoke(victim, "victim", {"n": 0})["Body"] == {"n": 0}
    baseline, _ = _server_resources(functory.process.pid)
    with _Sampler(functory.process.pid) as sampler:
        flood, during = _during(
            lambda: _invoke(lam, name, {"connections": 2000, "hold": 6}),
            lambda: _invoke(victim, "victim", {"n": 1}),
            after=2,
        )
    assert flood["Body"] >= 500  # as many as the sandbox's fd limit allows, up to 2,000
    assert during["StatusCode"] == 200 and during["Body"] == {"n": 1}
    # A few fds for the environments' own pipes and sockets, never one per connection.
    assert sampler.peak_fds - baseline < 64, (baseline, sampler.peak_fds)


def test_held_request_bodies_do_not_grow_server_memory(functory: LiveServer, lam: Any) -> None:
    name = _attacker(lam, "bodies")
    assert _invoke(lam, name, {"connections": 0, "size": 1, "hold": 0})["Body"] == 0  # warm
    _, baseline = _server_resources(functory.process.pid)
    with _Sampler(functory.process.pid) as sampler:
        response = _invoke(lam, name, {"connections": 40, "size": 7_000_000, "hold": 3})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    growth_mb = (sampler.peak_rss - baseline) / 1024
    assert growth_mb < 100, growth_mb


def test_slow_heads_stalled_bodies_and_idle_connections_are_dropped(lam: Any) -> None:
    name = _attacker(lam, "slow")
    response = _invoke(lam, name, {"wait": 30})
    assert response["Body"] == {
        "silent": True,
        "partial_head": True,
        "trickled_head": True,
        "many_lines": True,
        "stalled_body": True,
        "idle_answered": True,
        "idle_keep_alive": True,
    }
    # The stalled /error body did not end the invocation: the handler's return did.
    assert "FunctionError" not in response


def test_a_response_over_6291556_bytes_is_response_size_too_large(lam: Any) -> None:
    name = _attacker(lam, "exact")
    at_limit = _invoke(lam, name, {"size": 6_291_556})
    assert "FunctionError" not in at_limit
    assert len(at_limit["Body"]) == 6_291_556 - 2
    over = _invoke(lam, name, {"size": 6_291_557})
    assert over["StatusCode"] == 200
    assert over["FunctionError"] == "Unhandled"
    assert over["Body"] == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": (
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        ),
    }


def test_a_function_spamming_refused_requests_is_paced(lam: Any) -> None:
    name = _attacker(lam, "spam")
    answered = _invoke(lam, name, {"seconds": 3})["Body"]
    # A burst, then a few per second: not the thousands an unpaced server answers.
    assert 0 < answered < 500, answered
