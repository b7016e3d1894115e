"""The one JSON parser for request bodies a client sends (every API, the console's endpoints).

``json.loads`` alone lets a client reach the server's limits: 10,000 nested brackets raise
``RecursionError`` (a 500), ``NaN``/``Infinity``/``1e999`` become non-finite floats that no
AWS API accepts and that later fail to serialize, and a deep-but-parseable document makes
every recursive walk after it (validation, ``json.dumps``) a hazard. :func:`loads` refuses
all of these with :class:`JSONError`, a ``ValueError`` the callers turn into their
service's own 4xx. Duplicate keys keep the last value, as Jackson (AWS's parser) does.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Deeper than any AWS request shape (Lambda's deepest is ~6 levels).
MAX_DEPTH = 64
# For what a function returns when the server re-reads it (test results, destination
# records): deep enough for real documents, far from the interpreter's recursion limit.
PAYLOAD_MAX_DEPTH = 256


class JSONError(ValueError):
    """A body that is not acceptable JSON; the message says why, for the client."""


def _reject_constant(name: str) -> Any:
    raise JSONError(f"Non-standard token '{name}': NaN and Infinity are not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONError(f"Numeric value ({text[:40]}) out of range of double")
    return value


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (an iterative walk: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def loads(data: bytes | str, *, max_depth: int | None = MAX_DEPTH, non_finite: bool = False) -> Any:
    """Parse ``data`` strictly; ``max_depth=None`` only guards the parser's own recursion
    (for payloads the server checks but does not walk, such as Invoke's). ``non_finite``
    lets ``NaN``, ``Infinity`` and out-of-range numbers through as floats, for an API that
    answers them with its own validation error (CloudWatch's PutMetricData: botocore sends
    a NaN value as the token ``NaN``)."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONError(f"Invalid UTF-8 byte at position {exc.start}") from None
    else:
        text = data
    try:
        if non_finite:
            document = json.loads(text, parse_constant=float, parse_float=float)
        else:
            document = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except JSONError:
        raise
    except RecursionError:
        raise JSONError("Document nesting depth exceeds the maximum allowed") from None
    except ValueError as exc:
        # Also int("1" * 10_000): Python refuses integers longer than 4300 digits.
        raise JSONError(str(exc)) from None
    if (
        max_depth is not None
        and isinstance(document, dict | list)
        and max_depth >= 1
        and _depth_exceeds(document, max_depth)
    ):
        raise JSONError(f"Document nesting depth exceeds the maximum of {max_depth}")
    return document


def nul_replaced(document: Any) -> Any:
    """``document`` with every NUL in its strings (keys too) replaced by U+FFFD, as stored
    log lines have it: PostgreSQL's text cannot hold NUL, so an API that stores or looks up
    what a caller sends hands it on this way (``document`` is parsed, so its depth is
    already bounded)."""
    if isinstance(document, str):
        return document.replace("\x00", "\ufffd") if "\x00" in document else document
    if isinstance(document, dict):
        return {nul_replaced(key): nul_replaced(value) for key, value in document.items()}
    if isinstance(document, list):
        return [nul_replaced(item) for item in document]
    return document
