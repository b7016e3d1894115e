"""JSON patterns: ``{ $.level = "ERROR" && ($.latency > 500 || $.retry IS TRUE) }``.

A selector starts at the root, ``$``, with a property (``$.eventType``), then properties and
array indexes (``$.users[0].id``, ``$.coordinates[0][1]``); property names are letters,
digits, ``_`` and ``-``. There is no ``[*]``, no quoted name and no bare ``$``.

A comparison holds only where the selector reaches a string or a number: not a missing
field, not ``true``/``false``/``null``, not an object or array (so ``$.users = 1`` and
``$.users != 1`` both fail when ``users`` is an array). ``IS TRUE``, ``IS FALSE`` and
``IS NULL`` test for those JSON values and ``NOT EXISTS`` for a missing field. A line that
is not a JSON object matches no JSON pattern.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from monitoring.filter_patterns.base import (
    MAX_STRUCTURED_CHARS,
    FilterPattern,
    Kind,
    Match,
    Need,
    invalid,
    invalid_characters,
    invalid_term,
    need_all,
    need_any,
    need_literal,
    need_q,
)
from monitoring.filter_patterns.values import PATTERN_NUMBER as JSON_NUMBER
from monitoring.filter_patterns.values import (
    Condition,
    ConditionParser,
    Token,
    Value,
    check_operator,
    compare,
    lex,
    name_char,
    to_number,
    value_char,
    value_from,
)

Path = tuple[str | int, ...]
MISSING = object()


class JsonNumber:
    """A number of the event, as written (``1.50`` stays ``1.50``; no float rounding, and no
    limit on an integer's digits)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


_DECODER = json.JSONDecoder(
    parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_no_constants
)


def load_object(message: str) -> dict[str, Any] | None:
    """The JSON object ``message`` is, or None (not JSON, too deep, too long, not an object)."""
    if len(message) > MAX_STRUCTURED_CHARS:
        return None
    try:
        document = _DECODER.decode(message)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def parse_selector(text: str) -> Path | None:
    """``$.a[0].b`` as ``("a", 0, "b")``; None if it is not a selector."""
    if not text.startswith("$."):
        return None
    steps: list[str | int] = []
    i, n = 1, len(text)
    while i < n:
        if text[i] == ".":
            start = i = i + 1
            while i < n and name_char(text[i]):
                i += 1
            if i == start:
                return None
            steps.append(text[start:i])
        elif text[i] == "[" and steps:
            close = text.find("]", i)
            digits = text[i + 1 : close] if close > 0 else ""
            if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
                return None
            steps.append(int(digits))
            i = close + 1
        else:
            return None
    return tuple(steps)


def lookup(document: Any, path: Path) -> Any:
    node = document
    for step in path:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return MISSING
        elif not isinstance(node, list) or step >= len(node):
            return MISSING
        node = node[step]
    return node


def scalar_text(node: Any) -> str | None:
    """The text a metric filter reads from a node: strings and numbers as written."""
    if isinstance(node, str):
        return node
    if isinstance(node, JsonNumber):
        return node.text
    if isinstance(node, bool):
        return "true" if node else "false"
    return None


def _keys(path: Path) -> Need | None:
    # A key is written "name" in any line that has it, unless it is \u-escaped: the
    # pattern's own pre-filter lets every line with a \u escape through.
    return need_all([need_literal(f'"{step}"') for step in path if isinstance(step, str)])


def _json_safe(need: Need | None) -> Need | None:
    """``need`` with the literals a JSON line may spell differently (escaped) left out."""
    if need is None:
        return None
    if need.literal is not None:
        text = need.literal
        if any(char in '"\\/' or char < " " for char in text):
            return None
        return need
    parts = [_json_safe(part) for part in need.parts]
    return need_any(parts) if need.any_of else need_all(parts)


@dataclass(frozen=True)
class Compare(Condition[dict[str, Any]]):
    path: Path
    operator: str
    value: Value

    def holds(self, subject: dict[str, Any]) -> bool:
        node = lookup(subject, self.path)
        if isinstance(node, str):
            return compare(self.operator, self.value, node, to_number(node))
        if isinstance(node, JsonNumber):
            return compare(self.operator, self.value, node.text, to_number(node.text, JSON_NUMBER))
        return False

    def need(self) -> Need | None:
        value = self.value.need() if self.operator == "=" else None
        return need_all([_keys(self.path), _json_safe(value)])


@dataclass(frozen=True)
class Is(Condition[dict[str, Any]]):
    """``IS TRUE``, ``IS FALSE``, ``IS NULL`` and ``NOT EXISTS``."""

    path: Path
    test: str  # "TRUE", "FALSE", "NULL", "NOT EXISTS"

    def holds(self, subject: dict[str, Any]) -> bool:
        node = lookup(subject, self.path)
        if self.test == "NOT EXISTS":
            return node is MISSING
        if self.test == "NULL":
            return node is None
        return node is (self.test == "TRUE")

    def need(self) -> Need | None:
        if self.test == "NOT EXISTS":
            return None
        return need_all([_keys(self.path), need_literal(self.test.lower())])


def _comparison(tokens: list[Token], i: int) -> tuple[Condition[dict[str, Any]], int]:
    selector = tokens[i]
    if selector.kind != "word":
        raise invalid()
    path = parse_selector(selector.text)
    if path is None:
        bad = invalid_characters(selector.text, name_char)
        raise invalid_term(bad) if bad else invalid()
    rest = tokens[i + 1 : i + 3]
    if len(rest) < 2:
        raise invalid()
    operator, operand = rest
    if operator.kind == "op":
        if operand.kind == "word" and invalid_characters(operand.text, value_char):
            raise invalid_term(invalid_characters(operand.text, value_char))
        value = value_from(operand)
        check_operator(operator.text, value)
        return Compare(path, operator.text, value), i + 3
    if operator.kind == "word" and operand.kind == "word":
        words = (operator.text.upper(), operand.text.upper())
        if words[0] == "IS" and words[1] in ("TRUE", "FALSE", "NULL"):
            return Is(path, words[1]), i + 3
        if words == ("NOT", "EXISTS"):
            return Is(path, "NOT EXISTS"), i + 3
    raise invalid()


@dataclass(frozen=True)
class JsonMatch(Match):
    document: dict[str, Any] = field(default_factory=dict)

    def value(self, selector: str) -> str | None:
        path = parse_selector(selector)
        return None if path is None else scalar_text(lookup(self.document, path))


class JsonPattern(FilterPattern):
    kind: Kind = "json"

    def __init__(self, source: str, condition: Condition[dict[str, Any]]) -> None:
        self.source = source
        self.condition = condition
        self.need = need_all([need_literal("{"), need_any([condition.need(), need_literal("\\u")])])

    def match(self, message: str) -> Match | None:
        document = load_object(message.strip())
        if document is None:
            return None
        try:
            holds = self.condition.holds(document)
        except RecursionError:  # pragma: no cover - conditions nest at most MAX_NESTING deep
            return None
        return JsonMatch(document=document) if holds else None

    def q(self, column: str = "message") -> Q:
        return need_q(self.need, column)

    def can_extract(self, selector: str) -> bool:
        return parse_selector(selector) is not None


def parse_json(pattern: str) -> JsonPattern:
    """``pattern`` is the whole pattern, from its ``{`` to its ``}``."""
    tokens = lex(pattern[1:-1], selectors=True)
    if not tokens:
        raise invalid()
    return JsonPattern(pattern, ConditionParser(tokens, _comparison).parse())
