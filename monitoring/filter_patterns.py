"""CloudWatch Logs' text filter patterns: terms, "quoted phrases", ?alternatives, -exclusions.

``ERROR Exception`` matches events containing both terms; ``"Out of memory"`` the exact
phrase; ``?ERROR ?WARN`` events containing either; ``ERROR -Retrying`` events containing
ERROR but not Retrying. Matching is case-sensitive substring matching, as in CloudWatch.
Patterns are turned into SQL (``instr`` on SQLite, ``strpos`` on PostgreSQL, both
case-sensitive, unlike SQLite's ``LIKE``) so the database does the matching.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan

from monitoring.errors import InvalidParameter


@dataclass(frozen=True)
class FilterPattern:
    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def matches_all(self) -> bool:
        return not (self.required or self.any_of or self.excluded)

    def matches(self, message: str) -> bool:
        return (
            all(term in message for term in self.required)
            and (not self.any_of or any(term in message for term in self.any_of))
            and not any(term in message for term in self.excluded)
        )

    def q(self, column: str = "message") -> Q:
        """The pattern as a SQL condition on ``column``."""

        def has(term: str) -> Q:
            return Q(GreaterThan(StrIndex(column, Value(term)), 0))

        condition = Q()
        for term in self.required:
            condition &= has(term)
        if self.any_of:
            alternatives = Q()
            for term in self.any_of:
                alternatives |= has(term)
            condition &= alternatives
        for term in self.excluded:
            condition &= ~has(term)
        return condition


def _tokens(pattern: str) -> list[tuple[str, str]]:
    """(prefix, text) for each whitespace-separated token; quotes group and may escape."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i].isspace():
            i += 1
            continue
        prefix = ""
        if pattern[i] in "?-" and i + 1 < n and not pattern[i + 1].isspace():
            prefix = pattern[i]
            i += 1
        if pattern[i] == '"':
            i += 1
            text: list[str] = []
            while True:
                if i >= n:
                    raise InvalidParameter(
                        f"Invalid filter pattern: unterminated quote in {pattern}"
                    )
                char = pattern[i]
                if char == "\\" and i + 1 < n and pattern[i + 1] in '"\\':
                    text.append(pattern[i + 1])
                    i += 2
                    continue
                i += 1
                if char == '"':
                    break
                text.append(char)
            tokens.append((prefix, "".join(text)))
        else:
            start = i
            while i < n and not pattern[i].isspace():
                i += 1
            tokens.append((prefix, pattern[start:i]))
    return tokens


def parse(pattern: str | None) -> FilterPattern:
    """Parse a text filter pattern; JSON (``{ $.x = 1 }``) and space-delimited (``[a, b]``)
    patterns are not supported and are rejected rather than silently matching nothing."""
    text = (pattern or "").strip()
    if text[:1] in ("{", "[") or (text.startswith("%") and text.endswith("%") and len(text) > 1):
        raise InvalidParameter(
            "Invalid filter pattern: only text patterns (terms, quoted phrases, ?terms, "
            "-terms) are supported"
        )
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for prefix, term in _tokens(text):
        if not term:
            continue  # "" matches every event
        {"": required, "?": any_of, "-": excluded}[prefix].append(term)
    return FilterPattern(tuple(required), tuple(any_of), tuple(excluded))
