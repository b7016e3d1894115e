"""Time-limited download links for code packages (``Code.Location``, ``Content.Location``).

Like S3 presigned URLs: the link itself is the credential, scoped to one account's blob and
valid for ten minutes. The token is encrypted (Fernet: AES-CBC + HMAC, with its issue time)
under a key derived from the server's secret key, so a link shows neither the account id
nor the package's digest to whoever sees it (logs, proxies, a shared screenshot).
"""

from __future__ import annotations

import base64
import functools
import json
import time

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

MAX_AGE_SECONDS = 600


@functools.cache
def _fernet(secret_key: str) -> Fernet:
    # A key of its own (HKDF with this purpose as info), never the secret key itself.
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"functory.code-location"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _seconds(now: float | None) -> int:
    return int(time.time() if now is None else now)


def url_for(
    request: HttpRequest,
    account_id: str,
    sha256_hex: str,
    filename: str,
    *,
    now: float | None = None,
) -> str:
    """The download link, issued ``now`` (the current time unless given: tests)."""
    grant = json.dumps({"a": account_id, "s": sha256_hex, "n": filename}).encode()
    token = _fernet(settings.SECRET_KEY).encrypt_at_time(grant, _seconds(now)).decode()
    return request.build_absolute_uri(reverse("code-download", args=[token]))


def verify(token: str, *, now: float | None = None) -> tuple[str, str, str] | None:
    """The (account id, blob digest, file name) a token grants, or None if invalid/expired
    (as of ``now``, the current time unless given: tests)."""
    try:
        grant = _fernet(settings.SECRET_KEY).decrypt_at_time(
            token.encode(), MAX_AGE_SECONDS, _seconds(now)
        )
        data = json.loads(grant)
        return str(data["a"]), str(data["s"]), str(data["n"])
    except (InvalidToken, ValueError, KeyError, TypeError, UnicodeError):
        return None
