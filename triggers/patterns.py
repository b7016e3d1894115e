"""AWS's event-pattern grammar: EventBridge event patterns, which Lambda's FilterCriteria
also use ("Content filtering in Amazon EventBridge event patterns", "Filter rule syntax").

A pattern is a JSON object. Each key names a field of the event; its value is either a
nested pattern (an object: the field must be an object that matches it) or an array of
matchers that are OR-ed together (the field's value must satisfy at least one). Keys of
one object are AND-ed; ``"$or": [pattern, pattern, ...]`` at any level adds alternatives.
A matcher is a literal (string, number, true, false, null: an exact match) or a one-key
object: ``prefix``, ``suffix`` (each also with ``{"equals-ignore-case": s}``),
``equals-ignore-case``, ``wildcard``, ``anything-but`` (values, or ``prefix``/``suffix``/
``equals-ignore-case``/``wildcard``), ``numeric`` (ranges), ``exists`` and ``cidr``.

When the event's value is an array, the field matches when any element does (nested
arrays are flattened). ``exists`` only sees leaves: a field whose value is an object "does
not exist" for it, as AWS documents.

Compiling is bounded (text size, nesting depth, fields plus values) so a hostile pattern
costs little, and matching is linear in the sizes of the pattern and the event: there is no
regular-expression engine and no backtracking (wildcards use a greedy two-pointer match).
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Generous next to AWS's own limits (EventPattern and Filter.Pattern are at most 4096
# characters), which the APIs enforce; these bound the work whatever the caller.
MAX_PATTERN_CHARS = 65536
MAX_DEPTH = 32
MAX_NODES = 2000
MAX_STRING_CHARS = 4096

_MISSING: Any = object()


class PatternError(ValueError):
    """An invalid pattern; ``message`` is AWS's wording of the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- matchers --------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_literal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (5 == 5.0), never a boolean for a number."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return type(a) is type(b) and a == b


def _fold(text: str) -> str:
    return text.casefold()


def _wildcard_parts(pattern: str) -> list[str]:
    """Split a wildcard pattern at its unescaped ``*`` (``\\*`` is a star, ``\\\\`` a
    backslash)."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    previous_star = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise PatternError(f"Invalid escape character at pos {index}")
            current.append(following)
            index += 2
            previous_star = False
            continue
        if char == "*":
            if previous_star:
                raise PatternError(f"Consecutive wildcard characters at pos {index}")
            parts.append("".join(current))
            current = []
            previous_star = True
        else:
            current.append(char)
            previous_star = False
        index += 1
    parts.append("".join(current))
    return parts


def _wildcard_match(parts: list[str], text: str) -> bool:
    """Glob match with only ``*``: anchored first and last parts, the middle ones found
    greedily left to right (which is exact for a star-only glob, and linear-ish)."""
    if len(parts) == 1:
        return text == parts[0]
    first, last = parts[0], parts[-1]
    if len(text) < len(first) + len(last):
        return False
    if not text.startswith(first) or not text.endswith(last):
        return False
    position = len(first)
    end = len(text) - len(last)
    for middle in parts[1:-1]:
        found = text.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True


class Matcher:
    """One OR-ed alternative of a leaf: is this (non-object) value a match?"""

    def matches(self, value: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Exact(Matcher):
    value: Any

    def matches(self, value: Any) -> bool:
        return _same_literal(self.value, value)


@dataclass(frozen=True)
class _Affix(Matcher):
    """A string that starts (or ends) with ``text``; case-folded once, at compile time."""

    text: str
    ignore_case: bool = False
    at_end = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_wanted", _fold(self.text) if self.ignore_case else self.text)

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        seen = _fold(value) if self.ignore_case else value
        wanted: str = self._wanted  # type: ignore[attr-defined]
        return seen.endswith(wanted) if self.at_end else seen.startswith(wanted)


class Prefix(_Affix):
    pass


class Suffix(_Affix):
    at_end = True


@dataclass(frozen=True)
class EqualsIgnoreCase(Matcher):
    texts: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_folded", frozenset(_fold(t) for t in self.texts))

    def matches(self, value: Any) -> bool:
        folded: frozenset[str] = self._folded  # type: ignore[attr-defined]
        return isinstance(value, str) and _fold(value) in folded


@dataclass(frozen=True)
class Wildcard(Matcher):
    patterns: tuple[tuple[str, ...], ...]

    def matches(self, value: Any) -> bool:
        return isinstance(value, str) and any(
            _wildcard_match(list(parts), value) for parts in self.patterns
        )


@dataclass(frozen=True)
class Numeric(Matcher):
    lower: float | None = None
    lower_inclusive: bool = False
    upper: float | None = None
    upper_inclusive: bool = False

    def matches(self, value: Any) -> bool:
        if not _is_number(value) or math.isnan(value):
            return False
        below = self.lower is not None and (
            value < self.lower or (value == self.lower and not self.lower_inclusive)
        )
        above = self.upper is not None and (
            value > self.upper or (value == self.upper and not self.upper_inclusive)
        )
        return not (below or above)


@dataclass(frozen=True)
class Cidr(Matcher):
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return address.version == self.network.version and address in self.network


@dataclass(frozen=True)
class AnythingBut(Matcher):
    """Matches a value the inner matcher does not; a missing field never matches."""

    inner: Matcher

    def matches(self, value: Any) -> bool:
        return not self.inner.matches(value)


@dataclass(frozen=True)
class OneOf(Matcher):
    values: tuple[Any, ...]

    def matches(self, value: Any) -> bool:
        return any(_same_literal(v, value) for v in self.values)


@dataclass(frozen=True)
class Exists(Matcher):
    """Handled by the field (it is about presence, not a value)."""

    present: bool

    def matches(self, value: Any) -> bool:
        return self.present


# --- patterns --------------------------------------------------------------------------


@dataclass
class Leaf:
    matchers: list[Matcher]

    def matches(self, value: Any) -> bool:
        leaves = list(_leaves(value)) if value is not _MISSING else []
        for matcher in self.matchers:
            if isinstance(matcher, Exists):
                if matcher.present == bool(leaves):
                    return True
            elif any(matcher.matches(leaf) for leaf in leaves):
                return True
        return False


def _leaves(value: Any) -> Iterator[Any]:
    """The non-object values of a field: itself, or an array's elements (flattened)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif not isinstance(item, dict):
            yield item


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            yield item


@dataclass
class Pattern:
    """A compiled pattern: all ``fields`` match, and for each ``$or`` one alternative does."""

    fields: list[tuple[str, Pattern | Leaf]] = field(default_factory=list)
    alternatives: list[list[Pattern]] = field(default_factory=list)

    def matches(self, event: Any) -> bool:
        if not isinstance(event, dict):
            event = {}
        for name, sub in self.fields:
            value = event.get(name, _MISSING)
            if isinstance(sub, Leaf):
                if not sub.matches(value):
                    return False
            elif not _nested_matches(sub, value):
                return False
        return all(any(p.matches(event) for p in group) for group in self.alternatives)


def _nested_matches(sub: Pattern, value: Any) -> bool:
    # A field that is not an object (or is missing) has no sub-fields: the nested pattern
    # is checked against nothing, which only "exists": false satisfies.
    found = False
    for obj in _objects(value) if value is not _MISSING else ():
        found = True
        if sub.matches(obj):
            return True
    return not found and sub.matches({})


# --- compiling -------------------------------------------------------------------------


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0

    def spend(self, count: int = 1) -> None:
        self.nodes += count
        if self.nodes > MAX_NODES:
            raise PatternError(
                f"Event pattern is too complex: more than {MAX_NODES} fields and values"
            )


def compile_pattern(source: str | bytes | dict[str, Any]) -> Pattern:
    """Parse and check a pattern (JSON text or an already-parsed object)."""
    if isinstance(source, bytes | str):
        text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        if len(text) > MAX_PATTERN_CHARS:
            raise PatternError(f"Event pattern is longer than {MAX_PATTERN_CHARS} characters")
        _check_text_depth(text)
        try:
            parsed = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            reason = exc.message if isinstance(exc, PatternError) else "malformed JSON"
            raise PatternError(f"Filter is not valid JSON: {reason}") from None
    else:
        parsed = source
    if not isinstance(parsed, dict):
        raise PatternError("Filter is not an object")
    return _compile_object(parsed, 1, _Budget(), top=True)


def _reject_constant(name: str) -> Any:
    raise PatternError(f"{name} is not a JSON value")


def _check_text_depth(text: str) -> None:
    """Refuse deep nesting before the JSON parser recurses into it."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise PatternError(f"Event pattern is nested more than {MAX_DEPTH} levels deep")
        elif char in "]}":
            depth -= 1


def _compile_object(obj: dict[str, Any], depth: int, budget: _Budget, top: bool) -> Pattern:
    if depth > MAX_DEPTH:
        raise PatternError(f"Event pattern is nested more than {MAX_DEPTH} levels deep")
    if not obj and not top:
        raise PatternError("Empty objects are not allowed")
    pattern = Pattern()
    for name, value in obj.items():
        budget.spend()
        if not isinstance(name, str):
            raise PatternError("Field names must be strings")
        if name == "$or" and _is_or_list(value):
            if len(value) < 2:
                raise PatternError("Value of $or must be an array of at least two objects")
            pattern.alternatives.append(
                [_compile_object(item, depth + 1, budget, top=False) for item in value]
            )
        elif isinstance(value, dict):
            pattern.fields.append((name, _compile_object(value, depth + 1, budget, top=False)))
        elif isinstance(value, list):
            pattern.fields.append((name, _compile_leaf(name, value, budget)))
        else:
            raise PatternError(f'"{name}" must be an object or an array')
    return pattern


def _is_or_list(value: Any) -> bool:
    # "$or" whose value is not a list of objects is an ordinary field name, as on AWS.
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _compile_leaf(name: str, values: list[Any], budget: _Budget) -> Leaf:
    if not values:
        raise PatternError(f'Empty arrays are not allowed: "{name}"')
    matchers: list[Matcher] = []
    for value in values:
        budget.spend()
        if isinstance(value, dict):
            matchers.append(_compile_match_expression(value, budget))
        elif isinstance(value, list):
            raise PatternError("Match value must be String, number, true, false, or null")
        else:
            matchers.append(Exact(_literal(value)))
    return Leaf(matchers)


def _literal(value: Any) -> Any:
    if isinstance(value, str):
        return _check_string(value)
    literal = value is None or isinstance(value, bool | int | float)
    if not literal or (isinstance(value, float) and not math.isfinite(value)):
        raise PatternError("Match value must be String, number, true, false, or null")
    return value


def _check_string(value: str) -> str:
    if len(value) > MAX_STRING_CHARS:
        raise PatternError(f"String values are limited to {MAX_STRING_CHARS} characters")
    return value


def _compile_match_expression(expression: dict[str, Any], budget: _Budget) -> Matcher:
    if len(expression) != 1:
        if not expression:
            raise PatternError("Empty objects are not allowed")
        raise PatternError("Only one key allowed in match expression")
    ((kind, argument),) = expression.items()
    if kind in ("prefix", "suffix"):
        return _compile_affix(kind, argument)
    if kind == "equals-ignore-case":
        return EqualsIgnoreCase((_string_argument(kind, argument),))
    if kind == "wildcard":
        return Wildcard((tuple(_wildcard_parts(_string_argument(kind, argument))),))
    if kind == "anything-but":
        return _compile_anything_but(argument, budget)
    if kind == "numeric":
        return _compile_numeric(argument, budget)
    if kind == "exists":
        if not isinstance(argument, bool):
            raise PatternError("exists match pattern must be either true or false.")
        return Exists(argument)
    if kind == "cidr":
        return _compile_cidr(argument)
    raise PatternError(f"Unrecognized match type {kind}")


def _string_argument(kind: str, argument: Any) -> str:
    if not isinstance(argument, str):
        raise PatternError(f"{kind} match pattern must be a string")
    return _check_string(argument)


def _compile_affix(kind: str, argument: Any) -> Matcher:
    ignore_case = False
    if isinstance(argument, dict):
        if list(argument) != ["equals-ignore-case"]:
            raise PatternError(f"Unsupported {kind} pattern: only equals-ignore-case is allowed")
        argument = argument["equals-ignore-case"]
        ignore_case = True
    text = _string_argument(kind, argument)
    return Prefix(text, ignore_case) if kind == "prefix" else Suffix(text, ignore_case)


def _compile_anything_but(argument: Any, budget: _Budget) -> Matcher:
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise PatternError("Only one key allowed in match expression")
        ((kind, inner),) = argument.items()
        if kind in ("prefix", "suffix"):
            if not isinstance(inner, str):
                raise PatternError(f"{kind} match pattern must be a string")
            matcher: Matcher = Prefix(inner) if kind == "prefix" else Suffix(inner)
            _check_string(inner)
            return AnythingBut(matcher)
        if kind in ("equals-ignore-case", "wildcard"):
            texts = _string_list(kind, inner, budget)
            if kind == "equals-ignore-case":
                return AnythingBut(EqualsIgnoreCase(tuple(texts)))
            return AnythingBut(Wildcard(tuple(tuple(_wildcard_parts(t)) for t in texts)))
        raise PatternError(f"Unsupported anything-but pattern: {kind}")
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise PatternError("Empty arrays are not allowed: anything-but")
    budget.spend(len(values))
    kinds: set[str] = set()
    for value in values:
        if isinstance(value, str):
            _check_string(value)
            kinds.add("string")
        elif _is_number(value) and math.isfinite(value):
            kinds.add("number")
        elif isinstance(argument, list):
            raise PatternError("Inside anything but list, start|null|boolean is not supported.")
        else:
            raise PatternError(
                "Value of anything-but must be an array or single string/number value."
            )
    if len(kinds) > 1:
        raise PatternError("Inside anything but list, all the values must be of the same type.")
    return AnythingBut(OneOf(tuple(values)))


def _string_list(kind: str, argument: Any, budget: _Budget) -> list[str]:
    texts = argument if isinstance(argument, list) else [argument]
    if not texts:
        raise PatternError(f"Empty arrays are not allowed: {kind}")
    budget.spend(len(texts))
    return [_string_argument(kind, text) for text in texts]


_LOWER = {">": False, ">=": True}
_UPPER = {"<": False, "<=": True}


def _compile_numeric(argument: Any, budget: _Budget) -> Matcher:
    if not isinstance(argument, list) or not argument:
        raise PatternError("Value of numeric must be an array.")
    if len(argument) not in (2, 4):
        raise PatternError("Invalid member in numeric match: the array must be 2 or 4 long")
    budget.spend(len(argument))
    ops = argument[0::2]
    numbers = argument[1::2]
    for op, number in zip(ops, numbers, strict=True):
        if not isinstance(op, str):
            raise PatternError(f"Invalid member in numeric match: {json.dumps(op)}")
        if op not in ("=", *_LOWER, *_UPPER):
            raise PatternError(f"Unrecognized numeric range operator: {op}")
        if not _is_number(number) or not math.isfinite(number):
            raise PatternError(f"Value of {op} must be a number")
    if len(argument) == 2:
        op, number = argument
        if op == "=":
            return Numeric(number, True, number, True)
        if op in _LOWER:
            return Numeric(lower=number, lower_inclusive=_LOWER[op])
        return Numeric(upper=number, upper_inclusive=_UPPER[op])
    bounds: dict[str, tuple[float, bool]] = {}
    for op, number in zip(ops, numbers, strict=True):
        side = "lower" if op in _LOWER else "upper" if op in _UPPER else "="
        if side == "=" or side in bounds:
            raise PatternError("Bad numeric range: one of > or >= and one of < or <= (or = alone)")
        bounds[side] = (number, (_LOWER | _UPPER)[op])
    (low, low_inclusive), (high, high_inclusive) = bounds["lower"], bounds["upper"]
    if not low < high:
        raise PatternError("Bottom must be less than top")
    return Numeric(low, low_inclusive, high, high_inclusive)


def _compile_cidr(argument: Any) -> Matcher:
    if not isinstance(argument, str):
        raise PatternError("cidr match pattern must be a string")
    try:
        network = ipaddress.ip_network(argument, strict=False)
    except ValueError:
        raise PatternError(f"Nonsensical CIDR IP argument: {argument[:100]}") from None
    return Cidr(network)
