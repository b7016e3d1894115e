"""Opaque ``Marker`` tokens for keyset pagination, as Lambda's list calls use them."""

from __future__ import annotations

import base64
import json
from typing import Any

from console.errors import InvalidParameterValue


def encode(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode(marker: str | None) -> Any:
    if not marker:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(marker.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterValue("Invalid marker") from exc
