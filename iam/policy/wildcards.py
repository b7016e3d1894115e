"""``*`` and ``?`` patterns (Action, Resource, StringLike, ArnLike) matched in linear-ish time.

A pattern is a tuple of *atoms*: literal text, or the ``STAR``/``QMARK`` markers. Literal text
may itself contain ``*`` (from ``${*}`` or a substituted policy variable) and then matches only
that character. Patterns are never turned into one backtracking regular expression: a hostile
``a*a*a*a*…b`` would take exponential time. Instead the text between stars is found leftmost
with one fixed-width search each, which is exact for glob patterns.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final


class _Wild:
    __slots__ = ("char",)

    def __init__(self, char: str) -> None:
        self.char = char

    def __repr__(self) -> str:
        return self.char


STAR: Final = _Wild("*")
QMARK: Final = _Wild("?")
Atom = str | _Wild
Atoms = tuple[Atom, ...]


@lru_cache(maxsize=8192)
def atoms_of(pattern: str) -> Atoms:
    """The atoms of a pattern written in a policy, where ``*`` and ``?`` are wildcards."""
    atoms: list[Atom] = []
    literal: list[str] = []
    for char in pattern:
        if char == "*" or char == "?":
            if literal:
                atoms.append("".join(literal))
                literal = []
            atoms.append(STAR if char == "*" else QMARK)
        else:
            literal.append(char)
    if literal:
        atoms.append("".join(literal))
    return tuple(atoms)


def has_wildcard(atoms: Atoms) -> bool:
    return any(isinstance(atom, _Wild) for atom in atoms)


def text_of(atoms: Atoms) -> str:
    return "".join(atom if isinstance(atom, str) else atom.char for atom in atoms)


def _piece_regex(piece: list[Atom], flags: int) -> re.Pattern[str]:
    return re.compile(
        "".join("." if atom is QMARK else re.escape(str(atom)) for atom in piece), flags
    )


def _piece_width(piece: list[Atom]) -> int:
    return sum(1 if atom is QMARK else len(str(atom)) for atom in piece)


class Glob:
    """One compiled pattern; ``match`` is a full match of the whole text."""

    __slots__ = ("_exact", "_head", "_mids", "_min", "_prefix", "_star_only", "_stars", "_tail")

    def __init__(self, atoms: Atoms, ignore_case: bool = False) -> None:
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        pieces: list[list[Atom]] = [[]]
        for atom in atoms:
            if atom is STAR:
                pieces.append([])
            else:
                pieces[-1].append(atom)
        self._stars = len(pieces) > 1
        self._star_only = self._stars and all(not piece for piece in pieces)
        self._exact: str | None = None
        if not self._stars and not has_wildcard(atoms) and not ignore_case:
            self._exact = text_of(atoms)
        # "lambda:Get*": the commonest pattern, a plain prefix test.
        self._prefix: str | None = None
        if len(pieces) == 2 and not pieces[1] and not ignore_case and not has_wildcard(atoms[:-1]):
            self._prefix = text_of(atoms[:-1])
        self._head = (_piece_regex(pieces[0], flags), _piece_width(pieces[0]))
        self._tail = (_piece_regex(pieces[-1], flags), _piece_width(pieces[-1]))
        self._mids = [
            (_piece_regex(piece, flags), _piece_width(piece)) for piece in pieces[1:-1] if piece
        ]
        self._min = sum(_piece_width(piece) for piece in pieces) if self._stars else 0

    def match(self, text: str) -> bool:
        if self._exact is not None:
            return text == self._exact
        if self._prefix is not None:
            return text.startswith(self._prefix)
        if self._star_only:
            return True
        head, head_width = self._head
        if not self._stars:
            return head.fullmatch(text) is not None
        if len(text) < self._min or head.fullmatch(text, 0, head_width) is None:
            return False
        tail, tail_width = self._tail
        end = len(text) - tail_width
        if tail.fullmatch(text, end) is None:
            return False
        position = head_width
        for regex, _width in self._mids:
            found = regex.search(text, position, end)
            if found is None:
                return False
            position = found.end()
        return position <= end


@lru_cache(maxsize=8192)
def glob(atoms: Atoms, ignore_case: bool = False) -> Glob:
    """A compiled pattern, shared: policies are parsed once, variables resolve to few values."""
    return Glob(atoms, ignore_case)


def _split_segments(atoms: Atoms) -> list[Atoms] | None:
    """The six colon-separated parts of an ARN pattern (the sixth keeps its colons)."""
    segments: list[list[Atom]] = [[]]
    for atom in atoms:
        if isinstance(atom, str) and ":" in atom and len(segments) < 6:
            parts = atom.split(":", 6 - len(segments))
            for index, part in enumerate(parts):
                if index:
                    segments.append([])
                if part:
                    segments[-1].append(part)
        else:
            segments[-1].append(atom)
    if len(segments) != 6:
        return None
    return [tuple(segment) for segment in segments]


class ArnGlob:
    """ARN matching as IAM documents it for Resource and ArnLike: each of the six
    colon-separated parts is matched on its own, case-sensitively, wildcards allowed in each.
    ``*`` alone matches anything, including a request whose resource is ``*``."""

    __slots__ = ("_any", "_segments")

    def __init__(self, atoms: Atoms) -> None:
        self._any = atoms == (STAR,)
        segments = _split_segments(atoms)
        self._segments = None if segments is None else [glob(segment) for segment in segments]

    def match(self, arn: str) -> bool:
        if self._any:
            return True
        if self._segments is None:
            return False
        parts = arn.split(":", 5)
        if len(parts) != 6:
            return False
        return all(segment.match(part) for segment, part in zip(self._segments, parts, strict=True))


@lru_cache(maxsize=8192)
def arn_glob(atoms: Atoms) -> ArnGlob:
    return ArnGlob(atoms)
