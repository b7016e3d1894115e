"""What every kind of filter pattern shares: the interface, a match, errors, SQL pre-filters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from django.db.models import Q, Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan

from monitoring.errors import InvalidParameter

# The filterPattern member of every Logs operation is at most 1,024 characters.
MAX_PATTERN_LENGTH = 1024
# Parentheses nest at most this deep: the parsers recurse once per level.
MAX_NESTING = 64
# JSON and space-delimited patterns parse at most this much of a line (CloudWatch's largest
# event); a longer line cannot match them.
MAX_STRUCTURED_CHARS = 262_144

Kind = Literal["all", "text", "regex", "json", "delimited"]

INVALID_PATTERN = "Invalid filter pattern"


def invalid(message: str = INVALID_PATTERN) -> InvalidParameter:
    return InvalidParameter(message)


def invalid_term(term: str) -> InvalidParameter:
    """CloudWatch's answer to a term with characters it does not accept unquoted: it names
    those characters, each once, in order (``Invalid character(s) in term ':'``)."""
    return InvalidParameter(f"Invalid character(s) in term '{term}'")


def invalid_characters(text: str, allowed: Callable[[str], bool]) -> str:
    """The characters of ``text`` that ``allowed(char)`` refuses, each once, in order."""
    seen: dict[str, None] = {}
    for char in text:
        if not allowed(char):
            seen.setdefault(char)
    return "".join(seen)


# ---- matches --------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """What a matching event offers a metric filter: the values its selectors name.

    ``extracted_values`` is what TestMetricFilter reports (space-delimited patterns only:
    ``$1``, ``$2``, ... for unnamed fields and ``$name`` for named ones).
    """

    extracted_values: Mapping[str, str] = field(default_factory=dict)

    def value(self, selector: str) -> str | None:
        """The text ``selector`` (``$.latency``, ``$size``, ``$3``) names in this event, or
        None when it names nothing there (or names an object, an array or null)."""
        return self.extracted_values.get(selector)


NO_VALUES = Match()


# ---- SQL pre-filters --------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """A condition on the raw text every matching line meets: ``literal`` occurs in it, or
    all (``any_of=False``) or any (``any_of=True``) of ``parts`` hold."""

    literal: str | None = None
    parts: tuple[Need, ...] = ()
    any_of: bool = False


def need_literal(text: str) -> Need | None:
    return Need(literal=text) if text else None


def need_all(parts: list[Need | None]) -> Need | None:
    kept = tuple(part for part in parts if part is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else Need(parts=kept)


def need_any(parts: list[Need | None]) -> Need | None:
    # One alternative with no condition lets any line through: so does the whole.
    if not parts or any(part is None for part in parts):
        return None
    kept = tuple(part for part in parts if part is not None)
    return kept[0] if len(kept) == 1 else Need(parts=kept, any_of=True)


def contains(column: str, text: str) -> Q:
    """``column`` contains ``text``, case-sensitively on SQLite (``instr``) and PostgreSQL
    (``strpos``) alike; ``LIKE`` is neither case-sensitive on SQLite nor free of wildcards."""
    return Q(GreaterThan(StrIndex(column, Value(text)), 0))


def need_q(need: Need | None, column: str) -> Q:
    if need is None:
        return Q()
    if need.literal is not None:
        return contains(column, need.literal)
    condition = Q()
    for part in need.parts:
        if need.any_of:
            condition |= need_q(part, column)
        else:
            condition &= need_q(part, column)
    return condition


# ---- the interface -----------------------------------------------------------------------


class FilterPattern(ABC):
    """A parsed filter pattern, as FilterLogEvents, metric filters and subscription filters
    use it.

    ``matches`` decides; ``match`` also hands back the event's values for a metric filter's
    ``metricValue`` and dimensions; ``q`` is a SQL condition every matching row meets (the
    whole decision when ``exact_in_sql``, otherwise a pre-filter to verify with
    ``matches``).
    """

    kind: Kind
    source: str

    @property
    def matches_all(self) -> bool:
        return False

    @property
    def exact_in_sql(self) -> bool:
        """True when ``q()`` alone decides, so rows need no check in Python."""
        return False

    @abstractmethod
    def match(self, message: str) -> Match | None:
        """None unless ``message`` matches; never raises."""

    def matches(self, message: str) -> bool:
        return self.match(message) is not None

    @abstractmethod
    def q(self, column: str = "message") -> Q:
        """A condition on ``column`` that every matching row meets."""

    def can_extract(self, selector: str) -> bool:
        """Whether matches of this pattern can name ``selector`` (a metric filter's
        ``metricValue`` or dimension): ``$.path`` for JSON patterns, ``$name`` or ``$3``
        for space-delimited ones, nothing for the others."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source!r}>"


class MatchAll(FilterPattern):
    """The empty pattern: every event."""

    kind: Kind = "all"

    def __init__(self, source: str = "") -> None:
        self.source = source

    @property
    def matches_all(self) -> bool:
        return True

    @property
    def exact_in_sql(self) -> bool:
        return True

    def match(self, message: str) -> Match | None:
        return NO_VALUES

    def q(self, column: str = "message") -> Q:
        return Q()
