"""Allow or deny one request, as IAM's "Policy evaluation logic" describes it.

1. An explicit Deny in any policy that applies (identity-based or resource-based) wins.
2. In the resource's own account an Allow in either an identity-based policy or the resource's
   policy is enough, when the resource's policy names the caller (its ARN, its role, or
   ``*``); naming the account (``111122223333`` or its ``:root`` ARN) only delegates to the
   account's identity-based policies. The account's root user needs no identity-based policy.
3. Across accounts both must allow: the caller's identity side (its account's policies, or
   it being that account's root) and the resource's policy naming the caller.
4. A service principal (``events.amazonaws.com``) or an anonymous caller (a public function
   URL) has no identity side: only the resource's policy can let it in.
5. Otherwise the request is denied by default.

Permissions boundaries, session policies and organizations' SCPs/RCPs are not modelled: this
platform has none of them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from iam.policy.conditions import all_hold
from iam.policy.context import RequestContext
from iam.policy.document import Policy, Statement
from iam.policy.principals import DIRECT, NONE


class Reason(enum.Enum):
    IDENTITY_ALLOW = "allowed by an identity-based policy"
    RESOURCE_ALLOW = "allowed by a resource-based policy"
    ROOT = "the account's root user"
    EXPLICIT_DENY_IDENTITY = "with an explicit deny in an identity-based policy"
    EXPLICIT_DENY_RESOURCE = "with an explicit deny in a resource-based policy"
    NO_IDENTITY_ALLOW = "because no identity-based policy allows the {action} action"
    NO_RESOURCE_ALLOW = "because no resource-based policy allows the {action} action"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer and what decided it: the statement (and its policy) that allowed or
    explicitly denied, or none for a default deny."""

    allowed: bool
    reason: Reason
    policy: Policy | None = None
    statement: Statement | None = None

    @property
    def eval_decision(self) -> str:
        """The EvalDecision of ``iam simulate-principal-policy``."""
        if self.allowed:
            return "allowed"
        if self.statement is not None:
            return "explicitDeny"
        return "implicitDeny"

    def message(self, context: RequestContext) -> str:
        """AccessDeniedException's message, in AWS's words."""
        action = context.action
        because = self.reason.value.format(action=action)
        return (
            f"User: {context.principal.arn} is not authorized to perform: {action} "
            f"on resource: {context.resource} {because}"
        )


def statement_applies(statement: Statement, context: RequestContext, principal: bool) -> int:
    """Whether a statement speaks to this request (its Effect aside): ``NONE``, or how it
    names the caller (``DIRECT``; ``ACCOUNT`` when a resource policy names only its account).
    Identity-based statements (``principal`` False) name the caller directly."""
    action = context.action_lower
    if statement.action_set.match(action) == statement.not_action:
        return NONE
    if statement.resources is not None:
        resource = context.resource
        lookup = context.lookup
        matched = any(p.matches(resource, lookup) for p in statement.resources)
        if matched == statement.not_resource:
            return NONE
    level = DIRECT
    principals = statement.principals
    if principal and principals is not None:
        level = principals.grant(context.principal)
        if statement.not_principal:
            level = DIRECT if level == NONE else NONE
        if level == NONE:
            return NONE
    return level if all_hold(statement.conditions, context.lookup) else NONE


@dataclass(slots=True)
class _Found:
    allow: tuple[Policy, Statement] | None = None
    allow_level: int = NONE
    deny: tuple[Policy, Statement] | None = None


def _scan(policies: Iterable[Policy], context: RequestContext, principal: bool) -> _Found:
    found = _Found()
    for policy in policies:
        for statement in policy.statements:
            if statement.effect == "Allow" and found.allow_level == DIRECT:
                continue  # one Allow is enough; only a Deny can still change the answer
            level = statement_applies(statement, context, principal)
            if level == NONE:
                continue
            if statement.effect == "Deny":
                found.deny = (policy, statement)
                return found
            if level > found.allow_level:
                found.allow, found.allow_level = (policy, statement), level
    return found


def evaluate(
    context: RequestContext,
    identity_policies: Iterable[Policy] = (),
    resource_policy: Policy | None = None,
    resource_account: str | None = None,
) -> Decision:
    """Decide one request. ``identity_policies`` are the caller's (attached to the user, its
    groups, or the role of a session); ``resource_account`` is the account that owns the
    resource (None: the caller's own)."""
    principal = context.principal
    is_service = principal.type == "service" or principal.type == "anonymous"
    identity = _Found() if is_service else _scan(identity_policies, context, False)
    if identity.deny is not None:
        return Decision(False, Reason.EXPLICIT_DENY_IDENTITY, *identity.deny)
    resource = _Found() if resource_policy is None else _scan((resource_policy,), context, True)
    if resource.deny is not None:
        return Decision(False, Reason.EXPLICIT_DENY_RESOURCE, *resource.deny)
    same_account = resource_account is None or resource_account == principal.account
    root = principal.type == "root"
    if is_service:
        if resource.allow is not None:
            return Decision(True, Reason.RESOURCE_ALLOW, *resource.allow)
        return Decision(False, Reason.NO_RESOURCE_ALLOW)
    if identity.allow is None and not root:
        # In its own account a caller is let in by a resource policy naming it (or its
        # role); one naming only the account delegates to the identity-based policies.
        if same_account and resource.allow is not None and resource.allow_level == DIRECT:
            return Decision(True, Reason.RESOURCE_ALLOW, *resource.allow)
        return Decision(False, Reason.NO_IDENTITY_ALLOW)
    if same_account:
        if identity.allow is None:
            return Decision(True, Reason.ROOT)
        return Decision(True, Reason.IDENTITY_ALLOW, *identity.allow)
    if resource.allow is None:
        return Decision(False, Reason.NO_RESOURCE_ALLOW)
    return Decision(True, Reason.RESOURCE_ALLOW, *resource.allow)
