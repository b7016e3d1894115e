"""Lambda's event filtering: ``FilterCriteria`` of an event source mapping.

``{"Filters": [{"Pattern": "<json text>"}, ...]}``: up to five patterns (AWS's default
quota), OR-ed; a record that matches none is dropped. Patterns use the EventBridge grammar
(:mod:`triggers.patterns`) and are matched against the record as AWS documents it: the
payload key of the source (``body`` for SQS, ``data`` for Kinesis and Amazon MQ/RabbitMQ,
``value`` for Kafka) is parsed as JSON when it is JSON, so ``{"body": {"kind": ["a"]}}``
looks inside a message, and stays a (decoded) string when it is not, so a plain-string
pattern can still match it. DynamoDB Streams records are matched as they are.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from triggers.patterns import Pattern, PatternError, compile_pattern

MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096  # the API's limit on Filter.Pattern
# Past this a payload is not parsed for filtering (it stays a string): bounds the work a
# flood of huge messages costs before any function runs.
MAX_PARSED_PAYLOAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FilterSet:
    patterns: tuple[Pattern, ...]

    def matches(self, view: dict[str, Any]) -> bool:
        """Whether a record (as :func:`record_view` shows it) passes: no filters pass all."""
        return not self.patterns or any(p.matches(view) for p in self.patterns)


def compile_filter_criteria(criteria: dict[str, Any] | None) -> FilterSet:
    """Check and compile a ``FilterCriteria`` structure; :class:`PatternError` if invalid."""
    filters = (criteria or {}).get("Filters") or []
    if not isinstance(filters, list):
        raise PatternError("Filters must be a list")
    if len(filters) > MAX_FILTERS:
        raise PatternError(
            f"The number of filters ({len(filters)}) exceeds the limit of {MAX_FILTERS}"
        )
    patterns = []
    for item in filters:
        text = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text:
            raise PatternError("Each filter needs a Pattern")
        if len(text) > MAX_PATTERN_CHARS:
            raise PatternError(f"A filter pattern is longer than {MAX_PATTERN_CHARS} characters")
        patterns.append(compile_pattern(text))
    return FilterSet(tuple(patterns))


def _parse_payload(text: str) -> Any:
    if len(text) > MAX_PARSED_PAYLOAD_BYTES:
        return text
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return text
    # A JSON object or array is looked into; a bare JSON scalar ("5", "\"x\"") is matched
    # as the text it was sent as, like any plain-string message.
    return parsed if isinstance(parsed, dict | list) else text


def _decode_base64(data: Any) -> Any:
    if not isinstance(data, str):
        return data
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return data
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return data


def record_view(record: dict[str, Any], source: str) -> dict[str, Any]:
    """What filter patterns see of one delivered record.

    ``source`` is ``"sqs"``, ``"kinesis"``, ``"dynamodb"``, ``"mq"`` (Amazon MQ,
    RabbitMQ and this platform's other brokers) or ``"kafka"``.
    """
    view = dict(record)
    if source == "sqs":
        if isinstance(view.get("body"), str):
            view["body"] = _parse_payload(view["body"])
    elif source == "kinesis":
        # Kinesis patterns name "data" (and "partitionKey"...) at the top, not under
        # "kinesis", as AWS's examples do.
        inner = view.get("kinesis")
        if isinstance(inner, dict):
            view.update(inner)
        if "data" in view:
            view["data"] = _payload_from_base64(view["data"])
    elif source == "mq":
        if "data" in view:
            view["data"] = _payload_from_base64(view["data"])
    elif source == "kafka" and "value" in view:
        view["value"] = _payload_from_base64(view["value"])
    return view


def _payload_from_base64(data: Any) -> Any:
    decoded = _decode_base64(data)
    return _parse_payload(decoded) if isinstance(decoded, str) else decoded
