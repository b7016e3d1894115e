"""Requests between a server and its own processes (the embedded worker): signed with the
server's secret key, so no one else can call the internal endpoints."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest

HEADER = "X-Functory-Signature"


def signature(body: bytes) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()


def signed(request: HttpRequest) -> bool:
    """Whether the request's body carries this server's signature."""
    return hmac.compare_digest(request.headers.get(HEADER, ""), signature(request.body))
