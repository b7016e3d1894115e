"""What JSON and space-delimited patterns share: their tokens, values, comparisons, and
``&&``/``||``/parentheses over conditions.

A value is a number (``500``, ``-1.5``, ``10e-3``), a string, quoted or not (only letters,
digits and ``_ - . * +`` go unquoted), or a ``%regex%``. A ``*`` at the start or end of a
string is a wildcard (``*Event``, ``Event*``, ``*html*``; ``*`` alone is any value); one
inside it is itself (``Ev*ent``). Numbers compare as numbers (``<``, ``<=``, ``>``, ``>=``,
``=``, ``!=``) with a number in the event or with a string holding a plain decimal number
(``"500"``; not scientific notation); strings and regexes take ``=`` and ``!=``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from monitoring.filter_patterns.base import (
    MAX_NESTING,
    Need,
    invalid,
    invalid_characters,
    invalid_term,
    need_all,
    need_any,
    need_literal,
)
from monitoring.filter_patterns.regex import Regex

# AWS: "a limit of 2 regex for each filter pattern" in JSON and space-delimited patterns.
MAX_REGEXES = 2

PATTERN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# A string in an event is a number only in plain decimal notation.
EVENT_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")

OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
NUMERIC_ONLY = frozenset({"<", "<=", ">", ">="})


def value_char(char: str) -> bool:
    return char.isalnum() or char in "_-.*+"


def name_char(char: str) -> bool:
    return char.isalnum() or char in "_-"


def to_number(text: str, grammar: re.Pattern[str] = EVENT_NUMBER) -> Decimal | None:
    if not grammar.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the grammar only lets numbers through
        return None


# ---- tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "&&", "||", "op", "string", "regex", "word"
    text: str


def lex(text: str, *, selectors: bool = False) -> list[Token]:
    """The tokens of a JSON (``selectors=True``: ``$.a[0].b`` is one word) or space-delimited
    condition; characters that fit nowhere are refused as CloudWatch refuses them."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(Token(char, char))
            i += 1
        elif text.startswith("&&", i) or text.startswith("||", i):
            tokens.append(Token(text[i : i + 2], text[i : i + 2]))
            i += 2
        elif char in "=!<>":
            operator = next((op for op in OPERATORS if text.startswith(op, i)), None)
            if operator is None:
                raise invalid_term(char)
            tokens.append(Token("op", operator))
            i += len(operator)
        elif char == '"':
            string, i = _quoted(text, i)
            tokens.append(Token("string", string))
        elif char == "%":
            close = text.find("%", i + 1)
            if close < 0:
                raise invalid_term("%")
            tokens.append(Token("regex", text[i + 1 : close]))
            i = close + 1
        elif selectors and char == "$":
            # To the next operator or space: a selector that is not one is refused whole
            # (``$."sc-status"``: Invalid character(s) in term '$."').
            start = i
            while i < n and not text[i].isspace() and text[i] not in "=!<>()&|,%":
                i += 1
            tokens.append(Token("word", text[start:i]))
        elif value_char(char):
            start = i
            while i < n and value_char(text[i]):
                i += 1
            tokens.append(Token("word", text[start:i]))
        else:
            end = i
            while end < n and not text[end].isspace():
                end += 1
            raise invalid_term(invalid_characters(text[i:end], value_char) or char)
    if sum(token.kind == "regex" for token in tokens) > MAX_REGEXES:
        raise invalid()
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise invalid_term('"')


# ---- values and comparisons ----------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """The right-hand side of a comparison."""

    text: str = ""  # a string without its wildcards, or the number as written
    number: Decimal | None = None
    regex: Regex | None = None
    leading_wildcard: bool = False
    trailing_wildcard: bool = False

    @property
    def matches_any(self) -> bool:
        return self.leading_wildcard and self.trailing_wildcard and not self.text

    def literal(self) -> str | None:
        """Text every event value this equals contains, if any."""
        if self.regex is not None or self.number is not None:
            return None
        return self.text or None

    def need(self) -> Need | None:
        if self.regex is not None:
            return self.regex.need
        return need_literal(self.literal() or "")


def value_from(token: Token) -> Value:
    if token.kind == "regex":
        return Value(text=token.text, regex=Regex(token.text))
    if token.kind == "word":
        number = to_number(token.text, PATTERN_NUMBER)
        if number is not None:
            return Value(text=token.text, number=number)
    elif token.kind != "string":
        raise invalid()
    text = token.text
    if text and not text.strip("*"):
        return Value(leading_wildcard=True, trailing_wildcard=True)
    leading = text.startswith("*")
    trailing = text.endswith("*")
    return Value(
        text=text[1 if leading else 0 : len(text) - 1 if trailing else len(text)],
        leading_wildcard=leading,
        trailing_wildcard=trailing,
    )


def compare(operator: str, value: Value, text: str, number: Decimal | None) -> bool:
    """Whether an event's value (``text``, and ``number`` when it is one) satisfies
    ``operator value``."""
    if value.number is not None:
        if operator == "!=":
            return number is None or number != value.number
        if number is None:
            return False
        if operator == "=":
            return number == value.number
        if operator == "<":
            return number < value.number
        if operator == "<=":
            return number <= value.number
        if operator == ">":
            return number > value.number
        return number >= value.number
    if value.regex is not None:
        found = value.regex.search(text)
    elif value.leading_wildcard and value.trailing_wildcard:
        found = value.text in text
    elif value.leading_wildcard:
        found = text.endswith(value.text)
    elif value.trailing_wildcard:
        found = text.startswith(value.text)
    else:
        found = text == value.text
    return found if operator == "=" else not found


def check_operator(operator: str, value: Value) -> None:
    if operator in NUMERIC_ONLY and value.number is None:
        raise invalid()


# ---- conditions ----------------------------------------------------------------------------

S = TypeVar("S")


class Condition(ABC, Generic[S]):
    """A condition on a subject: a JSON document, or one field of a space-delimited line."""

    @abstractmethod
    def holds(self, subject: S) -> bool: ...

    @abstractmethod
    def need(self) -> Need | None:
        """What the raw line of any subject this holds for contains."""


@dataclass(frozen=True)
class AllOf(Condition[S]):
    parts: tuple[Condition[S], ...]

    def holds(self, subject: S) -> bool:
        return all(part.holds(subject) for part in self.parts)

    def need(self) -> Need | None:
        return need_all([part.need() for part in self.parts])


@dataclass(frozen=True)
class AnyOf(Condition[S]):
    parts: tuple[Condition[S], ...]

    def holds(self, subject: S) -> bool:
        return any(part.holds(subject) for part in self.parts)

    def need(self) -> Need | None:
        return need_any([part.need() for part in self.parts])


class ConditionParser(Generic[S]):
    """``a || b && (c || d)``: ``&&`` binds tighter than ``||``, parentheses tightest.

    ``comparison`` reads one comparison at the parser's position (``self.tokens[self.i:]``)
    and returns it with the position after it.
    """

    def __init__(
        self,
        tokens: list[Token],
        comparison: Callable[[list[Token], int], tuple[Condition[S], int]],
    ) -> None:
        self.tokens = tokens
        self.comparison = comparison
        self.i = 0

    def parse(self) -> Condition[S]:
        condition = self._or(0)
        if self.i != len(self.tokens):
            raise invalid()
        return condition

    def _peek(self) -> str | None:
        return self.tokens[self.i].kind if self.i < len(self.tokens) else None

    def _or(self, depth: int) -> Condition[S]:
        parts = [self._and(depth)]
        while self._peek() == "||":
            self.i += 1
            parts.append(self._and(depth))
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def _and(self, depth: int) -> Condition[S]:
        parts = [self._unit(depth)]
        while self._peek() == "&&":
            self.i += 1
            parts.append(self._unit(depth))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _unit(self, depth: int) -> Condition[S]:
        if self._peek() == "(":
            if depth >= MAX_NESTING:
                raise invalid()
            self.i += 1
            inner = self._or(depth + 1)
            if self._peek() != ")":
                raise invalid()
            self.i += 1
            return inner
        if self._peek() is None:
            raise invalid()
        condition, self.i = self.comparison(self.tokens, self.i)
        return condition
