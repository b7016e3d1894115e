"""What of a call's input and answer an audit event may keep: never a secret, never much.

Where the call has a botocore model, the model says what is secret: members whose shape is
``sensitive`` (Lambda's environment variables, payloads, error data) are replaced by
``HIDDEN_DUE_TO_SECURITY_REASONS``, as CloudTrail writes them, and blobs (a function's
``ZipFile``) by the same; structure members are named in lowerCamelCase, as CloudTrail's
``requestParameters`` are. Whatever has no model (the console's own JSON) is redacted by
member name: anything that looks like code, a password, a secret, a token, an environment
or a payload.

Sizes are bounded: strings, lists, maps and nesting are cut, and a value still larger than
``MAX_JSON_CHARS`` once encoded is replaced by a note that it was omitted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.model import MapShape, OperationModel, Shape, StructureShape

from awsapi import validation

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
MAX_STRING = 1024
MAX_ITEMS = 50
MAX_DEPTH = 8
MAX_JSON_CHARS = 16 * 1024

# Names of members that hold secrets or code, wherever they appear (lower-cased, no
# separators): the fallback for input no model describes.
_SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|credential|privatekey|zipfile|code|source|content|"
    r"files?$|variables|environment|payload|event$|body$|authorization|cookie)"
)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


# Members that hold a credential even where the model does not say it is sensitive.
_CREDENTIAL_NAME = re.compile(r"(sessiontoken|secretaccesskey|password|privatekey)")


def _bounded_string(value: str) -> str:
    return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "...(truncated)"


def _strings(value: Any, into: set[str], depth: int = 0) -> None:
    """The strings inside a hidden value (bounded), so messages can be scrubbed of them."""
    if depth > MAX_DEPTH or len(into) > 4 * MAX_ITEMS:
        return
    if isinstance(value, str):
        into.add(value)
    elif isinstance(value, dict):
        for key, item in list(value.items())[:MAX_ITEMS]:
            _strings(key, into, depth + 1)
            _strings(item, into, depth + 1)
    elif isinstance(value, list):
        for item in value[:MAX_ITEMS]:
            _strings(item, into, depth + 1)


def _by_shape(shape: Shape | None, value: Any, depth: int, hidden: set[str]) -> Any:
    if shape is None:
        return by_name(value, depth, hidden)
    if shape.metadata.get("sensitive") or shape.type_name == "blob":
        _strings(value, hidden)
        return HIDDEN
    if depth >= MAX_DEPTH:
        return "...(truncated)"
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        kept: dict[str, Any] = {}
        for name, member in list(value.items())[:MAX_ITEMS]:
            member_shape = shape.members.get(name)
            if _CREDENTIAL_NAME.search(name.lower()):
                # Not every model marks its secrets (STS's SessionToken is not sensitive).
                _strings(member, hidden)
                kept[_camel(name)] = HIDDEN
            elif member_shape is None:
                kept[_camel(str(name))] = by_name({name: member}, depth + 1, hidden).get(name)
            else:
                kept[_camel(name)] = _by_shape(member_shape, member, depth + 1, hidden)
        return kept
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {
            _bounded_string(str(key)): _by_shape(shape.value, item, depth + 1, hidden)
            for key, item in list(value.items())[:MAX_ITEMS]
        }
    if shape.type_name == "list" and isinstance(value, list):
        member = getattr(shape, "member", None)
        return [_by_shape(member, item, depth + 1, hidden) for item in value[:MAX_ITEMS]]
    return _scalar(value, depth, hidden)


def _scalar(value: Any, depth: int, hidden: set[str]) -> Any:
    if isinstance(value, str):
        return _bounded_string(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return by_name(value, depth, hidden)


def by_name(value: Any, depth: int = 0, hidden: set[str] | None = None) -> Any:
    """Redact by member name (no model): secrets and code become ``HIDDEN``; the strings
    hidden are added to ``hidden``."""
    if hidden is None:
        hidden = set()
    if depth >= MAX_DEPTH:
        return "...(truncated)"
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in list(value.items())[:MAX_ITEMS]:
            name = _bounded_string(str(key))
            if _SECRET_NAME.search(re.sub(r"[^a-z]", "", name.lower())):
                _strings(item, hidden)
                kept[name] = HIDDEN
            else:
                kept[name] = by_name(item, depth + 1, hidden)
        return kept
    if isinstance(value, list | tuple):
        return [by_name(item, depth + 1, hidden) for item in list(value)[:MAX_ITEMS]]
    if isinstance(value, bytes | bytearray | memoryview):
        return HIDDEN
    if isinstance(value, str):
        return _bounded_string(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _bounded_string(str(value))


def operation_model(service: str, operation: str) -> OperationModel | None:
    try:
        return validation.operation_model(service, operation)
    except Exception:  # an unknown service or operation: no model, redact by name
        return None


def bounded(value: Any) -> Any:
    if value is None:
        return None
    encoded = json.dumps(value, separators=(",", ":"), default=str)
    if len(encoded) > MAX_JSON_CHARS:
        return {"omitted": f"{len(encoded)} characters, more than an event keeps"}
    return value


def request_parameters(
    service: str, operation: str, params: dict[str, Any], hidden: set[str] | None = None
) -> Any:
    """The call's input as an event keeps it (``params`` by model member name); the
    strings hidden are added to ``hidden`` (see :func:`scrub`)."""
    model = operation_model(service, operation)
    shape = model.input_shape if model is not None else None
    found: set[str] = set() if hidden is None else hidden
    return bounded(_by_shape(shape, params, 0, found) if params else None)


def scrub(message: str, hidden: set[str]) -> str:
    """An error message without any of the hidden values it may quote (a validation
    message names the value it refused)."""
    message = _bounded_string(message)
    for value in sorted(hidden, key=len, reverse=True):
        if len(value) >= 3 and value in message:
            message = message.replace(value, HIDDEN)
    return message


def response_elements(service: str, operation: str, body: Any) -> Any:
    """The call's answer as an event keeps it."""
    if body is None or isinstance(body, bytes | bytearray):
        return None
    if not isinstance(body, dict):
        return None  # a stream or other non-JSON answer
    model = operation_model(service, operation)
    shape = model.output_shape if model is not None else None
    return bounded(_by_shape(shape, body, 0, set()))
