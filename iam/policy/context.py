"""Who asks to do what to which resource: the request context a policy is evaluated against."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

PrincipalType = Literal[
    "root", "user", "role", "assumed-role", "federated-user", "service", "anonymous"
]

# aws:PrincipalType as AWS reports it for each kind of caller.
_AWS_PRINCIPAL_TYPE = {
    "root": "Account",
    "user": "User",
    "role": "AssumedRole",
    "assumed-role": "AssumedRole",
    "federated-user": "FederatedUser",
    "anonymous": "Anonymous",
}
_ASSUMED_ROLE = re.compile(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/(.+)")

ContextValue = str | bool | int | float | bytes | Sequence[str | bool | int | float]


def context_value(value: ContextValue) -> tuple[str, ...]:
    """A condition key's value as the tuple of strings the operators compare."""
    if isinstance(value, str | bool | int | float | bytes):
        return (_scalar(value),)
    return tuple(_scalar(item) for item in value)


def _scalar(value: str | bool | int | float | bytes) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


@dataclass(frozen=True)
class Principal:
    """The caller. ``arn`` is the service's name (``events.amazonaws.com``) for a service."""

    arn: str
    account: str
    type: PrincipalType
    name: str = ""  # the user name (aws:username), the role session name
    user_id: str = ""  # aws:userid: AIDA… for a user, AROA…:session for a role session
    tags: Mapping[str, str] = field(default_factory=dict)
    role_arn: str = ""  # an assumed-role session's role (with its path), if known

    @property
    def source_role_arn(self) -> str:
        """The role a session belongs to: a role ARN in a policy names all its sessions."""
        if self.role_arn:
            return self.role_arn
        found = _ASSUMED_ROLE.fullmatch(self.arn)
        if found is None:
            return ""
        return f"arn:{found.group(1)}:iam::{found.group(2)}:role/{found.group(3)}"


@dataclass(frozen=True)
class RequestContext:
    """One request: the caller, the action (``lambda:InvokeFunction``), the resource ARN
    (``*`` for actions without one) and the request's condition keys (any case)."""

    principal: Principal
    action: str
    resource: str
    conditions: Mapping[str, ContextValue] = field(default_factory=dict)

    @cached_property
    def action_lower(self) -> str:
        return self.action.lower()

    @cached_property
    def keys(self) -> dict[str, tuple[str, ...]]:
        """Every condition key, lower-cased: the caller's own keys derived from the principal,
        then the request's (which win)."""
        principal = self.principal
        keys: dict[str, tuple[str, ...]] = {}
        if principal.type != "service" and principal.type != "anonymous":
            keys["aws:principalarn"] = (
                (principal.source_role_arn or principal.arn,)
                if principal.type == "assumed-role"
                else (principal.arn,)
            )
            keys["aws:principalaccount"] = (principal.account,)
        if principal.type in _AWS_PRINCIPAL_TYPE:
            keys["aws:principaltype"] = (_AWS_PRINCIPAL_TYPE[principal.type],)
        if principal.type == "user" and principal.name:
            keys["aws:username"] = (principal.name,)
        if principal.type == "service":
            keys["aws:principalservicename"] = (principal.arn,)
        if principal.user_id:
            keys["aws:userid"] = (principal.user_id,)
        elif principal.type == "root":
            keys["aws:userid"] = (principal.account,)
        for tag, tag_value in principal.tags.items():
            keys[f"aws:principaltag/{tag.lower()}"] = (tag_value,)
        for key, value in self.conditions.items():
            keys[key.lower()] = context_value(value)
        return keys

    def lookup(self, key: str) -> tuple[str, ...] | None:
        return self.keys.get(key)
