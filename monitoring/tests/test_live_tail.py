"""Live tail: events pushed as they are stored, resumable, authorised, across processes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import websockets
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async

from conftest import LiveServer, client_for, create_function, create_user, make_zip
from iam import services as accounts
from monitoring import services as log_streams
from monitoring.batches import LogBatch
from monitoring.consumers import LogTailConsumer
from monitoring.ingest import ingestor
from monitoring.services import log_batches_store

GROUP = "/aws/lambda/tailed"
PRINTER = """
def handler(event, context):
    print("live line", event["n"])
    return event["n"]
"""


class Socket(ApplicationCommunicator):
    """Drives the consumer in-process as a WebSocket client would (ASGI messages)."""

    async def connect(self) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return bool((await self.receive_output(timeout=5))["type"] == "websocket.accept")

    async def receive_json_from(self, timeout: float = 10) -> dict[str, Any]:
        message = await self.receive_output(timeout=timeout)
        assert message["type"] == "websocket.send", message
        return dict(json.loads(message["text"]))

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout=5)


def _communicator(query: str, user: Any = None) -> Socket:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws/logs/",
        "query_string": query.encode(),
        "headers": [],
        "subprotocols": [],
    }
    if user is not None:
        scope["user"] = user
    return Socket(LogTailConsumer.as_asgi(), scope)


async def _events(communicator: Socket, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while len(received) < count:
        message = await communicator.receive_json_from(timeout=10)
        if message["type"] == "events":
            received += message["events"]
    return received


@pytest.mark.django_db(transaction=True)
def test_a_subscriber_gets_backfill_then_live_events_without_gaps_or_duplicates():
    account = accounts.account_get_or_create("111122223333")
    user = accounts.user_create(
        username="tailer", account=account, password="pw-1234567890", is_admin=True
    )
    now = int(time.time() * 1000)
    log_batches_store([LogBatch(account.id, GROUP, "s1", [(now, "old one"), (now + 1, "old two")])])

    async def scenario() -> None:
        communicator = _communicator(f"group={quote(GROUP)}&since={now}", user)
        assert await communicator.connect()
        assert (await communicator.receive_json_from(timeout=5))["type"] == "ready"
        backfill = await _events(communicator, 2)
        assert [e["message"] for e in backfill] == ["old one", "old two"]
        ingestor.submit(account.id, GROUP, "s2", [(now + 5, "new one")])
        ingestor.submit(account.id, GROUP, "s2", [(now + 6, "new two")])
        fresh = await _events(communicator, 2)
        assert [e["message"] for e in fresh] == ["new one", "new two"]
        # Events shipped with PutLogEvents (any CloudWatch client) are live too.
        await database_sync_to_async(log_streams.log_stream_create)(account, GROUP, "shipped")
        await database_sync_to_async(log_streams.log_events_put)(
            account, GROUP, "shipped", [(now + 7, "put one")]
        )
        assert [e["message"] for e in await _events(communicator, 1)] == ["put one"]
        assert {e["id"] for e in fresh}.isdisjoint({e["id"] for e in backfill})
        # Resuming after the last id seen delivers nothing twice and nothing missed.
        await communicator.disconnect()
        resumed = _communicator(f"group={quote(GROUP)}&after_id={backfill[-1]['id']}", user)
        await resumed.connect()
        assert (await resumed.receive_json_from(timeout=5))["type"] == "ready"
        resumed_events = await _events(resumed, 3)
        assert [e["message"] for e in resumed_events] == ["new one", "new two", "put one"]
        await resumed.disconnect()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_it_refuses_anonymous_foreign_missing_and_policy_denied_groups():
    mine = accounts.account_get_or_create("111122224444")
    theirs = accounts.account_get_or_create("555566667777")
    stranger = accounts.user_create(
        username="stranger", account=theirs, password="pw-1234567890", is_admin=True
    )
    # A user of the group's own account whose policies do not allow logs:StartLiveTail.
    member = accounts.user_create(username="member", account=mine, password="pw-1234567890")
    log_batches_store([LogBatch(mine.id, GROUP, "s", [(1, "private")])])

    async def scenario() -> None:
        for user, code in ((None, 4401), (stranger, 4404), (member, 4403)):
            communicator = _communicator(f"group={quote(GROUP)}&since=0", user)
            assert await communicator.connect()
            closed = await communicator.receive_output(timeout=5)
            assert closed == {"type": "websocket.close", "code": code}

    asyncio.run(scenario())


def _token(server: LiveServer, account_id: str, group: str) -> str:
    result = server.manage(
        "shell",
        "-c",
        "from monitoring.live import token_for; from iam.models import User; "
        f"user = User.objects.get(account_id={account_id!r}); "
        f"print(token_for({account_id!r}, {group!r}, user_id=user.pk))",
    )
    return result.stdout.strip().splitlines()[-1]


async def _tail_until(url: str, wanted: str, trigger: Any) -> list[str]:
    seen: list[str] = []
    async with websockets.connect(url) as socket:
        assert json.loads(await socket.recv())["type"] == "ready"
        await asyncio.get_running_loop().run_in_executor(None, trigger)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(wanted in line for line in seen):
            message = json.loads(await asyncio.wait_for(socket.recv(), 20))
            seen += [event["message"] for event in message.get("events", [])]
    return seen


@pytest.mark.live
@pytest.mark.sandbox
def test_a_browser_socket_sees_a_functions_print_on_the_running_server(functory, lam, credentials):
    create_function(lam, "tailed", Code={"ZipFile": make_zip({"app.py": PRINTER})})
    lam.invoke(FunctionName="tailed", Payload=b'{"n": 0}')  # creates the log group
    token = _token(functory, credentials.account_id, GROUP)
    port = urlsplit(functory.url).port
    url = f"ws://127.0.0.1:{port}/ws/logs/?group={quote(GROUP)}&token={quote(token)}"
    seen = asyncio.run(
        _tail_until(
            url, "live line 1", lambda: lam.invoke(FunctionName="tailed", Payload=b'{"n": 1}')
        )
    )
    assert "live line 1" in seen
    assert any(line.startswith("START RequestId:") for line in seen)


@pytest.mark.live
@pytest.mark.sandbox
def test_lines_printed_in_another_process_arrive_through_redis(functory_pair):
    first, second = functory_pair
    creds = create_user(first)
    via_second = client_for(second, creds)
    create_function(via_second, "tailed", Code={"ZipFile": make_zip({"app.py": PRINTER})})
    via_second.invoke(FunctionName="tailed", Payload=b'{"n": 0}')
    # The socket is refused for a group that does not exist: wait until the first lines
    # are stored (and so the group made), as the first replica sees it.
    logs = client_for(first, creds, "logs")
    deadline = time.monotonic() + 30
    while not logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]:
        assert time.monotonic() < deadline, "the first invoke's log group was never made"
        time.sleep(0.1)
    token = _token(first, creds.account_id, GROUP)
    port = urlsplit(first.url).port
    url = f"ws://127.0.0.1:{port}/ws/logs/?group={quote(GROUP)}&token={quote(token)}"
    seen = asyncio.run(
        _tail_until(
            url,
            "live line 2",
            lambda: via_second.invoke(FunctionName="tailed", Payload=b'{"n": 2}'),
        )
    )
    assert "live line 2" in seen


def _close_code(data: bytes) -> int | None:
    """The status code of the close frame in a stream of server (unmasked) frames."""
    offset = 0
    while offset + 2 <= len(data):
        opcode, length = data[offset] & 0x0F, data[offset + 1] & 0x7F
        offset += 2
        if length == 126:
            length, offset = int.from_bytes(data[offset : offset + 2], "big"), offset + 2
        elif length == 127:
            length, offset = int.from_bytes(data[offset : offset + 8], "big"), offset + 8
        if opcode == 0x8:
            return int.from_bytes(data[offset : offset + 2], "big")
        offset += length
    return None


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from conftest import run_server

    servers = run_server(
        tmp_path_factory,
        {"FUNCTORY_LIVE_TAIL_QUEUE_LIMIT": "4", "FUNCTORY_LIVE_TAIL_SEND_TIMEOUT": "1"},
    )
    yield next(servers)
    with contextlib.suppress(StopIteration):
        next(servers)


@pytest.mark.live
def test_a_subscriber_that_stops_reading_is_closed_not_silently_starved(impatient_server):
    creds = create_user(impatient_server)
    logs = client_for(impatient_server, creds, "logs")
    logs.create_log_group(logGroupName="/flood")
    logs.create_log_stream(logGroupName="/flood", logStreamName="s")
    token = _token(impatient_server, creds.account_id, "/flood")
    port = urlsplit(impatient_server.url).port
    assert port is not None
    # A client that completes the handshake and then never reads, with a small window.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        f"GET /ws/logs/?group={quote('/flood')}&token={quote(token)} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    handshake = raw.recv(1024)
    assert handshake.startswith(b"HTTP/1.1 101")
    now = int(time.time() * 1000)
    for batch in range(40):  # ~32 MB of events for a socket that takes ~5 MB
        logs.put_log_events(
            logGroupName="/flood",
            logStreamName="s",
            logEvents=[{"timestamp": now + batch, "message": "x" * 200_000}] * 4,
        )
    time.sleep(3)
    raw.settimeout(5)
    received = handshake.split(b"\r\n\r\n", 1)[1]
    with contextlib.suppress(OSError):
        while chunk := raw.recv(1 << 20):
            received += chunk
    raw.close()
    assert _close_code(received) == 4008
    # Closed once: every event that found the queue full used to start another close.
    server_logs = Path(impatient_server.env["FUNCTORY_DATA_DIR"]).glob("server-*.log")
    assert not any("after sending 'websocket.close'" in log.read_text() for log in server_logs)


@pytest.mark.live
@pytest.mark.sandbox
def test_lines_of_an_asynchronous_invocation_reach_the_socket_on_the_embedded_profile(
    functory, lam, credentials
):
    # The embedded worker is another process with its own in-memory channel layer; its
    # stored lines are forwarded to the server, which pushes them to subscribers.
    create_function(lam, "tailed-async", Code={"ZipFile": make_zip({"app.py": PRINTER})})
    lam.invoke(FunctionName="tailed-async", Payload=b'{"n": 0}')  # creates the log group
    group = "/aws/lambda/tailed-async"
    token = _token(functory, credentials.account_id, group)
    port = urlsplit(functory.url).port
    url = f"ws://127.0.0.1:{port}/ws/logs/?group={quote(group)}&token={quote(token)}"
    seen = asyncio.run(
        _tail_until(
            url,
            "live line 7",
            lambda: lam.invoke(
                FunctionName="tailed-async", InvocationType="Event", Payload=b'{"n": 7}'
            ),
        )
    )
    assert "live line 7" in seen


def test_a_forward_without_the_servers_signature_is_refused(functory):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{functory.url}/_functory/internal/live",
        data=b"[]",
        method="POST",
        headers={"X-Functory-Signature": "0" * 64},
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 403
