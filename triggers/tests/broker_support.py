"""What the self-hosted broker pollers' tests share: a recording stand-in for the function,
a mapping snapshot, a poller run on the test's own loop, and a TCP proxy the tests cut to
take a broker away from a poller without touching the machine's broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from iam.models import Account
from triggers.brokers import Broker, Engine
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Outcome
from triggers.pollers.mq import BrokerPoller, Connector

ACCOUNT = "123456789012"


def broker_arn(name: str) -> str:
    return f"arn:aws:mq:us-east-1:{ACCOUNT}:broker:{name}:b-{uuid.uuid4()}"


class Function:
    """Stands in for the mapping's function: records every event, answers as told."""

    def __init__(
        self, answer: Callable[[dict[str, Any]], Outcome] | None = None, delay: float = 0.0
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda event: Outcome(b"null", None))
        self.delay = delay

    async def __call__(self, config: MappingConfig, payload: bytes) -> Outcome:
        event = json.loads(payload)
        self.events.append(event)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.answer(event)


def failing(event: dict[str, Any]) -> Outcome:
    return Outcome(b'{"errorMessage": "no"}', "Unhandled")


def mapping(
    engine: Engine, url: str, queue: str, *, jetstream: bool = False, **overrides: Any
) -> MappingConfig:
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "generation": 1,
        "account": Account(id=ACCOUNT),
        "function_name": "f",
        "qualifier": None,
        "event_source_arn": broker_arn("b"),
        "batch_size": 100,
        "batching_window_s": 0,
        "filters": None,
        "report_batch_item_failures": False,
        "maximum_concurrency": 1,
        "queue": queue,
        "broker": Broker("b", engine, url, None, jetstream),
    }
    values.update(overrides)
    return MappingConfig(**values)


class Run:
    """A poller on the running loop, with what it reported and a switch for may_deliver."""

    def __init__(self, config: MappingConfig, function: Function, connect: Connector) -> None:
        self.reports: list[str] = []
        self.allowed = True
        self.poller = BrokerPoller(
            config,
            invoker=function,
            report=self.reports.append,
            may_deliver=lambda: self.allowed,
            connect=connect,
            name="test",
        )

    async def __aenter__(self) -> Run:
        self.poller.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.poller.stop(grace=5)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


class Proxy:
    """A TCP proxy to a broker on 127.0.0.1 that the test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.refusing = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self, *, refuse: bool = True) -> None:
        """Close every connection through the proxy (and refuse new ones while ``refuse``)."""
        self.refusing = refuse
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@contextlib.asynccontextmanager
async def proxy_to(port: int) -> AsyncIterator[Proxy]:
    proxy = Proxy(port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
