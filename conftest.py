"""Shared fixtures: a live Functory server (``manage.py serve``) and real AWS clients.

The server runs in a subprocess with its own data dir, exactly as a user runs it. On the
scaled profile (``DATABASE_URL`` set) it gets a fresh PostgreSQL database of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parent
# Browser fixtures (``chromium``, ``console``) for the end-to-end console tests.
pytest_plugins = ["console.tests.browser"]


# Reads one user name per line; answers each with ``createuser --access-key``'s JSON line.
_MINTER_SCRIPT = """
import json, sys
import django
django.setup()
from django.db import transaction
from iam import services
for line in sys.stdin:
    with transaction.atomic():
        account = services.account_get_or_create(None)
        # The first user of a new account is its admin, acting as the account's root.
        user = services.user_create(
            username=line.strip(), account=account, password=None, is_admin=True
        )
        key = services.access_key_create(user=user)
    print(json.dumps({"AccountId": account.id, "UserName": user.username,
                      "AccessKeyId": key.access_key_id,
                      "SecretAccessKey": key.secret_access_key}), flush=True)
"""


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    _minter: subprocess.Popen[str] | None = None

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )

    def mint(self, name: str) -> dict[str, str]:
        """A new account with its admin and an access key, as ``createuser --admin
        --access-key`` makes them, from one long-lived child (Django starts once per
        server, not per test)."""
        if self._minter is None or self._minter.poll() is not None:
            self._minter = subprocess.Popen(
                [sys.executable, "-c", _MINTER_SCRIPT],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self._minter.stdin is not None and self._minter.stdout is not None
        self._minter.stdin.write(name + "\n")
        self._minter.stdin.flush()
        answer = self._minter.stdout.readline()
        assert answer, f"the user minter died (exit {self._minter.wait()})"
        minted: dict[str, str] = json.loads(answer)
        return minted

    def close_minter(self) -> None:
        if self._minter is not None:
            with contextlib.suppress(OSError):
                self._minter.communicate(timeout=10)  # EOF on stdin ends it
            self._minter = None


@dataclass
class Credentials:
    account_id: str
    user_name: str
    access_key_id: str
    secret_access_key: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_database(url: str) -> tuple[str, str]:
    """A fresh PostgreSQL database on the server ``url`` names; returns (new url, name)."""
    import psycopg

    name = f"functory_live_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _drop_database(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Let the test database be dropped at the end of the run.

    In-process background threads (log ingest, metric flushes) keep connections open,
    which would make PostgreSQL refuse to drop the database.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """The cache holds request counts (the platform API's throttle) by user id; ids come
    back after a rollback, so one test's counts must not throttle the next test's user.
    Only this process's own memory is cleared: a shared Redis is never flushed."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    if isinstance(cache, LocMemCache):
        cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _audit_events_stored_only_when_flushed() -> None:
    """In this process audit events are stored only by an explicit ``flush()``: the
    background flush writes on its own connection, outside the test's transaction, so a
    row it stored would be committed for good and show up in a later test's lookups
    (live servers keep their own background flush)."""
    from audit.recorder import recorder as audit_recorder

    audit_recorder._background = False


@pytest.fixture(autouse=True)
def _settle_background_writers() -> Iterator[None]:
    """Before the test database is rolled back or flushed (this teardown runs first):

    - metric points recorded in this process belong to the test's own rows; flushed during
      a later test they would name accounts that no longer exist, so they are forgotten;
    - audit events recorded in this process likewise (their accounts are the test's);
    - log lines still queued are stored now: an insert racing the flush's TRUNCATE
      deadlocks on PostgreSQL.
    """
    yield
    from audit.recorder import recorder as audit_recorder
    from monitoring.ingest import ingestor
    from monitoring.metrics.recorder import recorder

    recorder.discard()
    audit_recorder.discard()
    ingestor.flush()


@pytest.fixture(scope="session")
def functory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The live server every API test talks to (sandbox executor)."""
    yield from run_server(tmp_path_factory)


@pytest.fixture(scope="session")
def functory_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two replicas (scaled profile style): one database, Redis as the channel layer."""
    redis = {"REDIS_URL": os.environ.get("FUNCTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")}
    first_servers = run_server(tmp_path_factory, redis)
    first = next(first_servers)
    second_servers = run_server(tmp_path_factory, redis, share_with=first)
    second = next(second_servers)
    try:
        yield first, second
    finally:
        for servers in (second_servers, first_servers):
            with contextlib.suppress(StopIteration):
                next(servers)


@pytest.fixture(scope="session")
def functory_docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second live server whose executor runs functions in Docker containers."""
    yield from run_server(tmp_path_factory, {"FUNCTORY_EXECUTOR_BACKEND": "docker"})


# Settings under which a dead worker's claims and lost broker messages come back within
# seconds (fault and supervision tests).
QUICK_ASYNC_RECOVERY = {
    "FUNCTORY_ASYNC_LEASE_SECONDS": "3",
    "FUNCTORY_ASYNC_REQUEUE_AFTER_SECONDS": "10",
    "FUNCTORY_ASYNC_SWEEP_SECONDS": "2",
}


def run_server(
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
    share_with: LiveServer | None = None,
    data_dir: Path | None = None,
) -> Generator[LiveServer]:
    """Run ``manage.py serve``; ``share_with`` makes it a second replica of that server;
    ``data_dir`` (an existing folder) replaces the fresh temporary one."""
    if data_dir is None:
        data_dir = (
            Path(share_with.env["FUNCTORY_DATA_DIR"])
            if share_with
            else tmp_path_factory.mktemp("functory-data")
        )
    port = _free_port()
    env = dict(os.environ)
    env.update(
        FUNCTORY_DATA_DIR=str(data_dir),
        PORT=str(port),
        HOST="127.0.0.1",
        FUNCTORY_ADMIN_PASSWORD="admin-password",
        DJANGO_SETTINGS_MODULE="console.settings",
        # The schema fuzzing sends thousands of platform-API calls a minute as one user;
        # the throttle itself is tested in process (test_platform_api_shell.py).
        FUNCTORY_API_RATE="100000/min",
        # The image-function tests build their images under this repository; any account
        # may name them (an operator's shared base images are the same).
        FUNCTORY_IMAGE_REPOSITORIES="functory-test/",
        # Dozens of servers share one PostgreSQL (100 connections by default): idle
        # connections are closed rather than kept by every thread of every server.
        FUNCTORY_DB_CONN_MAX_AGE="0",
    )
    env.update(extra_env or {})
    database: tuple[str, str] | None = None
    if share_with is not None:
        if "DATABASE_URL" in share_with.env:
            env["DATABASE_URL"] = share_with.env["DATABASE_URL"]
    elif os.environ.get("DATABASE_URL"):
        new_url, name = _create_database(os.environ["DATABASE_URL"])
        database = (os.environ["DATABASE_URL"], name)
        env["DATABASE_URL"] = new_url
    log = open(data_dir / f"server-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((data_dir / f"server-{port}.log").read_text()) from None
            time.sleep(0.1)
    server = LiveServer(url=url, env=env, process=process)
    try:
        yield server
    finally:
        server.close_minter()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        if database is not None:
            _drop_database(*database)


@dataclass
class AwsPeer:
    """A moto server standing in for the SQS, SNS and EventBridge records are sent to."""

    url: str

    # The settings that point a Functory server (or this process) at the peer.
    @property
    def env(self) -> dict[str, str]:
        return {
            "FUNCTORY_AWS_ENDPOINT_URL": self.url,
            "FUNCTORY_AWS_ACCESS_KEY_ID": "peer-key",
            "FUNCTORY_AWS_SECRET_ACCESS_KEY": "peer-secret",
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="peer-key",
            aws_secret_access_key="peer-secret",
        )


@pytest.fixture(scope="session")
def aws_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsPeer]:
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the moto server did not start") from None
            time.sleep(0.1)
    try:
        yield AwsPeer(url)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def create_user(server: LiveServer) -> Credentials:
    """A user with an access key in a fresh account of its own."""
    data = server.mint(f"user-{uuid.uuid4().hex[:8]}")
    return Credentials(
        account_id=data["AccountId"],
        user_name=data["UserName"],
        access_key_id=data["AccessKeyId"],
        secret_access_key=data["SecretAccessKey"],
    )


def create_member(
    server: LiveServer, *policy_arns: str, admin: Credentials | None = None
) -> Credentials:
    """A user who may do only what the given managed policies allow (none: nothing), made
    through the IAM API by ``admin`` (default: the admin of a fresh account)."""
    admin = admin or create_user(server)
    iam = client_for(server, admin, "iam")
    name = f"member-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    for arn in policy_arns:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(
        account_id=admin.account_id,
        user_name=name,
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
    )


@pytest.fixture
def credentials(functory: LiveServer) -> Credentials:
    """A user with an access key in a fresh account of its own."""
    return create_user(functory)


def client_for(
    server: LiveServer, creds: Credentials, service: str = "lambda", *, validate: bool = True
) -> Any:
    """A boto3 client; ``validate=False`` lets invalid input reach the server."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        # One attempt, no retries: a throttle or a server error must reach the test.
        config=Config(
            retries={"total_max_attempts": 1}, read_timeout=120, parameter_validation=validate
        ),
    )


@pytest.fixture
def lam(functory: LiveServer, credentials: Credentials) -> Any:
    """A boto3 Lambda client for a fresh account."""
    return client_for(functory, credentials)


@pytest.fixture
def raw_lam(functory: LiveServer, credentials: Credentials) -> Any:
    """A Lambda client for the same account as ``lam`` that skips client-side validation."""
    return client_for(functory, credentials, validate=False)


ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A regular file entry with a fixed time: the same files make the same zip, so its
    CodeSha256 does not depend on the second it was made in."""
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    return info


def make_zip(files: dict[str, str | bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (
            files or {"app.py": "def handler(event, context):\n    return event\n"}
        ).items():
            archive.writestr(zip_entry(name), content)
    return buffer.getvalue()


ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def client_error(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    """(error code, message, HTTP status) of a botocore ClientError."""
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def create_function(client: Any, name: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": ROLE,
        "Code": {"ZipFile": make_zip()},
    }
    params.update(overrides)
    result: dict[str, Any] = client.create_function(**params)
    return result


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def is_celery(pid: int) -> bool:
    try:
        return b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def done_markers(logs: Any, name: str) -> set[int]:
    """The ``n`` of every ``done <n>`` line a function printed (async fault tests)."""
    seen: set[int] = set()
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{name}"
        ):
            for event in page["events"]:
                if event["message"].startswith("done "):
                    seen.add(int(event["message"].split()[1]))
    except logs.exceptions.ResourceNotFoundException:
        pass
    return seen


# Run in a child with the server's settings: prints one line per asynchronous event.
_ASYNC_ROWS_SCRIPT = """
import sys
import django
django.setup()
from invocations.models import AsyncInvocation
for row in AsyncInvocation.objects.filter(function_name=sys.argv[1]).order_by("pk"):
    print(bytes(row.payload).decode(), row.status, row.attempts, row.function_errors,
          row.condition, row.last_error[:200])
"""


def async_rows(server: LiveServer, name: str) -> str:
    """The server's asynchronous events of ``name`` and the tails of its logs: what a failed
    fault test says about the events it missed."""
    result = subprocess.run(
        [sys.executable, "-c", _ASYNC_ROWS_SCRIPT, name],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    logs = sorted(Path(server.env["FUNCTORY_DATA_DIR"]).glob("*.log"))
    tails = "".join(f"\n--- {log.name}\n{log.read_text(errors='replace')[-6000:]}" for log in logs)
    return result.stdout + result.stderr + tails


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """pytest-django deletes the SQLite test database file, not its WAL sidecars."""
    from django.conf import settings

    if not settings.configured:
        return
    name = str(settings.DATABASES["default"].get("TEST", {}).get("NAME") or "")
    if name.startswith("/") and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(name + suffix)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``make test`` runs both profiles side by side; the second leaves out the tests whose
    subject (a runtime, the sandbox's walls, the HTTP parser) never touches the database,
    so the suite's time goes to what the profiles can differ on."""
    if os.environ.get("FUNCTORY_TEST_SECOND_PROFILE") != "1":
        return
    kept = [item for item in items if item.get_closest_marker("one_profile") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


# Time per test file (setup + call + teardown), printed after pytest's own --durations: a
# module-scoped server or a slow fixture shows up here although no single test is slow.
_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if len(_FILE_SECONDS) < 20:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.section(f"slowest test files (of {total / 60:.1f} min in tests)")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1])[:20]:
        terminalreporter.write_line(f"{seconds:8.1f}s  {path}")
