"""Patterns for unstructured lines: terms, "quoted phrases", ?alternatives, -exclusions.

``ERROR Exception`` matches events containing both terms; ``"Out of memory"`` the exact
phrase; ``?ERROR ?WARN`` events containing either; ``ERROR -Retrying`` events containing
ERROR but not Retrying. Matching is case-sensitive substring matching, as in CloudWatch.

As in CloudWatch, an unquoted term is letters, digits and underscores: anything else has to
be quoted (``"user@example.com"``, ``"[ERROR]"``, ``"Status:"``), and ``Status:`` is refused
with ``Invalid character(s) in term ':'``. A ``-`` or ``?`` inside an unquoted term starts a
new term, so ``request-id`` means ``request -id``: quote such terms.

The whole pattern is one SQL condition (``instr`` on SQLite, ``strpos`` on PostgreSQL, both
case-sensitive, unlike SQLite's ``LIKE``) so the database does all the matching.
"""

from __future__ import annotations

from django.db.models import Q

from monitoring.filter_patterns.base import (
    NO_VALUES,
    FilterPattern,
    Kind,
    Match,
    contains,
    invalid,
    invalid_characters,
    invalid_term,
)


def term_char(char: str) -> bool:
    return char.isalnum() or char == "_"


class TextPattern(FilterPattern):
    kind: Kind = "text"

    def __init__(
        self,
        source: str,
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        excluded: tuple[str, ...] = (),
    ) -> None:
        self.source = source
        self.required = required
        self.any_of = any_of
        self.excluded = excluded

    @property
    def matches_all(self) -> bool:
        return not (self.required or self.any_of or self.excluded)

    @property
    def exact_in_sql(self) -> bool:
        return True

    def matches(self, message: str) -> bool:
        return (
            all(term in message for term in self.required)
            and (not self.any_of or any(term in message for term in self.any_of))
            and not any(term in message for term in self.excluded)
        )

    def match(self, message: str) -> Match | None:
        return NO_VALUES if self.matches(message) else None

    def q(self, column: str = "message") -> Q:
        condition = Q()
        for term in self.required:
            condition &= contains(column, term)
        if self.any_of:
            alternatives = Q()
            for term in self.any_of:
                alternatives |= contains(column, term)
            condition &= alternatives
        for term in self.excluded:
            condition &= ~contains(column, term)
        return condition


def _quoted(pattern: str, start: int) -> tuple[str, int]:
    """The phrase quoted at ``pattern[start]`` (``\\"`` and ``\\\\`` escape) and the index
    after its closing quote."""
    text: list[str] = []
    i, n = start + 1, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n and pattern[i + 1] in '"\\':
            text.append(pattern[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(text), i + 1
        text.append(char)
        i += 1
    raise invalid_term('"')


def parse_text(pattern: str) -> TextPattern:
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    lists = {"": required, "?": any_of, "-": excluded}
    i, n = 0, len(pattern)
    prefix = ""
    while i < n:
        char = pattern[i]
        if char.isspace():
            i += 1
            continue
        if char in "?-":
            # A lone operator ("ERROR - Exiting", as AWS's own example writes it) applies to
            # the next term; two in a row are not a pattern.
            if prefix:
                raise invalid()
            prefix = char
            i += 1
            continue
        if char == '"':
            term, i = _quoted(pattern, i)
            if not term:
                # CloudWatch refuses an empty phrase rather than matching everything.
                raise invalid_term('""')
        else:
            start = i
            while i < n and not pattern[i].isspace() and pattern[i] not in '?-"':
                i += 1
            term = pattern[start:i]
            bad = invalid_characters(term, term_char)
            if bad:
                raise invalid_term(bad)
        lists[prefix].append(term)
        prefix = ""
    if prefix:
        raise invalid()
    return TextPattern(pattern, tuple(required), tuple(any_of), tuple(excluded))
