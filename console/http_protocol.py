"""The HTTP/1.1 protocol ``manage.py serve`` runs: uvicorn's httptools protocol with the two
bounds it lacks, so a client cannot hold the server's memory or its sockets by never
finishing a request's head.

- **Size:** a request's head (request line and headers) larger than
  ``FUNCTORY_HTTP_MAX_HEAD_BYTES`` is answered 431 and the connection closed, as soon as the
  bytes received pass the limit (uvicorn and httptools otherwise buffer headers without end:
  200 MB of one header were accepted before this).
- **Time:** a head must arrive within ``FUNCTORY_HTTP_HEAD_TIMEOUT_SECONDS`` of the
  connection opening or of the previous response ending; otherwise the connection is closed
  (uvicorn's keep-alive timer is reset by every byte, so a client trickling a header a byte
  at a time, or connecting and saying nothing, held its socket forever).

The function URL server keeps its own, lower header limit (``invocations/urlserver.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"x-amzn-errortype: RequestHeaderFieldsTooLarge\r\n"
    b"connection: close\r\n"
    b"content-length: 63\r\n"
    b"\r\n"
    b'{"message": "Request header fields too large", "Type": "User"}\n'
)


# After a 431, what the client still sends is read and dropped for a moment, so that its
# unread bytes don't make the kernel reset the connection and discard the answer.
LINGER_S = 2.0
LINGER_BYTES = 1024 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = int(settings.FUNCTORY_HTTP_MAX_HEAD_BYTES)
        self._head_timeout = float(settings.FUNCTORY_HTTP_HEAD_TIMEOUT_SECONDS)
        self._head_bytes = 0
        self._reading_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        # Bytes still dropped before the connection closes, after a refusal.
        self._lingering: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingering -= len(data)
            if self._lingering < 0:
                self.transport.close()
            return
        if self._reading_head:
            # Counted before parsing: a chunk that completes the head resets the count in
            # on_headers_complete, so the body it carries is not counted.
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self._max_head:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._await_head()

    # -- the bounds -------------------------------------------------------------------------

    def _await_head(self) -> None:
        self._reading_head = True
        self._head_bytes = 0
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _responding(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self._responding() and not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        self._cancel_head_timer()
        self._reading_head = False
        if self.transport.is_closing():
            return
        if self._responding() or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write(_TOO_LARGE)
        self.transport.write_eof()
        self._lingering = LINGER_BYTES
        self.loop.call_later(LINGER_S, self.transport.close)
