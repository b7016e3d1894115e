"""Opaque ``Marker`` tokens for keyset pagination, as Lambda's list calls use them.

A marker is signed with the server's key and bound to the list it came from (``kind``):
the position inside can only be one this server wrote, so a crafted marker (another type,
a huge number, another list's marker) is refused as AWS refuses it, never reaching a query.
"""

from __future__ import annotations

from typing import Any

from django.core import signing

from awsapi.errors import InvalidParameterValue

_SALT = "functory.marker."


def encode(position: Any, kind: str) -> str:
    return signing.dumps(position, salt=_SALT + kind)


def decode(marker: str | None, kind: str) -> Any:
    if not marker:
        return None
    try:
        return signing.loads(marker, salt=_SALT + kind)
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise InvalidParameterValue("Invalid marker") from exc
