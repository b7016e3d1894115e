"""Reading CloudWatch request members, with CloudWatch's errors (error codes are the model's
shape names; ``wire`` adds the query protocol's codes clients report)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import math
from typing import Any

from awsapi.errors import AWSError
from monitoring.metrics.custom_services import Dimensions

MAX_DIMENSIONS = 30
MAX_NAME = 255  # Namespace, MetricName, Dimension Name
MAX_DIMENSION_VALUE = 1024


def error(code: str, message: str, status: int = 400) -> AWSError:
    return AWSError(message, code=code, status=status)


def invalid(message: str) -> AWSError:
    return error("InvalidParameterValueException", message)


def invalid_value(value: Any, name: str) -> AWSError:
    """CloudWatch's usual wording for a bad member value."""
    return invalid(f"The value {_shown(value)} for parameter {name} is invalid.")


def missing(name: str) -> AWSError:
    return error("MissingRequiredParameterException", f"The parameter {name} is required.")


def validation(message: str) -> AWSError:
    return error("ValidationException", message)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 256 else text[:256] + "..."


def timestamp(value: Any, name: str) -> float:
    """Epoch seconds of a timestamp member: a number (JSON 1.0), a ``datetime`` (CBOR's tag
    1) or an ISO 8601 string."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    raise invalid(f"The parameter {name} must be a timestamp.")


def string(value: Any, name: str, *, max_length: int = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise invalid(f"The parameter {name} must be a string.")
    if not 1 <= len(value) <= max_length:
        raise invalid(f"The parameter {name} must be between 1 and {max_length} characters long.")
    return value


def members(value: Any, name: str) -> list[Any]:
    """A list member (absent: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"The parameter {name} must be a list.")
    return value


def dimensions(value: Any, name: str) -> Dimensions:
    """A Dimensions member, sorted by name: at most 30, each with a Name and a Value, no
    name twice."""
    items = members(value, name)
    if len(items) > MAX_DIMENSIONS:
        raise invalid(f"The collection {name} must not have a size greater than {MAX_DIMENSIONS}.")
    named: dict[str, str] = {}
    for index, item in enumerate(items, 1):
        where = f"{name}.member.{index}"
        if not isinstance(item, dict) or "Name" not in item:
            raise missing(f"{where}.Name")
        if "Value" not in item:
            raise missing(f"{where}.Value")
        key = string(item["Name"], f"{where}.Name")
        named_value = string(item["Value"], f"{where}.Value", max_length=MAX_DIMENSION_VALUE)
        if key in named:
            raise error(
                "InvalidParameterCombinationException",
                f"No metric may have more than one dimension named {key}.",
            )
        named[key] = named_value
    return tuple(sorted(named.items()))


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise invalid(f"The parameter {name} must be an integer.")
    return value


def request_digest(params: dict[str, Any]) -> str:
    """What a NextToken belongs to: the request without its token and page size."""
    text = json.dumps(
        {k: v for k, v in params.items() if k not in ("NextToken", "MaxDatapoints")},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def token_encode(offset: int, digest: str) -> str:
    text = json.dumps({"o": offset, "d": digest}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def token_decode(token: Any, digest: str, *, code: str) -> int:
    """The offset a NextToken holds; ``code`` for one of another request, or garbage."""
    try:
        if not isinstance(token, str) or len(token) > 256:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["o"]
        if data["d"] != digest or isinstance(offset, bool) or not isinstance(offset, int):
            raise ValueError
        if offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise error(code, "The NextToken is invalid.") from None
    return offset
