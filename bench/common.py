"""Shared parts of the benchmarks: a throwaway server, a signed raw HTTP client, stats."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    url: str
    host: str
    port: int
    env: dict[str, str]
    credentials: Credentials
    account_id: str
    pid: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """A fresh embedded-profile server with its own data dir and one user."""
    data_dir = tempfile.mkdtemp(prefix="functory-bench-")
    port = _free_port()
    env = dict(os.environ, FUNCTORY_DATA_DIR=data_dir, PORT=str(port), HOST="127.0.0.1")
    env.pop("DATABASE_URL", None)
    env.update(extra_env or {})
    log = open(Path(data_dir) / "server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        made = subprocess.run(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "createuser",
                "bench",
                "--admin",
                "--access-key",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        user = json.loads(made.stdout)
        yield Server(
            url=url,
            host="127.0.0.1",
            port=port,
            env=env,
            credentials=Credentials(user["AccessKeyId"], user["SecretAccessKey"]),
            account_id=user["AccountId"],
            pid=process.pid,
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


class SignedClient:
    """A keep-alive HTTP client that signs with SigV4 before the clock starts."""

    def __init__(self, srv: Server, credentials: Credentials | None = None) -> None:
        self.srv = srv
        self.credentials = credentials or srv.credentials
        self.conn = http.client.HTTPConnection(srv.host, srv.port)

    def prepare(
        self, method: str, path: str, body: bytes = b""
    ) -> tuple[str, str, bytes, dict[str, str]]:
        request = AWSRequest(method=method, url=f"{self.srv.url}{path}", data=body)
        SigV4Auth(self.credentials, "lambda", "us-east-1").add_auth(request)
        return method, path, body, dict(request.headers.items())

    def send(
        self, prepared: tuple[str, str, bytes, dict[str, str]]
    ) -> tuple[int, bytes, dict[str, str]]:
        method, path, body, headers = prepared
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())

    def get(self, path: str) -> int:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        response.read()
        return response.status


def timed_invoke(client: SignedClient, function: str, body: bytes = b"{}") -> float:
    """Milliseconds of one Invoke of ``function`` (signed before the clock starts), which
    must answer 200."""
    prepared = client.prepare("POST", f"/2015-03-31/functions/{function}/invocations", body)
    start = time.perf_counter()
    status, _, answer = client.send(prepared)
    elapsed = (time.perf_counter() - start) * 1000
    assert status == 200, (function, status, answer)
    return elapsed


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "n": float(len(ordered)),
    }


def report(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    for name, stats in rows:
        p50, p99, n = stats["p50"], stats["p99"], int(stats["n"])
        print(f"  {name:<44} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   n={n}")


def lambda_client(srv: Server, service: str = "lambda") -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id=srv.credentials.access_key,
        aws_secret_access_key=srv.credentials.secret_key,
        # A throttle or a server error must fail the run, not be retried out of sight.
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=2),
    )


def hello_zip(source: str = "def handler(event, context):\n    return {'ok': True}\n") -> bytes:
    """A zip of ``app.py`` (a no-op handler unless ``source`` is given)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def throughput(fn_factory, seconds: float = 5.0, threads: int = 4) -> float:  # type: ignore[no-untyped-def]
    """Calls per second of ``fn_factory()``'s callable from ``threads`` client threads (each
    builds its own, e.g. a connection) for ``seconds``."""
    import threading

    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        fn = fn_factory()
        while time.monotonic() < stop:
            fn()
            counts[index] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port (a peer for SQS/SNS/EventBridge, or the control
    plane's baseline), stopped on exit."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the moto server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def noop_function(lam: Any, name: str, code: bytes, role: str, **extra: Any) -> str:
    """Create a Python 3.11 function ``name`` (``app.handler`` in ``code``); its name."""
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=role,
        Code={"ZipFile": code},
        **extra,
    )
    return name
