"""The Principal and NotPrincipal elements of resource-based and trust policies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from iam.policy.context import Principal
from iam.policy.errors import SYNTAX_ERRORS, MalformedPolicyDocument

_ACCOUNT = re.compile(r"\d{12}")
_AWS_ARN = re.compile(
    r"arn:aws[\w-]*:(?:iam::(\d{12}):(?:root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+"
    r"|federated-user/[\w+=,.@-]+)|sts::(\d{12}):(?:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+"
    r"|federated-user/[\w+=,.@-]+))"
)
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]{0,126}\.(?:amazonaws\.com(?:\.cn)?|[a-z0-9-]+)")
_FEDERATED = re.compile(r"[\w.:/=+@,-]{1,2048}")
_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
MAX_PRINCIPALS = 1000
NONE, ACCOUNT, DIRECT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class PrincipalSet:
    """Who a statement names: ``everyone`` for ``"*"``; AWS principals as ARNs (an account id
    becomes its root ARN); services and identity providers by name."""

    everyone: bool = False
    aws: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()  # accounts named by their root
    services: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    canonical: frozenset[str] = frozenset()

    def grant(self, principal: Principal) -> int:
        """How this set names the caller: ``DIRECT`` (the caller itself, its role, or
        everyone), ``ACCOUNT`` (only its account: a delegation that the account's own
        identity-based policies must also allow) or ``NONE``."""
        if self.everyone:
            return DIRECT
        if principal.type == "service":
            return DIRECT if principal.arn in self.services else NONE
        if principal.type == "anonymous":
            return NONE
        if principal.arn in self.aws:
            return DIRECT
        if principal.type == "assumed-role" and principal.source_role_arn in self.aws:
            return DIRECT
        if principal.account in self.accounts:
            return DIRECT if principal.type == "root" else ACCOUNT
        return NONE


def _invalid(kind: str, value: object) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(f'Invalid principal in policy: "{kind.upper()}":"{value}"')


def parse_principal(element: object) -> PrincipalSet:
    if element == "*":
        return PrincipalSet(everyone=True)
    if not isinstance(element, dict) or not element:
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    aws: set[str] = set()
    accounts: set[str] = set()
    found: dict[str, set[str]] = {"Service": set(), "Federated": set(), "CanonicalUser": set()}
    everyone = False
    count = 0
    for raw_kind, raw_values in element.items():
        kind = raw_kind
        if kind not in _KINDS:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        values = raw_values if isinstance(raw_values, list) else [raw_values]
        count += len(values)
        if not values or count > MAX_PRINCIPALS:
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        for value in values:
            if not isinstance(value, str):
                raise MalformedPolicyDocument(SYNTAX_ERRORS)
            if kind == "AWS":
                if value == "*":
                    everyone = True
                elif _ACCOUNT.fullmatch(value):
                    accounts.add(value)
                elif (match := _AWS_ARN.fullmatch(value)) is not None:
                    if value.endswith(":root"):
                        accounts.add(match.group(1))
                    else:
                        aws.add(value)
                else:
                    raise _invalid(kind, value)
            elif kind == "Service":
                if not _SERVICE.fullmatch(value):
                    raise _invalid(kind, value)
                found[kind].add(value)
            elif not _FEDERATED.fullmatch(value):
                raise _invalid(kind, value)
            else:
                found[kind].add(value)
    return PrincipalSet(
        everyone=everyone,
        aws=frozenset(aws),
        accounts=frozenset(accounts),
        services=frozenset(found["Service"]),
        federated=frozenset(found["Federated"]),
        canonical=frozenset(found["CanonicalUser"]),
    )
