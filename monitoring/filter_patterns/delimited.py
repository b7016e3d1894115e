"""Space-delimited patterns: ``[ip, user, ..., status_code = 4* && status_code != 403, bytes]``.

A line splits at runs of whitespace into fields; a field that opens with ``"`` runs to the
next ``"`` and one that opens with ``[`` to the next ``]``, and their contents are the field
(``[10/Oct/2000:13:55:36 -0700]`` is one field, ``10/Oct/2000:13:55:36 -0700``).

The pattern names the fields in order, separated by commas. Without ``...`` the line must
have exactly as many fields as the pattern; ``...`` (at most once) stands for any number of
them. A field may be left unnamed (``[a, , c]``, or a trailing comma). A field's conditions
name only that field: ``status_code = 4* && status_code != 403`` or ``w1 = ERROR ||
w1 = WARN``.

Matched fields are extracted as CloudWatch's TestMetricFilter reports them: ``$name`` for a
named field and ``$N`` (its place in the line, from 1) for every other one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    need_q,
)
from monitoring.filter_patterns.values import (
    MAX_REGEXES,
    Condition,
    ConditionParser,
    Token,
    Value,
    check_operator,
    compare,
    lex,
    name_char,
    to_number,
    value_from,
)

_NEXT_FIELD = re.compile(r"\S")
_FIELD_END = re.compile(r"\s")


def split_line(line: str) -> list[str]:
    """The fields of a space-delimited line."""
    fields: list[str] = []
    # Where the last closing quote and bracket are: a field opened after them is not
    # closed, and looking again each time would make a line of "[" fields quadratic.
    last = {'"': line.rfind('"'), "[": line.rfind("]")}
    closer = {'"': '"', "[": "]"}
    n = len(line)
    found = _NEXT_FIELD.search(line)
    while found is not None:
        i = found.start()
        opener = line[i]
        if opener in closer and last[opener] > i:
            close = line.find(closer[opener], i + 1)
            fields.append(line[i + 1 : close])
            i = close + 1
        else:
            end = _FIELD_END.search(line, i)
            stop = end.start() if end is not None else n
            fields.append(line[i:stop])
            i = stop
        found = _NEXT_FIELD.search(line, i)
    return fields


@dataclass(frozen=True)
class FieldCompare(Condition[str]):
    operator: str
    value: Value

    def holds(self, subject: str) -> bool:
        return compare(self.operator, self.value, subject, to_number(subject))

    def need(self) -> Need | None:
        # A field is a substring of the line, so what it must contain the line contains.
        return self.value.need() if self.operator == "=" else None


@dataclass(frozen=True)
class Field:
    name: str | None = None  # None: unnamed
    condition: Condition[str] | None = None


ELLIPSIS = Field(name="...")


@dataclass(frozen=True)
class DelimitedMatch(Match):
    fields: tuple[str, ...] = field(default_factory=tuple)

    def value(self, selector: str) -> str | None:
        found = self.extracted_values.get(selector)
        if found is None and selector[1:].isdigit() and selector[1:].isascii():
            index = int(selector[1:])
            if 1 <= index <= len(self.fields):
                return self.fields[index - 1]
        return found


class DelimitedPattern(FilterPattern):
    kind: Kind = "delimited"

    def __init__(self, source: str, fields: list[Field]) -> None:
        self.source = source
        ellipses = [i for i, f in enumerate(fields) if f is ELLIPSIS]
        if len(ellipses) > 1:
            raise invalid()
        self.ellipsis = ellipses[0] if ellipses else None
        self.head = fields[: self.ellipsis] if self.ellipsis is not None else fields
        self.tail = fields[self.ellipsis + 1 :] if self.ellipsis is not None else []
        self.names = frozenset(f.name for f in fields if f.name and f is not ELLIPSIS)
        self.need = need_all([f.condition.need() for f in fields if f.condition is not None])

    def _placed(self, line: list[str]) -> list[tuple[Field, int]] | None:
        """Each pattern field with the index of its line field, or None if the counts fit
        no way."""
        if self.ellipsis is None:
            if len(line) != len(self.head):
                return None
            return [(f, i) for i, f in enumerate(self.head)]
        if len(line) < len(self.head) + len(self.tail):
            return None
        offset = len(line) - len(self.tail)
        return [(f, i) for i, f in enumerate(self.head)] + [
            (f, offset + i) for i, f in enumerate(self.tail)
        ]

    def match(self, message: str) -> Match | None:
        if len(message) > MAX_STRUCTURED_CHARS:
            return None
        line = split_line(message)
        placed = self._placed(line)
        if placed is None:
            return None
        for pattern_field, index in placed:
            condition = pattern_field.condition
            if condition is not None and not condition.holds(line[index]):
                return None
        names = {index: f.name for f, index in placed if f.name}
        extracted = {
            (f"${names[i]}" if i in names else f"${i + 1}"): text for i, text in enumerate(line)
        }
        return DelimitedMatch(extracted_values=extracted, fields=tuple(line))

    def q(self, column: str = "message") -> Q:
        return need_q(self.need, column)

    def can_extract(self, selector: str) -> bool:
        if not selector.startswith("$"):
            return False
        key = selector[1:]
        if key in self.names:
            return True
        if not (key.isascii() and key.isdigit()) or int(key) < 1:
            return False
        return self.ellipsis is not None or int(key) <= len(self.head)


def _split_fields(body: str) -> list[str]:
    """``body`` split at the commas outside quotes and ``%regex%``."""
    parts: list[str] = []
    start = 0
    i, n = 0, len(body)
    while i < n:
        char = body[i]
        if char == '"':
            i += 1
            while i < n and body[i] != '"':
                i += 2 if body[i] == "\\" else 1
        elif char == "%":
            close = body.find("%", i + 1)
            i = close if close >= 0 else n
        elif char == ",":
            parts.append(body[start:i])
            start = i + 1
        i += 1
    parts.append(body[start:])
    return parts


def _field(text: str) -> tuple[Field, int]:
    """A field of the pattern, and how many regexes it uses."""
    text = text.strip()
    if not text:
        return Field(), 0
    if text == "...":
        return ELLIPSIS, 0
    tokens = lex(text)
    regexes = sum(token.kind == "regex" for token in tokens)
    if len(tokens) == 1 and tokens[0].kind == "word":
        bad = invalid_characters(tokens[0].text, name_char)
        if bad:
            raise invalid_term(bad)
        return Field(name=tokens[0].text), 0
    names: set[str] = set()

    def comparison(tokens: list[Token], i: int) -> tuple[Condition[str], int]:
        if len(tokens) < i + 3:
            raise invalid()
        name, operator, operand = tokens[i : i + 3]
        if name.kind != "word" or operator.kind != "op":
            raise invalid()
        bad = invalid_characters(name.text, name_char)
        if bad:
            raise invalid_term(bad)
        names.add(name.text)
        value = value_from(operand)
        check_operator(operator.text, value)
        return FieldCompare(operator.text, value), i + 3

    condition = ConditionParser(tokens, comparison).parse()
    if len(names) != 1:
        # "status_code = 4* && bytes > 1000": one field's conditions name only it.
        raise invalid()
    return Field(name=names.pop(), condition=condition), regexes


def parse_delimited(pattern: str) -> DelimitedPattern:
    """``pattern`` is the whole pattern, from its ``[`` to its ``]``."""
    body = pattern[1:-1]
    if not body.strip():
        raise invalid()
    fields = [_field(part) for part in _split_fields(body)]
    if sum(regexes for _, regexes in fields) > MAX_REGEXES:
        raise invalid()
    return DelimitedPattern(pattern, [f for f, _ in fields])
