"""Allow or refuse one API call: the operation's authorizations (``iam.authorization``)
evaluated (``iam.policy``) against the caller's identity-based policies and, where the
identity side alone does not decide, the resource's own policy.

- In the caller's account an Allow in its identity-based policies is enough (the account's
  admin needs none); otherwise a resource policy naming the caller lets it in.
- On another account's resource both must allow: the caller's identity side and the
  resource's policy (a function's AddPermission statements, a layer version's).
- Any explicit Deny wins. Refusals are AWS's AccessDenied, in AWS's words.

Resource policies are only read when the identity side has not already allowed the call in
the caller's own account: the policies this platform stores (AddPermission's) hold Allow
statements only, so reading them could not turn such an answer into a refusal.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from awsapi.errors import AWSError
from awsapi.validation import validate
from iam.access import resources
from iam.access.callers import Caller
from iam.authorization import (
    RESOURCE_TAG,
    Authorization,
    Scope,
    UnknownOperation,
    UnparsableResource,
    authorizations,
)
from iam.policy import Decision, Policy, Reason, RequestContext, evaluate
from iam.policy.context import ContextValue

# The error each service answers a refusal with (its botocore model's code).
_ERROR_CODES = {
    "lambda": "AccessDeniedException",
    "logs": "AccessDeniedException",
    "events": "AccessDeniedException",
    "monitoring": "AccessDenied",
    "iam": "AccessDenied",
    "sts": "AccessDenied",
}
# The IAM prefix of each service's actions (CloudWatch signs as "monitoring").
_PREFIXES = {"monitoring": "cloudwatch"}


def denied(service: str, message: str) -> AWSError:
    return AWSError(message, code=_ERROR_CODES.get(service, "AccessDeniedException"), status=403)


@dataclass(frozen=True)
class Grant:
    """What a call may act on besides its own account: the other account whose resource a
    resource policy opened to it (None when the call stays in the caller's account)."""

    foreign_account: str | None = None


OWN_ACCOUNT = Grant()


_clock: tuple[int, str, str] = (-1, "", "")  # (epoch second, CurrentTime, EpochTime)


def _time_keys(now: dt.datetime | None) -> tuple[str, str]:
    """aws:CurrentTime and aws:EpochTime; formatted once per second on the hot path."""
    global _clock
    if now is not None:
        return now.strftime("%Y-%m-%dT%H:%M:%SZ"), str(int(now.timestamp()))
    second = int(time.time())
    if _clock[0] != second:
        moment = dt.datetime.fromtimestamp(second, dt.UTC)
        _clock = (second, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), str(second))
    return _clock[1], _clock[2]


def request_conditions(
    source_ip: str, secure: bool, region: str, now: dt.datetime | None = None
) -> dict[str, ContextValue]:
    """The global condition keys every request carries."""
    current, epoch = _time_keys(now)
    return {
        "aws:CurrentTime": current,
        "aws:EpochTime": epoch,
        "aws:SourceIp": source_ip,
        "aws:SecureTransport": secure,
        "aws:RequestedRegion": region,
    }


def _skipped(auth: Authorization, caller: Caller) -> bool:
    if auth.action == "iam:PassRole" and auth.resources:
        # Only a role of the function's own account is ever assumed for it (as AWS
        # requires); naming another account's (LocalStack's 000000000000) passes nothing.
        return resources.account_of(auth.resources[0]) != caller.account
    return False


# Keys whose value changes from one call to the next whatever the request: a decision that
# may depend on them is never reused.
_TIME_KEYS = frozenset({"aws:CurrentTime", "aws:EpochTime"})


_mentioned: dict[tuple[int, tuple[str, ...]], tuple[tuple[Policy, ...], bool]] = {}


def mentions(policies: tuple[Policy, ...], *words: str) -> bool:
    """Whether any of the policies' text holds one of ``words`` (lower case), remembered
    for these very policy objects."""
    key = (id(policies), words)
    known = _mentioned.get(key)
    if known is not None and known[0] is policies:
        return known[1]
    found = any(word in policy.text.lower() for policy in policies for word in words)
    if len(_mentioned) > 10_000:
        _mentioned.clear()
    _mentioned[key] = (policies, found)
    return found


def _resource_conditions(
    caller: Caller, auth: Authorization, resource: str, *, load: bool
) -> dict[str, ContextValue] | None:
    """``aws:ResourceTag/<key>`` of the resource, when a policy of the caller's could ask;
    None when the action applies only to a tagged resource and this one has none."""
    wants_tags = RESOURCE_TAG in auth.resource_keys and mentions(caller.policies, "resourcetag")
    if not (wants_tags or auth.only_if_tagged):
        return {}
    tags = resources.tags.get(resource, load=load) or {}
    if auth.only_if_tagged and not tags:
        return None
    return {f"aws:ResourceTag/{key}": value for key, value in tags.items()} if wants_tags else {}


class _Decisions:
    """Identity-side allows, reused for the same caller, policies (the very objects: a
    reload makes new ones), action, resource and request keys. Policies that mention the
    time keys are evaluated every time."""

    def __init__(self) -> None:
        self._allowed: dict[tuple[Any, ...], tuple[tuple[Policy, ...], Decision]] = {}

    def _reusable(self, policies: tuple[Policy, ...]) -> bool:
        return not mentions(policies, "currenttime", "epochtime")

    def key(self, caller: Caller, context: RequestContext) -> tuple[Any, ...] | None:
        if not caller.policies or not self._reusable(caller.policies):
            return None
        request = tuple(
            sorted((k, v) for k, v in context.conditions.items() if k not in _TIME_KEYS)
        )
        principal = caller.principal
        return (
            id(caller.policies),
            principal.arn,
            principal.type,
            context.action,
            context.resource,
            request,
        )

    def get(self, key: tuple[Any, ...], policies: tuple[Policy, ...]) -> Decision | None:
        found = self._allowed.get(key)
        return found[1] if found is not None and found[0] is policies else None

    def put(self, key: tuple[Any, ...], policies: tuple[Policy, ...], decision: Decision) -> None:
        if len(self._allowed) > 10_000:
            self._allowed.clear()
        self._allowed[key] = (policies, decision)


_decisions = _Decisions()


def _decide(caller: Caller, context: RequestContext, owner: str, *, load: bool) -> Decision:
    same_account = owner == caller.account
    key = _decisions.key(caller, context) if same_account else None
    if key is not None:
        cached = _decisions.get(key, caller.policies)
        if cached is not None:
            return cached
    decision = evaluate(context, caller.policies, None, owner)
    if key is not None and decision.allowed:
        _decisions.put(key, caller.policies, decision)
    if decision.allowed and owner == caller.account:
        return decision
    if decision.reason is Reason.EXPLICIT_DENY_IDENTITY:
        return decision
    policy = resources.cache.get(context.resource, load=load)
    if policy is None:
        return decision
    return evaluate(context, caller.policies, policy, owner)


def check(
    caller: Caller,
    service: str,
    operation: str,
    params: Mapping[str, Any],
    scope: Scope,
    conditions: Mapping[str, ContextValue],
    *,
    load: bool = True,
) -> Grant:
    """Allow the call or raise AccessDenied. With ``load`` False nothing is read from the
    database: a resource policy not in the cache raises ``resources.NotCached``."""
    try:
        needed = authorizations(service, operation, params, scope)
    except UnparsableResource:
        return _unparsable(caller, service, operation, params)
    except UnknownOperation:
        # An operation the action map does not know (CloudTrail's LookupEvents): only the
        # account's root may call it.
        if caller.root:
            return OWN_ACCOUNT
        raise _no_identity_allow(caller, service, action_name(service, operation), None) from None
    foreign: str | None = None
    for auth in needed:
        if _skipped(auth, caller):
            continue
        for resource in auth.resources:
            owner = resources.account_of(resource) or caller.account
            if caller.root and owner == caller.account:
                continue
            from_resource = _resource_conditions(caller, auth, resource, load=load)
            if from_resource is None:
                continue  # lambda:ListTags within GetFunction: only for a tagged function
            context = RequestContext(
                caller.principal,
                auth.action,
                resource,
                {**conditions, **auth.conditions, **from_resource},
            )
            decision = _decide(caller, context, owner, load=load)
            if not decision.allowed:
                raise denied(service, decision.message(context))
            if owner != caller.account and not auth.dependent:
                foreign = owner
    return Grant(foreign)


# Operations whose IAM action is named otherwise than the operation.
_ACTION_NAMES = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}


def action_name(service: str, operation: str) -> str:
    """The IAM action an operation is mostly known by (``lambda:InvokeFunction`` for
    Invoke, ``cloudwatch:…`` for CloudWatch, which signs as "monitoring")."""
    return f"{_PREFIXES.get(service, service)}:{_ACTION_NAMES.get(operation, operation)}"


def _unparsable(caller: Caller, service: str, operation: str, params: Mapping[str, Any]) -> Grant:
    """A request naming no resource an ARN can be made of: the account's root is answered
    by the operation itself (a validation error or not-found); anyone else gets the
    model's validation error, or a refusal — never the operation run unchecked."""
    if caller.root:
        return OWN_ACCOUNT
    validate(service, operation, dict(params))
    raise _no_identity_allow(caller, service, action_name(service, operation), "*")


def _no_identity_allow(caller: Caller, service: str, action: str, resource: str | None) -> AWSError:
    """AWS's refusal; actions on no resource (LookupEvents) name none."""
    on = "" if resource is None else f" on resource: {resource}"
    return denied(
        service,
        f"User: {caller.principal.arn} is not authorized to perform: {action}{on} "
        f"because no identity-based policy allows the {action} action",
    )
