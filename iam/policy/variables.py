"""Policy variables: ``${aws:username}`` in Resource and Condition values.

Only documents of Version 2012-10-17 substitute them (older ones keep the text literally, as
IAM does). ``${*}``, ``${?}`` and ``${$}`` stand for the characters themselves, never wildcards;
``${aws:x, 'fallback'}`` gives a default when the key is absent. A variable whose key is absent
(and has no default), or names a multi-valued key, leaves the value unresolved: a Resource entry
then matches nothing, and a condition value is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from iam.policy.wildcards import Atom, Atoms, atoms_of

_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_WITH_DEFAULT = re.compile(r"\s*([^,\s]+)\s*,\s*'([^']*)'\s*")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

# A key's values in a request context: absent keys are missing from the mapping.
Lookup = Callable[[str], tuple[str, ...] | None]


class Var(NamedTuple):
    key: str  # lower case: condition keys are case-insensitive
    default: str | None


class Literal(NamedTuple):
    text: str  # matched as is, even '*' and '?'


Part = str | Var | Literal  # a plain str is pattern text: its '*' and '?' are wildcards


class Template:
    """A Resource or Condition value, parsed once; resolved against each request."""

    __slots__ = ("_parts", "raw", "static_atoms", "static_text")

    def __init__(self, raw: str, substitute: bool) -> None:
        self.raw = raw
        self._parts = _parse(raw) if substitute and "${" in raw else (raw,)
        self.static_atoms: Atoms | None = None
        self.static_text: str | None = None
        if all(isinstance(part, str | Literal) for part in self._parts):
            self.static_atoms = _atoms(self._parts, _no_lookup)
            self.static_text = _text(self._parts, _no_lookup)

    @property
    def is_static(self) -> bool:
        return self.static_atoms is not None

    def atoms(self, lookup: Lookup) -> Atoms | None:
        if self.static_atoms is not None:
            return self.static_atoms
        return _atoms(self._parts, lookup)

    def text(self, lookup: Lookup) -> str | None:
        if self.static_text is not None:
            return self.static_text
        return _text(self._parts, lookup)

    def __repr__(self) -> str:
        return f"Template({self.raw!r})"


def _no_lookup(key: str) -> tuple[str, ...] | None:
    return None


def _parse(raw: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    position = 0
    for found in _VARIABLE.finditer(raw):
        if found.start() > position:
            parts.append(raw[position : found.start()])
        inner = found.group(1)
        if inner in _ESCAPES:
            parts.append(Literal(_ESCAPES[inner]))
        else:
            with_default = _WITH_DEFAULT.fullmatch(inner)
            if with_default:
                parts.append(Var(with_default.group(1).lower(), with_default.group(2)))
            else:
                parts.append(Var(inner.strip().lower(), None))
        position = found.end()
    if position < len(raw):
        parts.append(raw[position:])
    return tuple(parts)


def _value(var: Var, lookup: Lookup) -> str | None:
    values = lookup(var.key)
    if values is not None and len(values) == 1:
        return values[0]
    return var.default


def _atoms(parts: tuple[Part, ...], lookup: Lookup) -> Atoms | None:
    atoms: list[Atom] = []
    for part in parts:
        if isinstance(part, str):
            atoms.extend(atoms_of(part))
            continue
        text = part.text if isinstance(part, Literal) else _value(part, lookup)
        if text is None:
            return None
        if text:
            atoms.append(text)
    return tuple(atoms)


def _text(parts: tuple[Part, ...], lookup: Lookup) -> str | None:
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
            continue
        text = part.text if isinstance(part, Literal) else _value(part, lookup)
        if text is None:
            return None
        pieces.append(text)
    return "".join(pieces)
