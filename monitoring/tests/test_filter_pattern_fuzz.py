"""Filter patterns fuzzed in process: whatever the pattern, parsing answers a pattern or
InvalidParameter, and whatever the line, matching answers without raising.

The regex engine is also checked against Python's ``re`` (on short lines, where ``re``'s
backtracking costs nothing): the same lines match.
"""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import filter_patterns
from monitoring.errors import InvalidParameter
from monitoring.filter_patterns.regex import Regex

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

# Pieces that make up real patterns, so that random ones get past the first character.
PIECES = [
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "$.",
    "$.a",
    "$.a[0]",
    "$.b.c",
    "$",
    "a",
    "b",
    "ERROR",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "&",
    "|",
    ",",
    "...",
    " ",
    " ",
    "*",
    '"',
    '"x y"',
    "%",
    "%a.c%",
    "%^\\d+$%",
    "IS",
    "NULL",
    "TRUE",
    "NOT",
    "EXISTS",
    "1",
    "-2.5",
    "1e3",
    "?",
    "-",
    "\\",
    "\\x28",
    "é",
    "\n",
    "\t",
    "[0]",
    "{2,3}",
    "+",
]
patterns = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=12).map(lambda p: "{ " + " ".join(p) + " }"),
    st.lists(st.sampled_from(PIECES), max_size=12).map(lambda p: "[" + " ".join(p) + "]"),
    st.lists(st.sampled_from(PIECES), max_size=8).map(lambda p: "%" + "".join(p) + "%"),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "level"]), children, max_size=4)
    ),
    max_leaves=12,
)
lines = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), json_values, max_size=4).map(json.dumps),
    st.lists(st.sampled_from(['"x y"', "[a b]", "1", "-", "ERROR", "a.c", " "]), max_size=10).map(
        " ".join
    ),
)
KNOWN = [
    '{ $.a = 1 || ($.b.c != "x*" && $.a[0] IS NULL) }',
    "{ $.a NOT EXISTS && $.b = %^\\d+$% }",
    "[a, ..., b = 1* || b > 2, c != %x%]",
    "[...]",
    "%a.c|^b+$%",
    'ERROR ?"x y" -b',
    "",
]


def _parsed(pattern: str) -> filter_patterns.FilterPattern | None:
    try:
        return filter_patterns.parse(pattern)
    except InvalidParameter as error:
        assert error.code == "InvalidParameterException"
        return None


@FUZZ
@given(patterns)
def test_any_pattern_parses_or_is_an_invalid_parameter(pattern):
    _parsed(pattern)


@FUZZ
@given(st.one_of(patterns, st.sampled_from(KNOWN)), lines)
def test_matching_never_raises(pattern, line):
    parsed = _parsed(pattern)
    if parsed is None:
        return
    found = parsed.match(line)
    assert parsed.matches(line) is (found is not None)
    if found is not None:
        for selector in ("$.a", "$.b.c", "$.a[0]", "$a", "$1", "$9", "x"):
            value = found.value(selector)
            assert value is None or isinstance(value, str)
    parsed.q()


@FUZZ
@given(st.integers(min_value=1, max_value=2000), st.sampled_from(["(", "((", "( "]))
def test_deep_nesting_is_refused_not_recursed_into(depth, opener):
    for pattern in (
        "{ " + opener * depth + "$.a = 1" + ")" * (depth * len(opener.strip())) + " }",
        "[a, " + opener * depth + "b = 1" + ")" * (depth * len(opener.strip())) + "]",
    ):
        _parsed(pattern[:2000])


def test_hostile_lines_do_not_match_or_raise():
    hostile = [
        "[" * 200_000,
        "{" * 200_000,
        '{"a": ' * 100_000,
        '{"a": 1' + " " * 300_000 + "}",
        "[" + "a " * 100_000,
        '"' + "a " * 100_000,
        "a" * 262_000,
    ]
    for pattern in (*KNOWN, "{ $.a NOT EXISTS }", "[a, ...]"):
        parsed = filter_patterns.parse(pattern)
        for line in hostile:
            parsed.match(line)


# ---- the regex engine against Python's re -------------------------------------------------

ATOMS = [
    "a",
    "b",
    "c",
    ".",
    "\\d",
    "\\w",
    "\\s",
    "\\D",
    "\\W",
    "\\S",
    "[ab]",
    "[^a]",
    "[a-c]",
    "\\.",
    "-",
    "_",
    "\\x61",
    "[\\d_]",
    "[-a]",
    "\\t",
]
QUANTIFIERS = ["", "", "", "?", "*", "+", "{2}", "{0,2}", "{1,}", "*?", "+?", "??"]
items = st.one_of(
    st.tuples(st.sampled_from(ATOMS), st.sampled_from(QUANTIFIERS)).map("".join),
    st.sampled_from(["^", "$"]),
)
regexes = (
    st.lists(st.lists(items, max_size=6).map("".join), min_size=1, max_size=3)
    .map("|".join)
    .filter(bool)
)


def _as_python(body: str) -> str:
    # "." stops at "\r" as well as "\n" here (as in Java); the rest means the same to re.
    return re.sub(r"(?<!\\)\.", r"[^\\n\\r]", body)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(regexes, st.text(alphabet="abc1 _.-\n\r\té", max_size=12))
def test_regexes_find_what_python_re_finds(body, text):
    expected = re.search(_as_python(body), text, re.ASCII) is not None
    assert Regex(body).search(text) is expected
