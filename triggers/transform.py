"""What a rule's target receives: the event itself, a constant ``Input``, the part of the
event an ``InputPath`` names, or an ``InputTransformer``'s template filled in.

Pure (no Django). Paths are the subset of JSONPath EventBridge documents: ``$``, dot
notation with letters, digits, dashes, underscores and slashes, array indices
(``$.detail.items[0].id``) and wildcards (``$.detail.items[*].id`` gives a list).
Template substitution follows EventBridge's rules:

- A template that is JSON (it starts with ``{``, ``[`` or ``"``): a placeholder outside a
  string literal becomes the value as JSON (a string gets its quotes); inside a string
  literal it becomes the value's text, escaped for the string (a string without quotes,
  anything else as its JSON).
- Any other template is text: a string value goes in as it is, anything else as JSON.
- A path the event lacks gives ``null`` outside a string literal and nothing inside one.
- Predefined variables: ``aws.events.rule-arn``, ``aws.events.rule-name``,
  ``aws.events.event.ingestion-time``, ``aws.events.event`` (the event without
  ``detail``) and ``aws.events.event.json`` (the whole event).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_PATH = re.compile(r"\$(?:\.[A-Za-z0-9_\-/]+|\.\*|\[\d+\]|\[\*\])*")
_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]|(\.\*|\[\*\])")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
PREDEFINED = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    }
)
_MISSING = object()


class TransformError(ValueError):
    """A path or template EventBridge would refuse at PutTargets."""


def check_path(path: str) -> None:
    if _PATH.fullmatch(path) is None:
        raise TransformError(f"The path {path} is not valid JSON path.")


def extract(document: Any, path: str) -> Any:
    """The value at ``path`` (already checked), or ``_MISSING``; a path with a wildcard
    (``[*]`` or ``.*``) gives the list of what it reaches."""
    values = [document]
    spread = False
    for name, index, wildcard in _STEP.findall(path[1:]):
        found: list[Any] = []
        for value in values:
            if wildcard:
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, dict):
                    found.extend(value.values())
            elif name:
                if isinstance(value, dict) and name in value:
                    found.append(value[name])
            elif isinstance(value, list) and int(index) < len(value):
                found.append(value[int(index)])
        values = found
        spread = spread or bool(wildcard)
    if spread:
        return values
    return values[0] if values else _MISSING


def check_transformer(paths: dict[str, str], template: str) -> None:
    """What PutTargets checks: valid paths, no reserved names, no placeholder as a key."""
    for name, path in paths.items():
        if name in PREDEFINED or name.lower().startswith("aws."):
            raise TransformError(f"InputPathsMap key {name} is reserved.")
        check_path(path)
    if not _is_json(template):
        return
    for match, in_string in _placeholders(template):
        if not in_string and template[match.end() :].lstrip().startswith(":"):
            raise TransformError("The placeholder cannot be used as an object key.")


def _is_json(template: str) -> bool:
    return template.lstrip().startswith(("{", "[", '"'))


def _placeholders(template: str) -> Iterator[tuple[re.Match[str], bool]]:
    """Each ``<name>`` of a JSON template, and whether it sits inside a string literal."""
    in_string = False
    index = 0
    while index < len(template):
        char = template[index]
        if char == "\\" and in_string:
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "<":
            match = _PLACEHOLDER.match(template, index)
            if match is not None:
                yield match, in_string
                index = match.end()
                continue
        index += 1


@dataclass(frozen=True)
class Context:
    rule_arn: str
    rule_name: str
    ingestion_time: str


def _variables(event: dict[str, Any], paths: dict[str, str], context: Context) -> dict[str, Any]:
    values: dict[str, Any] = {name: extract(event, path) for name, path in paths.items()}
    values["aws.events.rule-arn"] = context.rule_arn
    values["aws.events.rule-name"] = context.rule_name
    values["aws.events.event.ingestion-time"] = context.ingestion_time
    values["aws.events.event"] = {k: v for k, v in event.items() if k != "detail"}
    values["aws.events.event.json"] = event
    return values


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _in_string(value: Any) -> str:
    if value is _MISSING:
        return ""
    text = value if isinstance(value, str) else _dumps(value)
    # The text goes between quotes the template already has: escape it, drop the quotes.
    return _dumps(text)[1:-1]


def _as_json(value: Any) -> str:
    return "null" if value is _MISSING else _dumps(value)


def _as_text(value: Any) -> str:
    if value is _MISSING:
        return ""
    return value if isinstance(value, str) else _dumps(value)


def render_template(
    template: str, paths: dict[str, str], event: dict[str, Any], context: Context
) -> str:
    values = _variables(event, paths, context)
    if not _is_json(template):
        return _PLACEHOLDER.sub(
            lambda m: _as_text(values[m.group(1)]) if m.group(1) in values else m.group(0),
            template,
        )
    out: list[str] = []
    done = 0
    for match, in_string in _placeholders(template):
        name = match.group(1)
        if name not in values:
            continue
        out.append(template[done : match.start()])
        out.append(_in_string(values[name]) if in_string else _as_json(values[name]))
        done = match.end()
    out.append(template[done:])
    return "".join(out)


def target_input(
    event: dict[str, Any],
    *,
    constant: str,
    input_path: str,
    transformer: dict[str, Any],
    context: Context,
) -> bytes:
    """The payload one target gets for ``event``."""
    if constant:
        return constant.encode()
    if input_path:
        value = extract(event, input_path)
        return _as_json(value).encode()
    if transformer:
        text = render_template(
            str(transformer["InputTemplate"]),
            dict(transformer.get("InputPathsMap") or {}),
            event,
            context,
        )
        return text.encode()
    return _dumps(event).encode()
