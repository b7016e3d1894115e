"""A function's EventBridge triggers, as AWS's Lambda console adds and removes them.

Adding a trigger there is three API calls: PutRule (a schedule or an event pattern),
PutTargets (the function), and AddPermission on the function allowing
``events.amazonaws.com`` to invoke it from the rule's ARN. Without the last one the rule
fires but is refused (:mod:`triggers.rules.permissions`). Here the three run in one
transaction through the same services as the API, so a bad expression or pattern is refused
in EventBridge's words and nothing is left half made.

Removing the trigger takes the function's targets off the rule and the statements that allow
exactly that rule; the rule itself goes only when no other target is left on it (it may
still invoke something else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from functions import arns, resource_policies
from functions import selectors as function_selectors
from functions.models import Function, PolicyStatement
from functions.services import policies
from triggers.models import Rule, Target
from triggers.rules import errors, permissions, selectors, services

# The statement id the console gives the permission it adds: at most 7 + 64 characters,
# within AddPermission's 100 ([A-Za-z0-9-_.], as rule names are).
SID_PREFIX = "events-"


@dataclass(frozen=True)
class PolicyChange:
    """One statement added to or removed from the function's policy."""

    sid: str
    action: str
    added: bool


def function_arn(function: Function) -> str:
    return arns.function_arn(function.account_id, function.name)


def _permission_params(rule: Rule) -> dict[str, Any]:
    return {
        "StatementId": f"{SID_PREFIX}{rule.name}",
        "Action": policies.INVOKE_ACTION,
        "Principal": permissions.SERVICE,
        "SourceArn": selectors.rule_arn(rule),
    }


def _statements(function: Function) -> Any:
    # The unqualified function's policy: the one the console's targets name.
    return PolicyStatement.objects.filter(function=function, qualifier="")


def rule_trigger_add(
    function: Function, params: services.RuleInput
) -> tuple[Rule, list[PolicyChange]]:
    """Create the rule, target the function with it, and allow EventBridge to invoke the
    function for it (unless its policy already does). A rule of that name that exists is
    refused: replacing it would change another trigger's schedule or pattern."""
    account = function.account
    with transaction.atomic():
        if Rule.objects.filter(
            account=account, event_bus_name=selectors.DEFAULT_BUS, name=params.name
        ).exists():
            raise errors.EventsError(
                f"Rule {params.name} already exists on EventBus default.",
                code="ResourceAlreadyExistsException",
            )
        rule = services.rule_put(account, params)
        arn = function_arn(function)
        failed = services.targets_put(account, rule.name, None, [{"Id": function.name, "Arn": arn}])
        if failed:
            raise errors.Validation(failed[0]["ErrorMessage"])
        changes: list[PolicyChange] = []
        # Read here, not from enforcement's cache: this transaction's own view of them.
        current = resource_policies.statements_policy(
            [row.statement for row in _statements(function)], f"function|{function.name}"
        )
        if not permissions.events_may_invoke(
            current, function_arn=arn, rule_arn=selectors.rule_arn(rule), rule_account=account.id
        ):
            resolved = function_selectors.function_resolve(account, function.name)
            permission = _permission_params(rule)
            policies.permission_add(resolved=resolved, params=permission)
            changes.append(PolicyChange(permission["StatementId"], permission["Action"], True))
    return rule, changes


def _grants_rule(statement: dict[str, Any], rule_arn: str) -> bool:
    """Whether a statement is the one the console adds for the rule (whatever its id):
    events.amazonaws.com may invoke on condition of exactly this rule's ARN."""
    principal = statement.get("Principal")
    return (
        isinstance(principal, dict)
        and principal.get("Service") == permissions.SERVICE
        and statement.get("Action") == policies.INVOKE_ACTION
        and statement.get("Condition") == {"ArnLike": {"AWS:SourceArn": rule_arn}}
    )


def rule_trigger_remove(function: Function, rule_name: str) -> list[PolicyChange]:
    """Take the function off the rule, with the statements allowing the rule to invoke it;
    delete the rule when nothing else is its target."""
    account = function.account
    arn = function_arn(function)
    with transaction.atomic():
        rule = selectors.rule_get_targeting(account, arn, rule_name)
        ids = [target.target_id for target in selectors.targets_of_function(rule, arn)]
        services.targets_remove(account, rule.name, None, ids)
        rule_arn = selectors.rule_arn(rule)
        resolved = function_selectors.function_resolve(account, function.name)
        changes: list[PolicyChange] = []
        for row in list(_statements(function).order_by("created")):
            if _grants_rule(row.statement, rule_arn):
                policies.permission_remove(resolved=resolved, sid=row.sid, revision_id=None)
                changes.append(PolicyChange(row.sid, policies.INVOKE_ACTION, False))
        # Not rule.targets: the selector prefetched them, before the removal.
        if not Target.objects.filter(rule=rule).exists():
            services.rule_delete(account, rule.name, None)
    return changes


def rule_trigger_set_state(function: Function, rule_name: str, enabled: bool) -> Rule:
    """EnableRule / DisableRule of one of the function's rules."""
    account = function.account
    rule = selectors.rule_get_targeting(account, function_arn(function), rule_name)
    state = Rule.ENABLED if enabled else Rule.DISABLED
    return services.rule_set_state(account, rule.name, None, state)
