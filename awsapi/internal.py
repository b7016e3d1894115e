"""Requests between a server and its own processes (the embedded worker): signed with the
server's secret key, so no one else can call the internal endpoints.

The signature header is ``t=<unix seconds>,n=<random nonce>,s=<HMAC-SHA256>`` over the
timestamp, the nonce and the body. A request is refused when its timestamp is more than
``MAX_AGE_SECONDS`` away from this server's clock, or when its nonce was already seen: a
captured request cannot be sent again. Seen nonces are remembered per process, for the
age window only, and at most ``MAX_NONCES`` of them (when full, requests are refused until
old ones expire, rather than forgetting a nonce that is still inside its window).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest

HEADER = "X-Functory-Signature"
MAX_AGE_SECONDS = 60
MAX_NONCES = 100_000


def _mac(timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def signature(body: bytes, *, now: float | None = None) -> str:
    """The header value that signs ``body`` now, once."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return f"t={timestamp},n={nonce},s={_mac(timestamp, nonce, body)}"


class NonceMemory:
    """The nonces seen in the last ``max_age`` seconds (oldest first), bounded."""

    def __init__(
        self,
        max_age: float = MAX_AGE_SECONDS,
        capacity: int = MAX_NONCES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age = max_age
        self.capacity = capacity
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, nonce: str) -> bool:
        """Record ``nonce``; False if it was seen already (or memory is full)."""
        now = self.clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - 2 * self.max_age:
                self._seen.popitem(last=False)
            if nonce in self._seen or len(self._seen) >= self.capacity:
                return False
            self._seen[nonce] = now
            return True


_nonces = NonceMemory()


def signed(request: HttpRequest, *, now: float | None = None) -> bool:
    """Whether the request carries this server's fresh, never-used signature."""
    fields = dict(part.partition("=")[::2] for part in request.headers.get(HEADER, "").split(","))
    timestamp, nonce, mac = fields.get("t", ""), fields.get("n", ""), fields.get("s", "")
    if not (timestamp.isascii() and timestamp.isdigit() and 16 <= len(nonce) <= 64):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    if not hmac.compare_digest(mac, _mac(timestamp, nonce, request.body)):
        return False
    return _nonces.first_use(nonce)
