"""Handing an event to a rule's targets: each Lambda target is invoked asynchronously, as
EventBridge invokes functions, through the Event invoke acceptance path, so the function's
retries, dead-letter queue and destinations apply to it as to any Event invoke.

A target is refused (counted as failed, logged, the others still invoked) when its
function is gone or its policy does not let ``events.amazonaws.com`` invoke it for this
rule (:mod:`triggers.rules.permissions`): AWS's invocation fails then too, visible only in
the rule's FailedInvocations metric.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from awsapi.errors import AWSError
from functions import arns
from functions.selectors import function_resolve, policy_statements
from invocations import acceptance
from invocations.selectors import invoke_target_resolve
from triggers import transform
from triggers.models import Rule, Target
from triggers.rules import permissions, selectors

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def event_time(moment: datetime) -> str:
    """EventBridge's ``time``: UTC, to the second (``2019-10-08T16:53:06Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refusal(rule: Rule, target: Target) -> tuple[str, str | None] | str:
    """(function name, qualifier) to invoke, or why the target cannot be."""
    ref = arns.parse_function_name(target.arn)
    if ref is None or ref.account_id not in (None, rule.account_id):
        return f"The target {target.arn} is not a function of account {rule.account_id}."
    try:
        resolved = function_resolve(rule.account, ref.name, ref.qualifier)
    except AWSError as error:
        return error.message
    allowed = permissions.events_may_invoke(
        policy_statements(resolved),
        source_arn=selectors.rule_arn(rule),
        source_account=rule.account_id,
    )
    if not allowed:
        return (
            f"{permissions.SERVICE} is not authorized to perform lambda:InvokeFunction on "
            f"{target.arn} for {selectors.rule_arn(rule)}: the function's resource-based "
            "policy has no statement allowing it."
        )
    return ref.name, ref.qualifier


def deliver(
    rule: Rule, event: dict[str, Any], *, ingestion_time: datetime, targets: list[Target]
) -> Outcome:
    outcome = Outcome()
    context = transform.Context(
        rule_arn=selectors.rule_arn(rule),
        rule_name=rule.name,
        ingestion_time=event_time(ingestion_time),
    )
    for target in targets:
        found = _refusal(rule, target)
        try:
            if isinstance(found, str):
                raise AWSError(found, code="AccessDeniedException")
            payload = transform.target_input(
                event,
                constant=target.input,
                input_path=target.input_path,
                transformer=target.input_transformer,
                context=context,
            )
            acceptance.check_event_payload(payload)
            invoke_target = invoke_target_resolve(rule.account, found[0], found[1])
            acceptance.async_invocation_create(
                invoke_target, request_id=str(uuid.uuid4()), payload=payload
            )
            outcome.delivered += 1
        except AWSError as error:
            outcome.failed += 1
            outcome.errors.append(f"{target.target_id}: {error.message}")
            logger.warning(
                "Rule %s (account %s): target %s not invoked: %s",
                rule.name,
                rule.account_id,
                target.target_id,
                error.message,
            )
    return outcome
