"""CloudWatch Logs filter patterns, for FilterLogEvents, metric filters and subscription
filters alike.

    pattern = parse('{ $.level = "ERROR" && $.latency > 500 }')   # InvalidParameter if not
    pattern.matches(message)                  # bool
    found = pattern.match(message)            # Match or None
    found.value("$.latency")                  # "812": a metricValue or dimension selector
    pattern.q("message")                      # SQL: every matching row meets it
    pattern.exact_in_sql                      # ...and it alone decides (text patterns)

Five kinds, told apart by how the pattern opens (after surrounding whitespace):

- empty: every event;
- ``{ ... }``: JSON (:mod:`.json_pattern`);
- ``[ ... ]``: space-delimited fields (:mod:`.delimited`);
- ``%...%``: a regular expression anywhere in the line (:mod:`.regex`);
- anything else: terms, "quoted phrases", ?alternatives and -exclusions (:mod:`.text`).

Errors are CloudWatch's: ``InvalidParameterException`` with ``Invalid character(s) in term
'...'`` naming the characters a term may not hold, ``If a filter pattern starts with '{' it
must end with '}'``, or ``Invalid filter pattern``.
"""

from __future__ import annotations

from monitoring.errors import InvalidParameter
from monitoring.filter_patterns.base import (
    MAX_PATTERN_LENGTH,
    FilterPattern,
    Match,
    MatchAll,
    invalid,
)
from monitoring.filter_patterns.delimited import DelimitedPattern, parse_delimited
from monitoring.filter_patterns.json_pattern import JsonPattern, parse_json
from monitoring.filter_patterns.regex import Regex, RegexPattern
from monitoring.filter_patterns.text import TextPattern, parse_text

__all__ = [
    "MAX_PATTERN_LENGTH",
    "DelimitedPattern",
    "FilterPattern",
    "JsonPattern",
    "Match",
    "MatchAll",
    "RegexPattern",
    "TextPattern",
    "parse",
]


def parse(pattern: str | None) -> FilterPattern:
    """The pattern ``pattern`` spells; :class:`InvalidParameter` if it spells none."""
    text = pattern or ""
    if len(text) > MAX_PATTERN_LENGTH:
        raise invalid()
    stripped = text.strip()
    if not stripped:
        return MatchAll(text)
    for opener, closer in (("{", "}"), ("[", "]")):
        if stripped.startswith(opener) and not stripped.endswith(closer):
            raise InvalidParameter(
                f"If a filter pattern starts with '{opener}' it must end with '{closer}'"
            )
    if stripped.startswith("{"):
        return parse_json(stripped)
    if stripped.startswith("["):
        return parse_delimited(stripped)
    if len(stripped) > 1 and stripped.startswith("%") and stripped.endswith("%"):
        return RegexPattern(stripped, Regex(stripped[1:-1]))
    return parse_text(stripped)
