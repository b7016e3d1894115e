"""Handing an event to a rule's targets: each Lambda target is invoked asynchronously, as
EventBridge invokes functions, through the Event invoke acceptance path, so the function's
retries, dead-letter queue and destinations apply to it as to any Event invoke.

A target's ``RetryPolicy`` and ``DeadLetterConfig`` govern the *delivery* (handing the
event to Lambda), not the function's own errors, as on AWS:

- a delivery that fails for a reason no retry can mend goes to the target's dead-letter
  queue at once, with no retry (the function is gone, its policy does not let
  ``events.amazonaws.com`` invoke it for this rule (:mod:`triggers.rules.permissions`), the
  input is too large);
- one that may succeed later (the function is throttled: its reserved concurrency is 0) is
  retried with exponential back-off and jitter (a Celery task per retry, see
  :mod:`triggers.rules.taskqueue`) until ``MaximumRetryAttempts`` retries were made or
  ``MaximumEventAgeInSeconds`` passed since the event came in (AWS's defaults: 185 and 24
  hours), and then goes to the dead-letter queue;
- without a dead-letter queue, a failed event is dropped. Either way it counts as one of
  the rule's ``FailedInvocations``.

The dead-letter message is the event, with AWS's attributes ``RULE_ARN``, ``TARGET_ARN``,
``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION`` and ``RETRY_ATTEMPTS``.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from awsapi.errors import AWSError
from functions import arns
from functions.selectors import function_resolve, policy_qualifier
from iam.access import resources
from invocations import acceptance, destinations
from invocations.selectors import invoke_target_resolve
from triggers import transform
from triggers.models import Rule, Target
from triggers.rules import metrics, permissions, selectors, taskqueue

logger = logging.getLogger(__name__)

# AWS's defaults when a target has no RetryPolicy.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_S = 86_400
# Back-off between retries: doubling from the first, capped, with full jitter above half.
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0
# Retries one account may schedule a minute (per cache: shared with Redis, else per process):
# a tenant throttling its own functions can't flood the broker with retries; beyond it a
# failed delivery is given up at once.
MAX_RETRIES_PER_MINUTE = 1000
# EventBridge's error codes in a dead-letter message's ERROR_CODE.
NO_PERMISSIONS = "NO_PERMISSIONS"
NO_RESOURCE = "NO_RESOURCE"
THROTTLING = "THROTTLING"
INVALID_PARAMETER = "INVALID_PARAMETER"
# ERROR_MESSAGE is cut to this many characters (SQS takes 256 KB in all; keep it small).
ERROR_MESSAGE_CHARS = 1024


@dataclass
class Outcome:
    delivered: int = 0
    failed: int = 0  # failed for good (sent to the dead-letter queue, or dropped)
    retrying: int = 0
    errors: list[str] = field(default_factory=list)


class DeliveryFailure(Exception):
    """Why a target did not get the event: an EventBridge error code, and whether a retry
    may succeed."""

    def __init__(self, code: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retriable = retriable


@dataclass(frozen=True)
class RetryPolicy:
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_s: int = DEFAULT_MAXIMUM_EVENT_AGE_S


def retry_policy(target: Target) -> RetryPolicy:
    """The target's RetryPolicy as PutTargets stored it (validated there), else AWS's."""
    given = (target.spec or {}).get("RetryPolicy") or {}
    attempts = given.get("MaximumRetryAttempts")
    age = given.get("MaximumEventAgeInSeconds")
    return RetryPolicy(
        maximum_retry_attempts=attempts
        if isinstance(attempts, int)
        else DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
        maximum_event_age_s=age if isinstance(age, int) else DEFAULT_MAXIMUM_EVENT_AGE_S,
    )


def dead_letter_arn(target: Target) -> str:
    arn = ((target.spec or {}).get("DeadLetterConfig") or {}).get("Arn")
    return arn if isinstance(arn, str) else ""


def event_time(moment: datetime) -> str:
    """EventBridge's ``time``: UTC, to the second (``2019-10-08T16:53:06Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resolve(rule: Rule, target: Target) -> tuple[str, str | None]:
    """(function name, qualifier) to invoke; DeliveryFailure when the target can't be."""
    ref = arns.parse_function_name(target.arn)
    if ref is None or ref.account_id not in (None, rule.account_id):
        raise DeliveryFailure(
            NO_PERMISSIONS,
            f"The target {target.arn} is not a function of account {rule.account_id}.",
        )
    try:
        resolved = function_resolve(rule.account, ref.name, ref.qualifier)
    except AWSError as error:
        raise DeliveryFailure(NO_RESOURCE, error.message) from None
    # The policy of what the target names ($LATEST's is the unqualified function's), as
    # enforcement caches it: parsed once, not read per event.
    function_arn = arns.function_arn(rule.account_id, ref.name, policy_qualifier(resolved) or None)
    allowed = permissions.events_may_invoke(
        resources.cache.get(function_arn, load=True),
        function_arn=function_arn,
        rule_arn=selectors.rule_arn(rule),
        rule_account=rule.account_id,
    )
    if not allowed:
        raise DeliveryFailure(
            NO_PERMISSIONS,
            f"{permissions.SERVICE} is not authorized to perform lambda:InvokeFunction on "
            f"{target.arn} for {selectors.rule_arn(rule)}: the function's resource-based "
            "policy has no statement allowing it.",
        )
    return ref.name, ref.qualifier


def _invoke(rule: Rule, target: Target, event: dict[str, Any], context: transform.Context) -> None:
    """One delivery attempt: the function accepts the event, or DeliveryFailure."""
    name, qualifier = _resolve(rule, target)
    try:
        payload = transform.target_input(
            event,
            constant=target.input,
            input_path=target.input_path,
            transformer=target.input_transformer,
            context=context,
        )
        acceptance.check_event_payload(payload)
        invoke_target = invoke_target_resolve(rule.account, name, qualifier)
    except AWSError as error:
        code = NO_RESOURCE if error.code == "ResourceNotFoundException" else INVALID_PARAMETER
        raise DeliveryFailure(code, error.message) from None
    if invoke_target.reserved_concurrency == 0:
        # Every invocation of the function is throttled: a retry succeeds once the
        # reservation is raised or removed.
        raise DeliveryFailure(THROTTLING, "Rate Exceeded.", retriable=True)
    acceptance.async_invocation_create(invoke_target, request_id=str(uuid.uuid4()), payload=payload)


def _context(rule: Rule, ingestion_time: datetime) -> transform.Context:
    return transform.Context(
        rule_arn=selectors.rule_arn(rule),
        rule_name=rule.name,
        ingestion_time=event_time(ingestion_time),
    )


def backoff_s(retries_made: int, draw: float | None = None) -> float:
    """How long to wait before retry number ``retries_made + 1``."""
    ceiling = min(FIRST_RETRY_S * 2**retries_made, MAX_RETRY_S)
    return ceiling * (0.5 + 0.5 * (random.random() if draw is None else draw))


def _attempt(
    rule: Rule,
    target: Target,
    event: dict[str, Any],
    *,
    ingestion_time: datetime,
    retries_made: int,
    now: datetime,
    outcome: Outcome,
) -> None:
    """Deliver to one target; on failure, retry later or give up, as the policy says."""
    try:
        _invoke(rule, target, event, _context(rule, ingestion_time))
    except DeliveryFailure as failure:
        outcome.errors.append(f"{target.target_id}: {failure.message}")
        policy = retry_policy(target)
        if failure.retriable:
            wait = backoff_s(retries_made)
            age = (now - ingestion_time).total_seconds() + wait
            if retries_made >= policy.maximum_retry_attempts:
                exhausted = "MaximumRetryAttempts"
            elif age > policy.maximum_event_age_s:
                exhausted = "MaximumEventAgeInSeconds"
            elif not _retry_budget_left(rule.account_id, now):
                logger.warning("Account %s: too many rule retries this minute", rule.account_id)
                exhausted = ""
            else:
                outcome.retrying += 1
                _retry_later(rule, target, event, ingestion_time, retries_made + 1, wait)
                return
        else:
            exhausted = ""
        outcome.failed += 1
        _give_up(rule, target, event, failure, exhausted=exhausted, retries_made=retries_made)
        return
    outcome.delivered += 1
    metrics.count(rule, Invocations=1)


def _retry_budget_left(account_id: str, now: datetime) -> bool:
    key = f"rules:retries:{account_id}:{int(now.timestamp()) // 60}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        return True
    return int(used) <= MAX_RETRIES_PER_MINUTE


def _retry_later(
    rule: Rule,
    target: Target,
    event: dict[str, Any],
    ingestion_time: datetime,
    retry: int,
    wait: float,
) -> None:
    payload = {
        "rule": rule.pk,
        "target": target.target_id,
        "event": event,
        "ingestion_time": ingestion_time.isoformat(),
        "retry": retry,
    }
    logger.info(
        "Rule %s (account %s): target %s throttled, retry %d in %.1f s",
        rule.name,
        rule.account_id,
        target.target_id,
        retry,
        wait,
    )
    transaction.on_commit(lambda: taskqueue.enqueue_target_retry(payload, wait))


def _give_up(
    rule: Rule,
    target: Target,
    event: dict[str, Any],
    failure: DeliveryFailure,
    *,
    exhausted: str,
    retries_made: int,
) -> None:
    metrics.count(rule, Invocations=1, FailedInvocations=1)
    queue = dead_letter_arn(target)
    logger.warning(
        "Rule %s (account %s): target %s not invoked (%s: %s)%s",
        rule.name,
        rule.account_id,
        target.target_id,
        failure.code,
        failure.message,
        f"; sent to {queue}" if queue else "; dropped",
    )
    if not queue:
        return
    attributes = {
        "RULE_ARN": selectors.rule_arn(rule),
        "TARGET_ARN": target.arn,
        "ERROR_CODE": failure.code,
        "ERROR_MESSAGE": failure.message[:ERROR_MESSAGE_CHARS],
    }
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
    attributes["RETRY_ATTEMPTS"] = str(retries_made)
    message = {
        "rule": rule.pk,
        "queue": queue,
        "body": json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        "attributes": attributes,
    }
    transaction.on_commit(lambda: taskqueue.enqueue_dead_letter(message))


def deliver(
    rule: Rule,
    event: dict[str, Any],
    *,
    ingestion_time: datetime,
    targets: list[Target],
    now: datetime | None = None,
) -> Outcome:
    """The first delivery of an event the rule matched (or fired) to each of its targets."""
    outcome = Outcome()
    now = now or ingestion_time
    metrics.event_matched(rule)
    for target in targets:
        _attempt(
            rule,
            target,
            event,
            ingestion_time=ingestion_time,
            retries_made=0,
            now=now,
            outcome=outcome,
        )
    return outcome


def retry(payload: dict[str, Any], *, now: datetime | None = None) -> Outcome:
    """A retry a worker runs (:func:`_retry_later`'s payload). A rule or target removed
    meanwhile ends it quietly, as removing a target ends its deliveries on AWS."""
    outcome = Outcome()
    now = now or timezone.now()
    with transaction.atomic():
        rule = Rule.objects.select_related("account").filter(pk=payload["rule"]).first()
        target = rule.targets.filter(target_id=payload["target"]).first() if rule else None
        if rule is None or target is None:
            return outcome
        metrics.count(rule, RetryInvocationAttempts=1)
        _attempt(
            rule,
            target,
            payload["event"],
            ingestion_time=datetime.fromisoformat(payload["ingestion_time"]),
            retries_made=int(payload["retry"]),
            now=now,
            outcome=outcome,
        )
    return outcome


def dead_letter_send(message: dict[str, Any]) -> bool:
    """Send a failed event to its target's dead-letter queue (a worker runs this); counted
    as the rule's InvocationsSentToDlq, or InvocationsFailedToBeSentToDlq."""
    attributes = {
        name: {"DataType": "String", "StringValue": value}
        for name, value in message["attributes"].items()
    }
    rule = Rule.objects.filter(pk=message["rule"]).first()
    try:
        destinations.sqs_message_send(message["queue"], message["body"], attributes)
    except destinations.DeliveryError as error:
        logger.warning("Dead-letter queue %s refused an event: %s", message["queue"], error)
        if rule is not None:
            metrics.count(rule, InvocationsFailedToBeSentToDlq=1)
        return False
    if rule is not None:
        metrics.count(rule, InvocationsSentToDlq=1)
    return True
