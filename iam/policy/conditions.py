"""Condition operators, as IAM's "Condition operators" and "multivalued context keys" pages
describe them.

- Several operators in a block, and several keys under one operator: all must hold (AND).
- Several values for one key: any may match (OR); for a negated operator (``StringNotEquals``,
  ``NotIpAddress`` …) none may match (NOR).
- A key absent from the request: the condition is false, except that negated operators are
  true, ``…IfExists`` is true, ``ForAllValues:`` is true and ``ForAnyValue:`` is false.
- ``ForAnyValue:``: some value of the request's key satisfies the operator; ``ForAllValues:``:
  every one does (an empty set satisfies it). Without a qualifier a multi-valued key matches
  a positive operator when any of its values does, and a negated one when none does.
- A value that cannot be read for the operator (a number that is not one, a bad CIDR) never
  matches; a policy value whose variable cannot be resolved is left out, and a condition left
  with no value is false.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iam.policy.variables import Lookup, Template
from iam.policy.wildcards import arn_glob, glob

# A prepared policy value (a number, a network, a compiled pattern), or None: never matches.
Prepared = Any
Prepare = Callable[[str, "Template", Lookup], Prepared]
Test = Callable[[str, Prepared], bool]


def _text(raw: str, template: Template, lookup: Lookup) -> Prepared:
    return raw


def _folded(raw: str, template: Template, lookup: Lookup) -> Prepared:
    return raw.casefold()


def _like(raw: str, template: Template, lookup: Lookup) -> Prepared:
    atoms = template.atoms(lookup)
    return None if atoms is None else glob(atoms)


def _arn(raw: str, template: Template, lookup: Lookup) -> Prepared:
    atoms = template.atoms(lookup)
    return None if atoms is None else arn_glob(atoms)


def _number(raw: str, template: Template | None = None, lookup: Lookup | None = None) -> Prepared:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return None if value != value else value  # NaN compares with nothing


def _date(raw: str, template: Template | None = None, lookup: Lookup | None = None) -> Prepared:
    """ISO 8601 (a date, or a date and time; no zone means UTC) or seconds since the epoch."""
    text = raw.strip()
    epoch = _number(text)
    if epoch is not None:
        return epoch
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _bool(raw: str, template: Template, lookup: Lookup) -> Prepared:
    return raw.lower()


def _binary(raw: str, template: Template | None = None, lookup: Lookup | None = None) -> Prepared:
    try:
        return base64.b64decode(raw.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _network(raw: str, template: Template, lookup: Lookup) -> Prepared:
    try:
        return ipaddress.ip_network(raw.strip(), strict=False)
    except ValueError:
        return None


def _compare(compare: Callable[[float, float], bool], read: Callable[[str], Prepared]) -> Test:
    def test(value: str, prepared: Prepared) -> bool:
        number = read(value)
        return number is not None and compare(number, prepared)

    return test


def _in_network(value: str, network: Prepared) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _binary_equals(value: str, expected: Prepared) -> bool:
    decoded = _binary(value)
    return decoded is not None and decoded == expected


@dataclass(frozen=True, slots=True)
class BaseOperator:
    name: str
    prepare: Prepare
    test: Test
    negated: bool = False


def _operators() -> dict[str, BaseOperator]:
    table: list[BaseOperator] = [
        BaseOperator("StringEquals", _text, operator.eq),
        BaseOperator("StringNotEquals", _text, operator.eq, True),
        BaseOperator("StringEqualsIgnoreCase", _folded, lambda v, p: v.casefold() == p),
        BaseOperator("StringNotEqualsIgnoreCase", _folded, lambda v, p: v.casefold() == p, True),
        BaseOperator("StringLike", _like, lambda v, p: p.match(v)),
        BaseOperator("StringNotLike", _like, lambda v, p: p.match(v), True),
        BaseOperator("Bool", _bool, lambda v, p: v.lower() == p),
        BaseOperator("BinaryEquals", _binary, _binary_equals),
        BaseOperator("IpAddress", _network, _in_network),
        BaseOperator("NotIpAddress", _network, _in_network, True),
        BaseOperator("ArnEquals", _arn, lambda v, p: p.match(v)),
        BaseOperator("ArnLike", _arn, lambda v, p: p.match(v)),
        BaseOperator("ArnNotEquals", _arn, lambda v, p: p.match(v), True),
        BaseOperator("ArnNotLike", _arn, lambda v, p: p.match(v), True),
    ]
    comparisons: list[tuple[str, Callable[[float, float], bool], bool]] = [
        ("Equals", operator.eq, False),
        ("NotEquals", operator.eq, True),
        ("LessThan", operator.lt, False),
        ("LessThanEquals", operator.le, False),
        ("GreaterThan", operator.gt, False),
        ("GreaterThanEquals", operator.ge, False),
    ]
    for family, read in (("Numeric", _number), ("Date", _date)):
        for suffix, compare, negated in comparisons:
            table.append(BaseOperator(family + suffix, read, _compare(compare, read), negated))
    return {entry.name.lower(): entry for entry in table}


OPERATORS = _operators()
NULL = "null"


class UnknownOperator(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Operator:
    """A parsed operator name: ``ForAllValues:StringLikeIfExists`` and the like."""

    name: str
    base: BaseOperator | None  # None: the Null operator
    qualifier: str  # "", "any" or "all"
    if_exists: bool


def parse_operator(name: str) -> Operator:
    rest = name
    qualifier = ""
    lowered = rest.lower()
    if lowered.startswith("foranyvalue:"):
        qualifier, rest = "any", rest[len("ForAnyValue:") :]
    elif lowered.startswith("forallvalues:"):
        qualifier, rest = "all", rest[len("ForAllValues:") :]
    lowered = rest.lower()
    if_exists = lowered.endswith("ifexists")
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    if lowered == NULL:
        if if_exists or qualifier:
            raise UnknownOperator(name)
        return Operator(name, None, "", False)
    base = OPERATORS.get(lowered)
    if base is None:
        raise UnknownOperator(name)
    return Operator(name, base, qualifier, if_exists)


class Condition:
    """One key under one operator, with its values; prepared once where they are static."""

    __slots__ = ("_static", "key", "operator", "values")

    def __init__(self, op: Operator, key: str, values: tuple[Template, ...]) -> None:
        self.operator = op
        self.key = key.lower()
        self.values = values
        self._static: list[Prepared] | None = None
        if op.base is not None and all(value.is_static for value in values):
            self._static = [
                op.base.prepare(str(value.static_text), value, _absent) for value in values
            ]

    def _prepared(self, base: BaseOperator, lookup: Lookup) -> list[Prepared]:
        if self._static is not None:
            return self._static
        prepared = []
        for value in self.values:
            text = value.text(lookup)
            if text is not None:
                prepared.append(base.prepare(text, value, lookup))
        return prepared

    def holds(self, lookup: Lookup) -> bool:
        op = self.operator
        present = lookup(self.key)
        if present is not None and not present:
            present = None if not op.qualifier else present
        base = op.base
        if base is None:  # Null: "true" asks that the key be absent, "false" present
            absent = present is None
            wanted = [value.text(lookup) for value in self.values]
            return any(text is not None and (text.lower() == "true") == absent for text in wanted)
        policy_values = [value for value in self._prepared(base, lookup) if value is not None]
        if not policy_values and not self._static:
            return False
        if present is None:
            if op.if_exists:
                return True
            if op.qualifier:
                return op.qualifier == "all"
            return base.negated

        def matches(value: str) -> bool:
            return any(base.test(value, expected) for expected in policy_values)

        if op.qualifier == "all":
            return all(matches(value) != base.negated for value in present)
        if op.qualifier == "any":
            return any(matches(value) != base.negated for value in present)
        matched = any(matches(value) for value in present)
        return matched != base.negated


def _absent(key: str) -> tuple[str, ...] | None:
    return None


def all_hold(conditions: tuple[Condition, ...], lookup: Lookup) -> bool:
    return all(condition.holds(lookup) for condition in conditions)
