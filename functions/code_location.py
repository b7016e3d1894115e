"""Time-limited download links for code packages (``Code.Location``, ``Content.Location``).

Like S3 presigned URLs: the link itself is the credential, signed by the server, scoped
to one account's blob, and valid for ten minutes.
"""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest
from django.urls import reverse

_SALT = "functory.code-location"
MAX_AGE_SECONDS = 600


def url_for(request: HttpRequest, account_id: str, sha256_hex: str, filename: str) -> str:
    token = signing.dumps({"a": account_id, "s": sha256_hex, "n": filename}, salt=_SALT)
    return request.build_absolute_uri(reverse("code-download", args=[token]))


def verify(token: str) -> tuple[str, str, str] | None:
    """The (account id, blob digest, file name) a token grants, or None if invalid/expired."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return str(data["a"]), str(data["s"]), str(data["n"])
