"""Writes of rules and targets: PutRule, Enable/Disable/DeleteRule, Put/RemoveTargets.

Each public function runs in one transaction. A scheduled rule's ``next_fire_at`` is set
here whenever its schedule or state changes, and advanced by :mod:`triggers.rules.scheduler`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from awsapi import strictjson
from functions import arns
from iam.models import Account
from triggers import patterns, schedules, transform
from triggers.models import Rule, Target
from triggers.rules import errors, selectors

# EventBridge's quotas: rules per event bus, targets per rule.
MAX_RULES = 300
MAX_TARGETS = 5
LIMIT_MESSAGE = "The requested resource exceeds the maximum number allowed."
# A dead-letter queue is a standard SQS queue: arn:aws:sqs:<region>:<account>:<name>.
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$")


def check_pattern(text: str) -> None:
    try:
        patterns.compile_pattern(text)
    except patterns.PatternError as error:
        raise errors.InvalidEventPattern(f"Event pattern is not valid. Reason: {error}") from None


def _enabled(rule: Rule) -> bool:
    return rule.state != Rule.DISABLED


def schedule_of(rule: Rule) -> schedules.Schedule | None:
    if not rule.schedule_expression:
        return None
    return schedules.parse(rule.schedule_expression, anchor=rule.schedule_anchor)


def _plan_next(rule: Rule, now: datetime) -> None:
    """The next firing a (re-)enabled or changed rule owes: none missed while it was off."""
    schedule = schedule_of(rule)
    rule.next_fire_at = (
        schedule.next_after(now) if schedule is not None and _enabled(rule) else None
    )


@dataclass(frozen=True)
class RuleInput:
    name: str
    schedule_expression: str
    event_pattern: str
    state: str
    description: str
    role_arn: str


def rule_put(account: Account, params: RuleInput, *, now: datetime | None = None) -> Rule:
    """PutRule: create the rule, or replace every member of an existing one (omitted
    members are not kept, as AWS documents); its targets stay."""
    now = now or timezone.now()
    if not params.schedule_expression and not params.event_pattern:
        raise errors.Validation(
            "Parameter(s) EventPattern or ScheduleExpression must be specified."
        )
    if params.schedule_expression:
        try:
            schedules.parse(params.schedule_expression, anchor=now)
        except schedules.ScheduleError as error:
            raise errors.Validation(str(error)) from None
    if params.event_pattern:
        check_pattern(params.event_pattern)
    with transaction.atomic():
        rule = (
            Rule.objects.select_for_update()
            .filter(account=account, event_bus_name=selectors.DEFAULT_BUS, name=params.name)
            .first()
        )
        if rule is None:
            count = Rule.objects.filter(account=account).count()
            if count >= MAX_RULES:
                raise errors.LimitExceeded(LIMIT_MESSAGE)
            rule = Rule(account=account, name=params.name)
        schedule_changed = rule.schedule_expression != params.schedule_expression
        was_enabled = rule.pk is not None and _enabled(rule)
        rule.schedule_expression = params.schedule_expression
        rule.event_pattern = params.event_pattern
        rule.state = params.state
        rule.description = params.description
        rule.role_arn = params.role_arn
        if schedule_changed:
            # "A rate expression starts when you create the scheduled event rule."
            rule.schedule_anchor = now if params.schedule_expression else None
        if schedule_changed or not was_enabled or not _enabled(rule):
            _plan_next(rule, now)
        try:
            with transaction.atomic():
                rule.save()
        except IntegrityError:
            # Another call created it meanwhile: the later PutRule wins, as on AWS.
            raise errors.EventsError(
                "Another operation changed this rule; try again.",
                code="ConcurrentModificationException",
            ) from None
    return rule


def rule_set_state(
    account: Account, name: str, bus: str | None, state: str, *, now: datetime | None = None
) -> Rule:
    """EnableRule / DisableRule. Enabling a schedule owes no firing missed while disabled."""
    with transaction.atomic():
        rule = selectors.rule_get_for_account(account, name, bus)
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        if rule.state != state:
            rule.state = state
            _plan_next(rule, now or timezone.now())
            rule.save(update_fields=["state", "next_fire_at"])
    return rule


def rule_delete(account: Account, name: str, bus: str | None) -> None:
    """DeleteRule: refused while the rule has targets; a rule that does not exist is no
    error, as on AWS."""
    selectors.bus_name(account, bus)
    with transaction.atomic():
        rule = (
            Rule.objects.select_for_update()
            .filter(account=account, event_bus_name=selectors.DEFAULT_BUS, name=name)
            .first()
        )
        if rule is None:
            return
        if rule.targets.exists():
            raise errors.Validation("Rule can't be deleted since it has targets.")
        rule.delete()


# -- targets --------------------------------------------------------------------------------


def _check_target(spec: dict[str, Any]) -> None:
    """What makes the whole PutTargets call fail (a ValidationException)."""
    given = [key for key in ("Input", "InputPath", "InputTransformer") if spec.get(key)]
    if len(given) > 1:
        raise errors.Validation(
            "Only one of Input, InputPath, or InputTransformer must be provided for "
            f"target {spec['Id']}."
        )
    dead_letter = (spec.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter is not None and not _SQS_ARN.match(dead_letter):
        raise errors.Validation(
            f"Parameter DeadLetterConfig.Arn is not valid for target {spec['Id']}: "
            "it must be the ARN of an SQS queue."
        )
    try:
        if spec.get("Input"):
            strictjson.loads(spec["Input"])
        if spec.get("InputPath"):
            transform.check_path(spec["InputPath"])
        if spec.get("InputTransformer"):
            transformer = spec["InputTransformer"]
            transform.check_transformer(
                dict(transformer.get("InputPathsMap") or {}), transformer["InputTemplate"]
            )
    except strictjson.JSONError:
        raise errors.Validation(f"Target {spec['Id']} Input is not valid JSON text.") from None
    except transform.TransformError as error:
        raise errors.Validation(str(error)) from None


def _target_refusal(account: Account, arn: str) -> str | None:
    """Why a target is put in FailedEntries: only Lambda functions of the account here."""
    ref = arns.parse_function_name(arn) if arn.startswith("arn:") else None
    if ref is None or arn.split(":")[2:3] != ["lambda"]:
        return f"Only AWS Lambda function targets are supported on this server: {arn}"
    if ref.account_id != account.id:
        return f"The function {arn} is not in account {account.id}."
    return None


def targets_put(
    account: Account, rule_name: str, bus: str | None, specs: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """PutTargets; returns the FailedEntries."""
    for spec in specs:
        _check_target(spec)
    ids = [spec["Id"] for spec in specs]
    if len(set(ids)) != len(ids):
        raise errors.Validation("The same target Id is given more than once.")
    failed: list[dict[str, str]] = []
    with transaction.atomic():
        rule = selectors.rule_get_for_account(account, rule_name, bus)
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        existing = {target.target_id: target for target in rule.targets.all()}
        accepted = []
        for spec in specs:
            refusal = _target_refusal(account, spec["Arn"])
            if refusal is not None:
                failed.append(
                    {
                        "TargetId": spec["Id"],
                        "ErrorCode": "ValidationException",
                        "ErrorMessage": refusal,
                    }
                )
                continue
            accepted.append(spec)
        if len(set(existing) | {spec["Id"] for spec in accepted}) > MAX_TARGETS:
            raise errors.LimitExceeded(LIMIT_MESSAGE)
        for spec in accepted:
            target = existing.get(spec["Id"]) or Target(rule=rule, target_id=spec["Id"])
            target.arn = spec["Arn"]
            target.input = spec.get("Input") or ""
            target.input_path = spec.get("InputPath") or ""
            target.input_transformer = spec.get("InputTransformer") or {}
            target.spec = json.loads(json.dumps(spec))
            target.save()
    return failed


def targets_remove(
    account: Account, rule_name: str, bus: str | None, ids: list[str]
) -> list[dict[str, str]]:
    """RemoveTargets; Ids the rule does not have are no failure."""
    with transaction.atomic():
        rule = selectors.rule_get_for_account(account, rule_name, bus)
        rule.targets.filter(target_id__in=ids).delete()
    return []
