"""The platform's public API inside an environment, at ``127.0.0.1:9002`` (AWS_ENDPOINT_URL).

The executor binds the listening socket in the environment's network namespace when it
makes it (as it does the Runtime API's), and relays each connection to the platform's
public listener (``FUNCTORY_FUNCTION_API_ADDRESS``) from the host. So the port is open the
moment the function's code runs (pasta's own forwarding opens it 50-150 ms after the
namespace is configured, the bulk of a cold start), and the nftables fence needs no
exception for the host's loopback: nothing but this relay reaches it. Bounded: a few
connections per environment; all of them close with the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

logger = logging.getLogger(__name__)

PORT = 9002
MAX_CONNECTIONS = 16  # per environment; more are closed at once
CONNECT_TIMEOUT_S = 5.0
CHUNK = 64 * 1024


def bind_inside() -> socket.socket:
    """On the thread that is in the environment's namespace: its listening socket."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(MAX_CONNECTIONS)
    return listener


class PlatformProxy:
    """Relays connections accepted on ``listener`` to ``target`` (host, port)."""

    def __init__(self, listener: socket.socket, target: tuple[str, int]) -> None:
        self._listener = listener
        self._target = target
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, sock=self._listener)

    def close(self) -> None:
        """Stop listening and drop every relayed connection (from any thread)."""
        if self._closed:
            return
        self._closed = True
        loop = self._loop
        if loop is None:
            self._listener.close()
            return
        with contextlib.suppress(RuntimeError):  # its loop is closed: so is everything
            if loop.is_running() and _on_other_thread(loop):
                loop.call_soon_threadsafe(self._close_now)
            else:
                self._close_now()

    def _close_now(self) -> None:
        if self._server is not None:
            self._server.close()
        self._listener.close()
        for task in list(self._tasks):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self._closed or task is None or len(self._tasks) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            host, port = self._target
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
            )
            upstream = up_writer
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, TimeoutError, asyncio.CancelledError):
            pass  # either end went away, or the environment did
        finally:
            self._tasks.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    end.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(CHUNK)
        if not data:
            if writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.write_eof()
            return
        writer.write(data)
        await writer.drain()  # back-pressure: a slow reader slows its writer


def _on_other_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is not loop
    except RuntimeError:
        return True
