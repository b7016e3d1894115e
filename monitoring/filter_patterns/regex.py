"""CloudWatch's regular expressions (``%...%``): the documented subset, searched in linear time.

AWS accepts letters and digits, the symbols ``_ # = @ / ; , - :`` and the operators
``^ $ ? [ ] { } | \\ * + .``; no parentheses (so no groups: ``|`` separates whole
alternatives), no multi-byte characters. Anything else is refused with the characters named
(``Invalid character(s) in term '('``); a parenthesis can still be matched as ``\\x28``.

Python's ``re`` backtracks: ``a*b`` over a 20,000-character line takes a tenth of a second
and ``a*a*a*b`` minutes, and lines here reach 256 KB. Without groups an alternative is a
sequence of (set of characters, min, max) items, so it is matched here by a lazily built
DFA over the positions of those items: one dictionary step per character of the line,
whatever the pattern. A pattern whose automaton still grows past its budget on some line
(there is one for every line) gives up on that line: it does not match.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from monitoring.filter_patterns.base import (
    NO_VALUES,
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

SYMBOLS = frozenset("_#=@/;,-:")
OPERATORS = frozenset("^$?[]{}|\\*+.")
# Bounded repetitions and the automaton's size: a pattern is at most 1,024 characters, so
# these only stop {1000}{1000}-style blow-ups.
MAX_REPEAT = 1000
MAX_POSITIONS = 4000
# DFA states kept per pattern (and NFA positions in them all: a pattern may live long in a
# metric filter, so its cache stays a few MB), and the work (NFA positions visited while
# building new states) allowed per line once that cache is full.
MAX_STATES = 4096
MAX_CACHED_POSITIONS = 250_000
WORK_BUDGET = 2_000_000

ALL_CODES = frozenset(range(256))
DIGITS = frozenset(range(ord("0"), ord("9") + 1))
WORD = DIGITS | frozenset(ord(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
SPACE = frozenset({32, 9, 10, 11, 12, 13})
SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}

ATOM, START, END, ACCEPT = 0, 1, 2, 3


def regex_char(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or char in SYMBOLS or char in OPERATORS


@dataclass(frozen=True)
class CharSet:
    """Characters as code points 0-255 (all a pattern can name) plus ``other``: whether
    every character above 255 belongs."""

    codes: frozenset[int]
    other: bool = False

    def complement(self) -> CharSet:
        return CharSet(ALL_CODES - self.codes, not self.other)

    def __contains__(self, char: str) -> bool:
        code = ord(char)
        return code in self.codes if code < 256 else self.other


def _single(char: str) -> CharSet:
    return CharSet(frozenset({ord(char)}))


ANY = CharSet(ALL_CODES - {10, 13}, True)  # "." stops at line ends, as in Java and Python
CLASS_ESCAPES = {
    "d": CharSet(DIGITS),
    "w": CharSet(WORD),
    "s": CharSet(SPACE),
}


@dataclass(frozen=True)
class Position:
    kind: int
    chars: CharSet | None = None
    optional: bool = False
    repeat: bool = False


class _OverBudget(Exception):
    pass


def _escape(body: str, i: int) -> tuple[str | CharSet, int]:
    """The escape at ``body[i]`` (a backslash): a character or a class, and where it ends."""
    if i + 1 >= len(body):
        raise invalid()
    char = body[i + 1]
    if char.lower() in CLASS_ESCAPES:
        chars = CLASS_ESCAPES[char.lower()]
        return (chars if char.islower() else chars.complement()), i + 2
    if char in SIMPLE_ESCAPES:
        return SIMPLE_ESCAPES[char], i + 2
    if char == "x":
        digits = body[i + 2 : i + 4]
        if len(digits) != 2 or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise invalid()
        return chr(int(digits, 16)), i + 4
    if char.isalnum():
        # \b, \A, \Q, \p{..}, back-references...: not in AWS's list, so not guessed at.
        raise invalid()
    return char, i + 2


def _class(body: str, i: int) -> tuple[CharSet, int]:
    """The bracketed class opening at ``body[i]`` and where it ends."""
    n = len(body)
    i += 1
    negate = i < n and body[i] == "^"
    if negate:
        i += 1
    codes: set[int] = set()
    other = False
    first = True
    while True:
        if i >= n or body[i] == "[":
            raise invalid()  # unterminated, or a nested class (Java's union syntax)
        char = body[i]
        if char == "]":
            if first:
                raise invalid()  # an empty class
            i += 1
            break
        first = False
        element: str | CharSet
        if char == "\\":
            element, i = _escape(body, i)
        else:
            element, i = char, i + 1
        if isinstance(element, CharSet):
            codes |= element.codes
            other = other or element.other
            continue
        if i + 1 < n and body[i] == "-" and body[i + 1] != "]":
            high: str | CharSet
            if body[i + 1] == "\\":
                high, i = _escape(body, i + 1)
            elif body[i + 1] == "[":
                raise invalid()
            else:
                high, i = body[i + 1], i + 2
            if isinstance(high, CharSet) or ord(high) < ord(element):
                raise invalid()
            codes |= set(range(ord(element), ord(high) + 1))
        else:
            codes.add(ord(element))
    chars = CharSet(frozenset(codes), other)
    return (chars.complement() if negate else chars), i


def _quantifier(body: str, i: int) -> tuple[int, int | None, int]:
    """(min, max or None for unbounded, end) of the quantifier at ``body[i]``, if any."""
    n = len(body)
    if i >= n or body[i] not in "?*+{":
        return 1, 1, i
    char = body[i]
    low: int
    high: int | None
    if char == "?":
        low, high, i = 0, 1, i + 1
    elif char == "*":
        low, high, i = 0, None, i + 1
    elif char == "+":
        low, high, i = 1, None, i + 1
    else:
        close = body.find("}", i)
        if close < 0:
            raise invalid()
        low_text, comma, high_text = body[i + 1 : close].partition(",")
        if not low_text.isdigit() or (high_text and not high_text.isdigit()):
            raise invalid()
        low = int(low_text)
        high = (int(high_text) if high_text else None) if comma else low
        if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
            raise invalid()
        i = close + 1
    if i < n and body[i] == "?":
        i += 1  # reluctant: the same lines match
    if i < n and body[i] in "*+{":
        raise invalid()  # possessive or doubled quantifiers
    return low, high, i


def _alternatives(body: str) -> list[list[Position]]:
    alternatives: list[list[Position]] = [[]]
    i, n = 0, len(body)
    size = 0
    while i < n:
        char = body[i]
        positions = alternatives[-1]
        if char == "|":
            alternatives.append([])
            i += 1
            continue
        if char in "^$":
            positions.append(Position(START if char == "^" else END))
            i += 1
            continue
        if char in "?*+{":
            raise invalid()  # a quantifier with nothing to repeat
        chars: CharSet
        if char == ".":
            chars, i = ANY, i + 1
        elif char == "[":
            chars, i = _class(body, i)
        elif char == "\\":
            element, i = _escape(body, i)
            chars = element if isinstance(element, CharSet) else _single(element)
        else:
            chars, i = _single(char), i + 1
        low, high, i = _quantifier(body, i)
        positions.extend(Position(ATOM, chars) for _ in range(low))
        if high is None:
            positions.append(Position(ATOM, chars, optional=True, repeat=True))
        else:
            positions.extend(Position(ATOM, chars, optional=True) for _ in range(high - low))
        size += len(positions)
        if size > MAX_POSITIONS:
            raise invalid()
    return alternatives


class Regex:
    """A compiled ``%...%`` pattern; ``search`` finds it anywhere in a text."""

    def __init__(self, body: str) -> None:
        if not body:
            raise invalid()
        bad = invalid_characters(body, regex_char)
        if bad:
            raise invalid_term(bad)
        self.body = body
        alternatives = _alternatives(body)
        self.literal = self._plain_literal(alternatives)
        # Literals every match contains: a line without one of them is rejected by a scan
        # in C before the DFA walks it.
        self._must = tuple(self._runs(alternatives[0])) if len(alternatives) == 1 else ()
        self.need = need_any([self._alternative_need(a) for a in alternatives])

        positions: list[Position] = []
        starts: list[int] = []
        for alternative in alternatives:
            starts.append(len(positions))
            positions.extend(alternative)
            positions.append(Position(ACCEPT))
        self._kind = [p.kind for p in positions]
        self._optional = [p.optional for p in positions]
        self._repeat = [p.repeat for p in positions]
        # Characters fall into classes that no set of the pattern tells apart: the DFA
        # steps on class numbers, so a line's many distinct characters cost nothing more.
        sets = sorted({p.chars for p in positions if p.chars is not None}, key=repr)
        keys: dict[tuple[bool, ...], int] = {}
        self._code_class = [
            keys.setdefault(tuple(code in s.codes for s in sets), len(keys)) for code in range(256)
        ]
        self._other_class = keys.setdefault(tuple(s.other for s in sets), len(keys))
        members = {
            s: frozenset(
                [c for code, c in enumerate(self._code_class) if code in s.codes]
                + ([self._other_class] if s.other else [])
            )
            for s in sets
        }
        self._accepts: list[frozenset[int] | None] = [
            members[p.chars] if p.chars is not None else None for p in positions
        ]
        self._starts = tuple(starts)
        self._restart = self._closure(starts, at_start=False, at_end=False)
        # state -> ({class: next state}, accepting, waits on "$")
        self._dfa: dict[frozenset[int], tuple[dict[int, frozenset[int]], bool, bool]] = {}
        self._cached_positions = 0

    # ---- what the pattern requires of a line ----

    @staticmethod
    def _runs(alternative: list[Position]) -> list[str]:
        """The literal strings every match of ``alternative`` contains."""
        runs: list[str] = []
        current: list[str] = []
        for position in [*alternative, Position(START)]:
            chars = position.chars
            single = (
                position.kind == ATOM
                and chars is not None
                and not position.optional
                and not chars.other
                and len(chars.codes) == 1
            )
            if single and chars is not None:
                current.append(chr(next(iter(chars.codes))))
            elif current:
                runs.append("".join(current))
                current = []
        return runs

    @classmethod
    def _alternative_need(cls, alternative: list[Position]) -> Need | None:
        # The three longest literals are plenty for an index scan to skip most rows.
        runs = sorted(cls._runs(alternative), key=len, reverse=True)[:3]
        return need_all([need_literal(run) for run in runs])

    @classmethod
    def _plain_literal(cls, alternatives: list[list[Position]]) -> str | None:
        if len(alternatives) != 1:
            return None
        (alternative,) = alternatives
        runs = cls._runs(alternative)
        if len(runs) == 1 and len(runs[0]) == len(alternative):
            return runs[0]
        return None

    # ---- matching ----

    def _closure(self, ready: list[int], *, at_start: bool, at_end: bool) -> frozenset[int]:
        kind, optional = self._kind, self._optional
        seen: set[int] = set()
        stack = list(ready)
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            k = kind[p]
            if k == ATOM:
                if optional[p]:
                    stack.append(p + 1)
            elif (k == START and at_start) or (k == END and at_end):
                stack.append(p + 1)
        # A "^" not passed now never will be; a "$" may be at the line's end.
        return frozenset(p for p in seen if kind[p] != START)

    def _entry(
        self, state: frozenset[int], budget: list[int]
    ) -> tuple[dict[int, frozenset[int]], bool, bool]:
        entry = self._dfa.get(state)
        if entry is None:
            kind = self._kind
            entry = (
                {},
                any(kind[p] == ACCEPT for p in state),
                any(kind[p] == END for p in state),
            )
            if self._caching():
                self._dfa[state] = entry
                self._cached_positions += len(state)
            else:
                self._spend(budget, len(state))
        return entry

    def _caching(self) -> bool:
        return len(self._dfa) < MAX_STATES and self._cached_positions < MAX_CACHED_POSITIONS

    def _spend(self, budget: list[int], amount: int) -> None:
        budget[0] -= amount
        if budget[0] < 0:
            raise _OverBudget

    def _step(
        self,
        state: frozenset[int],
        transitions: dict[int, frozenset[int]],
        cls: int,
        budget: list[int],
    ) -> frozenset[int]:
        accepts, repeat = self._accepts, self._repeat
        ready: list[int] = list(self._restart)
        for p in state:
            chars = accepts[p]
            if chars is not None and cls in chars:
                ready.append(p + 1)
                if repeat[p]:
                    ready.append(p)
        following = self._closure(ready, at_start=False, at_end=False)
        if self._caching():
            transitions[cls] = following
        else:
            self._spend(budget, len(ready))
        return following

    def search(self, text: str) -> bool:
        if self.literal is not None:
            return self.literal in text
        if any(literal not in text for literal in self._must):
            return False
        try:
            return self._search(text)
        except _OverBudget:
            return False

    def _search(self, text: str) -> bool:
        n = len(text)
        # "$" holds at the end and, as in Python and Java, before a final newline.
        ends = {n, n - 1} if text.endswith("\n") else {n}
        budget = [WORK_BUDGET]
        code_class, other = self._code_class, self._other_class
        state = self._closure(list(self._starts), at_start=True, at_end=0 in ends)
        for i, char in enumerate(text, 1):
            transitions, accepting, _ = self._entry(state, budget)
            if accepting:
                return True
            code = ord(char)
            cls = code_class[code] if code < 256 else other
            following = transitions.get(cls)
            state = (
                following if following is not None else self._step(state, transitions, cls, budget)
            )
            if i in ends and self._entry(state, budget)[2]:
                state = self._closure(list(state), at_start=False, at_end=True)
        return self._entry(state, budget)[1]


class RegexPattern(FilterPattern):
    """A whole pattern that is one regex: ``%ERROR|WARN%`` matches lines containing it."""

    kind: Kind = "regex"

    def __init__(self, source: str, regex: Regex) -> None:
        self.source = source
        self.regex = regex

    def matches(self, message: str) -> bool:
        return self.regex.search(message)

    def match(self, message: str) -> Match | None:
        return NO_VALUES if self.regex.search(message) else None

    def q(self, column: str = "message") -> Q:
        return need_q(self.regex.need, column)
