"""Input validation driven by the botocore service model, with AWS's message texts.

AWS's front end checks every member against the model's constraints (length, range,
pattern, enum, required) before the service sees the call, and reports all failures at
once: ``2 validation errors detected: Value 'x' at 'memorySize' failed to satisfy
constraint: ...; ...``. We do the same from the same model, so the rules cannot drift.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from botocore.model import OperationModel, Shape

from awsapi.errors import InvalidRequestContent, ValidationError
from awsapi.service_models import service_model

# Where the live service is stricter than the published model (the model has grown to
# cover managed-instance functions), the service's own limits win.
_LIMIT_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("lambda", "MemorySize"): {"max": 10240},
    ("lambda", "Timeout"): {"max": 900},
    # The service, not the front end, checks Runtime (it may also be an ARN) and answers
    # InvalidParameterValueException: see functions.services.functions.check_runtime.
    ("lambda", "Runtime"): {"enum": None},
    # The live service lists InvokeMode's values in its own order.
    ("lambda", "InvokeMode"): {"enum": ["RESPONSE_STREAM", "BUFFERED"]},
}


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        # A Java-only construct; the service still checks the value further down.
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


_SCALARS = frozenset({"string", "integer", "long", "float", "double", "boolean"})


class _Checker:
    def __init__(self, service: str) -> None:
        self.service = service
        self.errors: list[str] = []

    def fail(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_render(value)}'"
        self.errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")

    def limits(self, shape: Shape, member: str) -> dict[str, Any]:
        meta = dict(shape.metadata)
        meta.update(_LIMIT_OVERRIDES.get((self.service, member), {}))
        return meta

    def check(self, shape: Shape, value: Any, path: str, member: str) -> None:
        meta = self.limits(shape, member)
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                raise InvalidRequestContent(
                    f"Could not parse request body into json: Unexpected value at '{path}'"
                )
            self.structure(shape, value, path)
        elif kind == "list":
            if not isinstance(value, list):
                raise InvalidRequestContent(
                    f"Could not parse request body into json: Expected a list at '{path}'"
                )
            self.size(value, path, meta)
            member_shape = shape.member
            for index, item in enumerate(value):
                self.check(member_shape, item, f"{path}.{index + 1}.member", member)
        elif kind == "map":
            if not isinstance(value, dict):
                raise InvalidRequestContent(
                    f"Could not parse request body into json: Expected an object at '{path}'"
                )
            self.size(value, path, meta)
            self.map_entries(shape, value, path, member)
        elif kind == "string":
            if not isinstance(value, str):
                raise InvalidRequestContent(
                    f"Could not parse request body into json: Expected a string at '{path}'"
                )
            self.size(value, path, meta)
            enum = meta.get("enum")
            if enum and value not in enum:
                self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
            pattern = meta.get("pattern")
            if pattern:
                compiled = _compiled(pattern)
                if compiled is not None and compiled.fullmatch(value) is None:
                    self.fail(
                        value, path, f"Member must satisfy regular expression pattern: {pattern}"
                    )
        elif kind in {"integer", "long", "float", "double"}:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if not numeric or (kind in {"integer", "long"} and not float(value).is_integer()):
                raise InvalidRequestContent(
                    f"Could not parse request body into json: Expected a number at '{path}'"
                )
            if "min" in meta and value < meta["min"]:
                self.fail(
                    value, path, f"Member must have value greater than or equal to {meta['min']}"
                )
            if "max" in meta and value > meta["max"]:
                self.fail(
                    value, path, f"Member must have value less than or equal to {meta['max']}"
                )
        elif kind == "boolean" and not isinstance(value, bool):
            raise InvalidRequestContent(
                f"Could not parse request body into json: Expected a boolean at '{path}'"
            )

    def map_entries(self, shape: Shape, value: dict[str, Any], path: str, member: str) -> None:
        """AWS reports bad keys or values of a map once, as the whole map and the constraints
        of its key or value shape: ``Value '{2=1.5}' at 'x' failed to satisfy constraint:
        Map value must satisfy constraint: [Member must have value less than ...]``."""
        parts = (("keys", shape.key, list(value)), ("value", shape.value, list(value.values())))
        for part, item_shape, items in parts:
            if item_shape.type_name not in _SCALARS:
                for key, item in value.items():
                    self.check(item_shape, item, f"{path}.{key}.member", member)
                continue
            probe = _Checker(self.service)
            for item in items:
                probe.check(item_shape, item, path, member)
            if probe.errors:
                constraints = self.constraints(item_shape, member)
                # Numeric map values are reported as non-nullable too (AdditionalVersionWeights).
                if part == "value" and item_shape.type_name != "string":
                    constraints.append("Member must not be null")
                self.fail(
                    value,
                    path,
                    f"Map {part} must satisfy constraint: [{', '.join(constraints)}]",
                )

    def constraints(self, shape: Shape, member: str) -> list[str]:
        meta = self.limits(shape, member)
        unit = "length" if shape.type_name == "string" else "value"
        found: list[str] = []
        if "max" in meta:
            found.append(f"Member must have {unit} less than or equal to {meta['max']}")
        if "min" in meta:
            found.append(f"Member must have {unit} greater than or equal to {meta['min']}")
        if meta.get("enum"):
            found.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
        if meta.get("pattern"):
            found.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        return found

    def size(self, value: Any, path: str, meta: dict[str, Any]) -> None:
        if "min" in meta and len(value) < meta["min"]:
            self.fail(
                value, path, f"Member must have length greater than or equal to {meta['min']}"
            )
        if "max" in meta and len(value) > meta["max"]:
            self.fail(value, path, f"Member must have length less than or equal to {meta['max']}")

    def structure(self, shape: Shape, value: dict[str, Any], prefix: str) -> None:
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                self.fail(None, self.join(prefix, name), "Member must not be null")
        for name, item in value.items():
            if item is None or name not in members:
                continue
            self.check(members[name], item, self.join(prefix, name), name)

    @staticmethod
    def join(prefix: str, name: str) -> str:
        return f"{prefix}.{_camel(name)}" if prefix else _camel(name)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def validate(service: str, operation: str, params: dict[str, Any]) -> None:
    """Check ``params`` (member name → value) against the operation's input shape."""
    shape = operation_model(service, operation).input_shape
    if shape is None:
        return
    checker = _Checker(service)
    checker.structure(shape, params, "")
    if checker.errors:
        count = len(checker.errors)
        noun = "error" if count == 1 else "errors"
        raise ValidationError(f"{count} validation {noun} detected: " + "; ".join(checker.errors))


def query_params(service: str, operation: str, query: Any) -> dict[str, Any]:
    """Pick the operation's querystring members out of ``request.GET``, typed per model."""
    shape = operation_model(service, operation).input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    for name, member in shape.members.items():
        if member.serialization.get("location") != "querystring":
            continue
        key = member.serialization.get("name", name)
        if member.type_name == "list":
            # Repeated parameters (``?tagKeys=a&tagKeys=b``) carry list members.
            getlist = getattr(query, "getlist", None)
            values = getlist(key) if getlist is not None else query.get(key)
            if isinstance(values, str):
                values = [values]
            if values:
                params[name] = list(values)
            continue
        raw = query.get(key)
        if raw is None:
            continue
        if member.type_name in {"integer", "long"}:
            try:
                params[name] = int(raw)
            except ValueError:
                raise ValidationError(
                    f"1 validation error detected: Value '{raw}' at '{_camel(name)}' failed to "
                    "satisfy constraint: Member must be a number"
                ) from None
        elif member.type_name == "boolean":
            params[name] = raw.lower() == "true"
        else:
            params[name] = raw
    return params
