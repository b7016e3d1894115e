"""Live tail's early lines: sent as a function prints them, before they are stored, and still
shown exactly once by a client that reconnects with ``after_id`` (``early=1`` sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from conftest import client_for, create_function, create_user, make_zip
from iam import services as accounts
from monitoring import live
from monitoring.batches import LogBatch, line_key
from monitoring.ingest import LogIngestor
from monitoring.models import LogEvent
from monitoring.services import log_batches_store
from monitoring.tests.test_live_tail import _communicator, _token

GROUP = "/aws/lambda/early"


class LiveTailLines:
    """The console's client (``frontend/src/_livetail.mjs``), in Python, for live tests."""

    def __init__(self) -> None:
        self.last_id = 0
        self.unconfirmed: dict[str, dict[str, Any]] = {}
        self.carried: Counter[tuple[str, int, str]] = Counter()
        self.carried_at_reconnects: list[int] = []

    def resume_params(self, since_ms: int) -> dict[str, str]:
        if self.last_id:
            return {"early": "1", "after_id": str(self.last_id)}
        return {"early": "1", "since": str(since_ms)}

    def receive(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        if data["type"] == "early":
            for event in data["events"]:
                self.unconfirmed[event["key"]] = event
            return list(data["events"])
        if data["type"] == "stored":
            for confirmed in data["events"]:
                self.last_id = max(self.last_id, confirmed["id"])
                self.unconfirmed.pop(confirmed["key"], None)
            return []
        if data["type"] != "events":
            return []
        show = []
        for event in data["events"]:
            self.last_id = max(self.last_id, event["id"])
            if "key" in event and self.unconfirmed.pop(event["key"], None) is not None:
                continue
            seen = _content(event)
            if self.carried[seen] > 0:
                self.carried[seen] -= 1
                continue
            show.append(event)
        return show

    def disconnected(self) -> None:
        self.carried_at_reconnects.append(len(self.unconfirmed))
        for event in self.unconfirmed.values():
            self.carried[_content(event)] += 1
        self.unconfirmed.clear()


def _content(event: dict[str, Any]) -> tuple[str, int, str]:
    return (event["stream"], event["timestamp"], event["message"])


@pytest.mark.django_db(transaction=True)
def test_a_printed_line_reaches_an_early_socket_before_it_is_stored_then_its_id_follows():
    account = accounts.account_get_or_create("111122223333")
    user = accounts.user_create(
        username="early", account=account, password="pw-1234567890", is_admin=True
    )
    now = int(time.time() * 1000)
    log_batches_store([LogBatch(account.id, GROUP, "s", [(now, "made the group")])])
    # A writer that stores only when flushed: what reaches the sockets before is early.
    writer = LogIngestor(interval=3600, eager=False)

    async def scenario() -> None:
        early = _communicator(f"group={quote(GROUP)}&early=1", user)
        plain = _communicator(f"group={quote(GROUP)}", user)
        for socket in (early, plain):
            assert await socket.connect()
            assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
        writer.submit(account.id, GROUP, "s", [(now + 1, "printed\x00now")])
        sent = await early.receive_json_from(timeout=5)
        assert sent["type"] == "early"
        (line,) = sent["events"]
        assert line["message"] == "printed\ufffdnow"  # as the store will keep it
        assert "id" not in line and line["key"]
        assert await plain.receive_nothing(timeout=0.2)
        assert not await database_sync_to_async(
            LogEvent.objects.filter(message__startswith="printed").exists
        )()

        assert await database_sync_to_async(writer.flush)()
        stored = await early.receive_json_from(timeout=5)
        (row,) = await database_sync_to_async(
            lambda: list(LogEvent.objects.filter(message__startswith="printed"))
        )()
        assert stored == {"type": "stored", "events": [{"key": line["key"], "id": row.pk}]}
        full = await plain.receive_json_from(timeout=5)
        assert full["type"] == "events"
        assert [(e["id"], e["message"]) for e in full["events"]] == [(row.pk, "printed\ufffdnow")]
        assert "key" not in full["events"][0]  # sockets without early=1 see what they saw
        # Keys are random per batch: a counter would tell how much other tenants log.
        writer.submit(account.id, GROUP, "s", [(now + 2, "next")])
        (following,) = (await early.receive_json_from(timeout=5))["events"]
        assert following["key"].split(".")[0] != line["key"].split(".")[0]
        assert await database_sync_to_async(writer.flush)()
        assert (await early.receive_json_from(timeout=5))["type"] == "stored"
        assert (await plain.receive_json_from(timeout=5))["type"] == "events"
        for socket in (early, plain):
            assert await socket.receive_nothing(timeout=0.2)
            await socket.disconnect()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_a_line_already_in_the_backfill_is_not_sent_again_early_nor_stored():
    account = accounts.account_get_or_create("111122223333")
    user = accounts.user_create(
        username="early", account=account, password="pw-1234567890", is_admin=True
    )
    now = int(time.time() * 1000)
    # Printed (and published early) just before the socket joined, stored just before the
    # backfill was read: the early send and the stored send both reach the socket after it.
    (batch,) = log_batches_store([LogBatch(account.id, GROUP, "s", [(now, "once")], "b4tch")])
    (event,) = batch.events
    name = live.group_name(account.id, GROUP)
    early_line = {
        "key": line_key("b4tch", 0),
        "timestamp": now,
        "ingestionTime": now,
        "stream": "s",
        "message": "once",
    }

    async def scenario() -> None:
        socket = _communicator(f"group={quote(GROUP)}&early=1&since={now}", user)
        assert await socket.connect()
        assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
        backfill = await socket.receive_json_from(timeout=5)
        assert [(e["id"], e["message"]) for e in backfill["events"]] == [(event.pk, "once")]
        layer = get_channel_layer()
        await layer.group_send(name, {"type": "log.early", "events": [early_line]})
        stored = live.event_payload(event, "s", line_key("b4tch", 0))
        await layer.group_send(name, {"type": "log.events", "events": [stored]})
        # The same text printed again later is a new line, and is sent.
        again = {**early_line, "key": line_key("l4ter", 0), "timestamp": now + 1}
        await layer.group_send(name, {"type": "log.early", "events": [again]})
        following = await socket.receive_json_from(timeout=5)
        assert following == {"type": "early", "events": [again]}
        await socket.disconnect()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_a_line_stored_before_its_early_copy_arrives_is_sent_once():
    account = accounts.account_get_or_create("111122223333")
    user = accounts.user_create(
        username="early", account=account, password="pw-1234567890", is_admin=True
    )
    now = int(time.time() * 1000)
    (batch,) = log_batches_store([LogBatch(account.id, GROUP, "s", [(now, "raced")], "r4ce")])
    (event,) = batch.events
    layer = get_channel_layer()

    async def scenario() -> None:
        socket = _communicator(f"group={quote(GROUP)}&early=1", user)
        assert await socket.connect()
        assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
        stored = live.event_payload(event, "s", line_key("r4ce", 0))
        await layer.group_send(
            live.group_name(account.id, GROUP), {"type": "log.events", "events": [stored]}
        )
        full = await socket.receive_json_from(timeout=5)
        assert [(e["id"], e["key"]) for e in full["events"]] == [(event.pk, "r4ce.0")]
        late = {k: v for k, v in stored.items() if k != "id"}
        await layer.group_send(
            live.early_group_name(account.id, GROUP), {"type": "log.early", "events": [late]}
        )
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_under_a_flood_of_lines_plain_and_early_sockets_both_get_every_line_once():
    account = accounts.account_get_or_create("111122223333")
    user = accounts.user_create(
        username="early", account=account, password="pw-1234567890", is_admin=True
    )
    now = int(time.time() * 1000)
    log_batches_store([LogBatch(account.id, GROUP, "s0", [(now, "made the group")])])
    writer = LogIngestor()
    rounds, streams = 600, 4  # each round: a chunk of output on each of 4 streams

    async def scenario() -> None:
        early = _communicator(f"group={quote(GROUP)}&early=1", user)
        plain = _communicator(f"group={quote(GROUP)}", user)
        for socket in (early, plain):
            assert await socket.connect()
            assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
        for n in range(rounds):
            for stream in range(streams):
                writer.submit(account.id, GROUP, f"s{stream}", [(now + n, f"l{stream}-{n}")])
            await asyncio.sleep(0.001)
        assert await asyncio.get_running_loop().run_in_executor(None, writer.flush)
        client = LiveTailLines()
        shown: list[str] = []
        kinds: Counter[str] = Counter()
        while not await early.receive_nothing(timeout=1):
            data = await early.receive_json_from(timeout=1)
            kinds[data["type"]] += 1
            shown += [e["message"] for e in client.receive(data)]
        got: list[str] = []
        while not await plain.receive_nothing(timeout=0.5):
            data = await plain.receive_json_from(timeout=1)
            assert data["type"] == "events"
            got += [e["message"] for e in data["events"]]
        expected = sorted(f"l{stream}-{n}" for n in range(rounds) for stream in range(streams))
        assert sorted(got) == expected
        assert sorted(shown) == expected
        assert client.unconfirmed == {}
        # Early lines were sent together: far fewer messages than chunks of output.
        assert 0 < kinds["early"] < rounds * streams / 2
        for socket in (early, plain):
            await socket.disconnect()

    asyncio.run(scenario())


PRINTER = """
import time

def handler(event, context):
    for n in range(event["lines"]):
        print(f"line {event['run']}-{n}")
        time.sleep(0.002)
    return event["run"]
"""


async def _tail_with_reconnects(
    url: str, client: LiveTailLines, expected: set[str], stop: threading.Event
) -> list[str]:
    """Show lines as the console would, dropping the socket at random moments (often right
    after an early line, before its id came), until every expected line was shown."""
    shown: list[str] = []
    rng = random.Random(7)
    since = int(time.time() * 1000) - 60_000
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        query = urlencode(client.resume_params(since))
        async with websockets.connect(f"{url}&{query}") as socket:
            budget = rng.randint(1, 12)
            while budget > 0 and time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(socket.recv(), 1)
                except TimeoutError:
                    if stop.is_set() and expected <= set(shown):
                        return shown
                    continue
                data = json.loads(raw)
                shown += [e["message"] for e in client.receive(data)]
                if data["type"] == "early":
                    budget -= 1
        client.disconnected()
    return shown


@pytest.mark.live
@pytest.mark.sandbox
def test_a_client_that_keeps_reconnecting_with_after_id_shows_each_printed_line_once(
    functory, lam, credentials
):
    create_function(lam, "early", Code={"ZipFile": make_zip({"app.py": PRINTER})})
    lam.invoke(FunctionName="early", Payload=b'{"run": 0, "lines": 1}')  # makes the group
    token = _token(functory, credentials.account_id, GROUP)
    port = urlsplit(functory.url).port
    url = f"ws://127.0.0.1:{port}/ws/logs/?group={quote(GROUP)}&token={quote(token)}"
    runs, lines = 25, 40
    expected = {f"line {run}-{n}" for run in range(1, runs + 1) for n in range(lines)}
    stop = threading.Event()

    def invoke_all() -> None:
        try:
            time.sleep(0.5)
            for run in range(1, runs + 1):
                payload = json.dumps({"run": run, "lines": lines}).encode()
                lam.invoke(FunctionName="early", Payload=payload)
        finally:
            stop.set()

    invoker = threading.Thread(target=invoke_all)
    invoker.start()
    client = LiveTailLines()
    try:
        shown = asyncio.run(_tail_with_reconnects(url, client, expected, stop))
    finally:
        invoker.join()
    printed = Counter(line for line in shown if line.startswith("line ") and line != "line 0-0")
    assert set(printed) == expected, f"missing {sorted(expected - set(printed))[:5]}"
    assert [line for line, count in printed.items() if count > 1] == []
    # The scenario happened: reconnects with early lines whose ids had not come yet.
    assert len(client.carried_at_reconnects) >= 10
    assert sum(client.carried_at_reconnects) > 0


def _invoker(lam: Any, payload: bytes) -> Any:
    return lambda: lam.invoke(FunctionName="early", Payload=payload)


@pytest.mark.live
@pytest.mark.sandbox
def test_lines_printed_in_another_process_arrive_early_through_redis(functory_pair):
    first, second = functory_pair
    creds = create_user(first)
    via_second = client_for(second, creds)
    create_function(via_second, "early", Code={"ZipFile": make_zip({"app.py": PRINTER})})
    via_second.invoke(FunctionName="early", Payload=b'{"run": 0, "lines": 1}')
    logs = client_for(first, creds, "logs")
    deadline = time.monotonic() + 30
    while not logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]:
        assert time.monotonic() < deadline, "the first invoke's log group was never made"
        time.sleep(0.1)
    token = _token(first, creds.account_id, GROUP)
    port = urlsplit(first.url).port
    url = f"ws://127.0.0.1:{port}/ws/logs/?group={quote(GROUP)}&token={quote(token)}&early=1"

    async def tail() -> list[dict[str, Any]]:
        async with websockets.connect(url) as socket:
            assert json.loads(await socket.recv())["type"] == "ready"
            loop = asyncio.get_running_loop()
            # The replica asks Redis whether the group has subscribers once a second: its
            # first lines after the socket joined may come only once stored.
            for run in range(1, 30):
                payload = json.dumps({"run": run, "lines": 1}).encode()
                await loop.run_in_executor(None, _invoker(via_second, payload))
                wanted = f"line {run}-0"
                frames: list[dict[str, Any]] = []
                key = None
                # Until the line is stored: its id for an early copy, or the line itself.
                while True:
                    data = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    frames.append(data)
                    lines = {e.get("message"): e for e in data.get("events", [])}
                    if data["type"] == "early" and wanted in lines:
                        key = lines[wanted]["key"]
                    if data["type"] == "events" and wanted in lines:
                        break
                    if data["type"] == "stored" and key in {e["key"] for e in data["events"]}:
                        break
                if key is not None:
                    # A moment more: a second copy of the line would come now.
                    with contextlib.suppress(TimeoutError):
                        while True:
                            frames.append(json.loads(await asyncio.wait_for(socket.recv(), 0.5)))
                    return [f for f in frames if _mentions(f, wanted, key)]
                await asyncio.sleep(0.3)
        return []

    frames = asyncio.run(tail())
    assert [f["type"] for f in frames] == ["early", "stored"]


def _mentions(frame: dict[str, Any], line: str, key: str) -> bool:
    return any(e.get("message") == line or e.get("key") == key for e in frame.get("events", []))


def test_nothing_is_sent_early_when_nobody_tails_the_group_or_off_the_event_loop():
    # Off any event loop (a thread, a worker's sync code): the stored publish carries them.
    assert live.publish_early("111122223333", GROUP, "s", [(1, "x")]) is None

    async def on_the_loop() -> str | None:
        live.bind_loop(asyncio.get_running_loop())
        return live.publish_early("111122223333", "/nobody/tails/this", "s", [(1, "x")])

    assert asyncio.run(on_the_loop()) is None
    assert live._early_pending == {}
