"""Policy documents: parsed and checked once, as IAM checks them, into frozen objects.

IAM's own limits bound an honest document (6,144 characters for a managed policy, 10,240 for
a role's inline policies); the hard caps here bound what any caller can make this library do
(document length, statements, values) whatever kind of policy it is.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from iam.policy.conditions import Condition, UnknownOperator, parse_operator
from iam.policy.errors import SYNTAX_ERRORS, MalformedPolicyDocument, PolicyLimitExceeded
from iam.policy.principals import PrincipalSet, parse_principal
from iam.policy.variables import Template
from iam.policy.wildcards import ArnGlob, Glob, arn_glob, atoms_of, glob

VERSIONS = ("2012-10-17", "2008-10-17")
MAX_DOCUMENT_CHARS = 131_072
MAX_STATEMENTS = 1_000
MAX_VALUES = 10_000  # actions, resources, principals and condition values, in all

_VENDOR = re.compile(r"[a-zA-Z0-9-]+")
_ACTION_NAME = re.compile(r"[a-zA-Z0-9*?_-]+")
_SID_ALNUM = re.compile(r"[0-9A-Za-z]*")
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)


class PolicyKind(enum.Enum):
    """Where a document is used: what it must and must not say, and how long it may be."""

    MANAGED = "managed"
    USER_INLINE = "user"
    GROUP_INLINE = "group"
    ROLE_INLINE = "role"
    TRUST = "trust"  # a role's AssumeRolePolicyDocument
    RESOURCE = "resource"  # a function's or layer version's policy

    @property
    def is_identity(self) -> bool:
        return self not in (PolicyKind.TRUST, PolicyKind.RESOURCE)


# IAM and AWS STS quotas (characters, white space not counted); Lambda's resource policy 20 KB.
SIZE_LIMITS = {
    PolicyKind.MANAGED: 6_144,
    PolicyKind.USER_INLINE: 2_048,
    PolicyKind.GROUP_INLINE: 5_120,
    PolicyKind.ROLE_INLINE: 10_240,
    PolicyKind.TRUST: 2_048,
    PolicyKind.RESOURCE: 20_480,
}


def policy_size(text: str) -> int:
    """The length IAM counts against its quotas: white space is not counted."""
    return len(text) - sum(text.count(space) for space in " \t\n\r")


def _too_large(kind: PolicyKind, owner: str) -> PolicyLimitExceeded:
    limit = SIZE_LIMITS[kind]
    if kind is PolicyKind.MANAGED:
        return PolicyLimitExceeded(f"Cannot exceed quota for PolicySize: {limit}")
    if kind is PolicyKind.TRUST:
        return PolicyLimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {limit}")
    return PolicyLimitExceeded(
        f"Maximum policy size of {limit} bytes exceeded for {kind.value} {owner}".rstrip()
    )


@dataclass(frozen=True, slots=True)
class ActionPattern:
    raw: str
    matcher: Glob  # on the lower-cased action: action names are case-insensitive


def _wild(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _is_prefix(pattern: str) -> bool:
    return pattern.endswith("*") and not _wild(pattern[:-1])


class ActionSet:
    """A statement's Action (or NotAction) list, compiled for the hot path: exact names in a
    set, ``service:Prefix*`` patterns in one ``startswith`` tuple, the rest as globs."""

    __slots__ = ("_any", "_exact", "_globs", "_prefixes")

    def __init__(self, patterns: tuple[ActionPattern, ...]) -> None:
        lowered = [pattern.raw.lower() for pattern in patterns]
        self._any = "*" in lowered
        self._exact = frozenset(p for p in lowered if not _wild(p))
        self._prefixes = tuple(p[:-1] for p in lowered if _is_prefix(p))
        self._globs = tuple(
            pattern.matcher
            for pattern, p in zip(patterns, lowered, strict=True)
            if _wild(p) and not _is_prefix(p) and p != "*"
        )

    def match(self, action: str) -> bool:
        """``action`` lower-cased."""
        return (
            self._any
            or action in self._exact
            or action.startswith(self._prefixes)
            or any(matcher.match(action) for matcher in self._globs)
        )


@dataclass(frozen=True, slots=True)
class ResourcePattern:
    template: Template
    static: ArnGlob | None  # compiled once when the pattern has no variables

    def matches(self, resource: str, lookup: Any) -> bool:
        if self.static is not None:
            return self.static.match(resource)
        atoms = self.template.atoms(lookup)
        return atoms is not None and arn_glob(atoms).match(resource)


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    sid: str | None
    effect: str  # "Allow" or "Deny"
    actions: tuple[ActionPattern, ...]
    action_set: ActionSet
    not_action: bool
    resources: tuple[ResourcePattern, ...] | None  # None: not given (trust policies)
    not_resource: bool
    principals: PrincipalSet | None
    not_principal: bool
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed document. ``source`` names it in decisions (a policy ARN or inline name)."""

    version: str
    id: str | None
    statements: tuple[Statement, ...]
    kind: PolicyKind
    source: str = ""
    text: str = ""


def parse_policy(
    text: str | bytes,
    kind: PolicyKind = PolicyKind.MANAGED,
    *,
    source: str = "",
    owner: str = "",
    check_size: bool = True,
) -> Policy:
    """Parse and check a document, raising ``MalformedPolicyDocument`` or
    ``PolicyLimitExceeded`` with IAM's message. ``owner`` names the user, group or role in
    the size error of an inline policy."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPolicyDocument(SYNTAX_ERRORS) from None
    if len(text) > MAX_DOCUMENT_CHARS or (check_size and policy_size(text) > SIZE_LIMITS[kind]):
        raise _too_large(kind, owner)
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError):
        raise MalformedPolicyDocument(SYNTAX_ERRORS) from None
    return _Parser(kind).document(document, source, text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


class _Parser:
    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind
        self.values = 0
        self.substitute = False

    def _count(self, n: int) -> None:
        self.values += n
        if self.values > MAX_VALUES:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)

    def document(self, document: Any, source: str, text: str) -> Policy:
        if not isinstance(document, dict) or not set(document) <= _TOP_KEYS:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        version = document.get("Version", "2008-10-17")
        if version not in VERSIONS:
            raise MalformedPolicyDocument("The policy failed legacy parsing")
        self.substitute = version == "2012-10-17"
        policy_id = document.get("Id")
        if policy_id is not None and not isinstance(policy_id, str):
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        if "Statement" not in document:
            raise MalformedPolicyDocument("Missing required field Statement")
        raw = document["Statement"]
        raws = raw if isinstance(raw, list) else [raw]
        if not raws:
            raise MalformedPolicyDocument("Missing required field Statement")
        if len(raws) > MAX_STATEMENTS:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        statements = tuple(self.statement(index, item) for index, item in enumerate(raws))
        sids = [statement.sid for statement in statements if statement.sid]
        if len(sids) != len(set(sids)):
            raise MalformedPolicyDocument("Statement IDs (SID) in a single policy must be unique.")
        return Policy(version, policy_id, statements, self.kind, source, text)

    def statement(self, index: int, raw: Any) -> Statement:
        if not isinstance(raw, dict) or not set(raw) <= _STATEMENT_KEYS:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        sid = raw.get("Sid")
        if sid is not None:
            if not isinstance(sid, str):
                raise MalformedPolicyDocument(SYNTAX_ERRORS)
            if self.kind.is_identity and not _SID_ALNUM.fullmatch(sid):
                raise MalformedPolicyDocument(
                    "Statement IDs (SID) must be alpha-numeric. Check that your input "
                    "satisfies the regular expression [0-9A-Za-z]*"
                )
        if "Effect" not in raw:
            raise MalformedPolicyDocument("Missing required field Effect")
        effect = raw["Effect"]
        if effect not in ("Allow", "Deny"):
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        actions, not_action = self._pair(raw, "Action", "NotAction")
        if actions is None:
            raise MalformedPolicyDocument("Policy statement must contain actions.")
        resources, not_resource = self._pair(raw, "Resource", "NotResource")
        principal_raw, not_principal = self._pair(raw, "Principal", "NotPrincipal", scalar=True)
        if self.kind.is_identity:
            if principal_raw is not None:
                raise MalformedPolicyDocument("Policy document should not specify a principal.")
            if resources is None:
                raise MalformedPolicyDocument("Policy statement must contain resources.")
        elif principal_raw is None:
            raise MalformedPolicyDocument("Missing required field Principal")
        if self.kind is PolicyKind.TRUST and resources is not None:
            raise MalformedPolicyDocument(
                f"Has prohibited field {'NotResource' if not_resource else 'Resource'}"
            )
        if self.kind is PolicyKind.TRUST and not all(
            value == "*" or value.lower().startswith("sts:") for value in actions
        ):
            raise MalformedPolicyDocument(
                "AssumeRole policy may only specify STS AssumeRole actions."
            )
        if self.kind is PolicyKind.RESOURCE and resources is None:
            raise MalformedPolicyDocument("Policy statement must contain resources.")
        principals = None if principal_raw is None else parse_principal(principal_raw)
        if principal_raw is not None and principal_raw != "*":
            self._count(sum(len(v) if isinstance(v, list) else 1 for v in principal_raw.values()))
        patterns = tuple(self.action(value) for value in actions)
        return Statement(
            index=index,
            sid=sid,
            effect=effect,
            actions=patterns,
            action_set=ActionSet(patterns),
            not_action=not_action,
            resources=None if resources is None else tuple(self.resource(r) for r in resources),
            not_resource=not_resource,
            principals=principals,
            not_principal=not_principal,
            conditions=self.conditions(raw.get("Condition")),
        )

    def _pair(self, raw: dict[str, Any], name: str, negated: str, scalar: bool = False) -> Any:
        if name in raw and negated in raw:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        key = negated if negated in raw else name
        if key not in raw:
            return None, False
        value = raw[key]
        if scalar:
            return value, key == negated
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        if not values:
            return None, False
        self._count(len(values))
        return values, key == negated

    def action(self, raw: str) -> ActionPattern:
        if raw != "*":
            vendor, colon, name = raw.partition(":")
            if not colon:
                raise MalformedPolicyDocument(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
            if not _VENDOR.fullmatch(vendor):
                raise MalformedPolicyDocument(f"Vendor {vendor} is not valid")
            if not _ACTION_NAME.fullmatch(name):
                raise MalformedPolicyDocument("Policy has invalid action")
        return ActionPattern(raw, glob(atoms_of(raw.lower())))

    def resource(self, raw: str) -> ResourcePattern:
        if raw != "*" and (not raw.startswith("arn:") or raw.count(":") < 5):
            raise MalformedPolicyDocument(f'Resource {raw} must be in ARN format or "*".')
        template = Template(raw, self.substitute)
        atoms = template.static_atoms
        return ResourcePattern(template, None if atoms is None else arn_glob(atoms))

    def conditions(self, raw: Any) -> tuple[Condition, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, dict):
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        conditions: list[Condition] = []
        for name, block in raw.items():
            try:
                op = parse_operator(name)
            except UnknownOperator:
                raise MalformedPolicyDocument(f"Invalid Condition type : {name}") from None
            if not isinstance(block, dict) or not block:
                raise MalformedPolicyDocument(SYNTAX_ERRORS)
            for key, value in block.items():
                if ":" not in key:
                    raise MalformedPolicyDocument(
                        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                    )
                values = value if isinstance(value, list) else [value]
                self._count(len(values) + 1)
                conditions.append(
                    Condition(op, key, tuple(Template(_scalar(v), self.substitute) for v in values))
                )
        return tuple(conditions)


def _scalar(value: Any) -> str:
    """A condition value: IAM accepts strings, numbers and booleans, and compares text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise MalformedPolicyDocument(SYNTAX_ERRORS)
