"""A streamed response on its way from the Runtime API to whoever serves it.

The Runtime API writes the pieces of a ``Lambda-Runtime-Function-Response-Mode: streaming``
response here as they arrive; the reader (InvokeWithResponseStream, a RESPONSE_STREAM URL)
takes them out. Little waits here: a reader that falls behind holds the runtime's writes back
(through the socket, as a full TCP window) instead of making the server buffer them, and
small pieces written while the reader is behind are merged, so a runtime writing a byte at a
time does not become a message per byte.
"""

from __future__ import annotations

import asyncio
import collections

MAX_PENDING_PIECES = 16
MERGE_BYTES = 64 * 1024


class ResponseStream:
    def __init__(self, max_pending: int = MAX_PENDING_PIECES) -> None:
        self._pending: collections.deque[bytearray] = collections.deque()
        self._max_pending = max_pending
        self._changed = asyncio.Event()
        # The runtime's Content-Type, once it started a streamed response.
        self.content_type: str | None = None
        self.started = False
        self.written = 0

    def begin(self, content_type: str | None) -> None:
        self.started = True
        self.content_type = content_type

    async def write(self, data: bytes) -> None:
        """Hand one piece to the reader, waiting while it is behind."""
        if not data:
            return
        self.written += len(data)
        if self._pending and len(self._pending[-1]) + len(data) <= MERGE_BYTES:
            self._pending[-1] += data
            return
        while len(self._pending) >= self._max_pending:
            self._changed.clear()
            await self._changed.wait()
        self._pending.append(bytearray(data))
        self._changed.set()

    async def next_piece(self) -> bytes:
        while not self._pending:
            self._changed.clear()
            await self._changed.wait()
        piece = self._pending.popleft()
        self._changed.set()
        return bytes(piece)

    def pending(self) -> list[bytes]:
        """The pieces written but not yet taken (the invocation is over: no more come)."""
        pieces = [bytes(piece) for piece in self._pending]
        self._pending.clear()
        self._changed.set()
        return pieces
