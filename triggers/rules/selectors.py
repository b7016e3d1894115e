"""Reads of an account's rules and targets: every lookup is scoped to the account."""

from __future__ import annotations

import base64
import binascii

from django.db.models import Q, QuerySet

from functions import arns
from iam.models import Account
from triggers.models import Rule, Target
from triggers.rules import errors

DEFAULT_BUS = "default"


def rule_arn(rule: Rule) -> str:
    return f"arn:aws:events:{arns.region()}:{rule.account_id}:rule/{rule.name}"


def bus_arn(account_id: str) -> str:
    return f"arn:aws:events:{arns.region()}:{account_id}:event-bus/{DEFAULT_BUS}"


def bus_name(account: Account, name: str | None) -> str:
    """The bus a call names: the default one, by name or ARN; others do not exist here."""
    if name is None or name in (DEFAULT_BUS, bus_arn(account.id)):
        return DEFAULT_BUS
    raise errors.bus_not_found(name.rsplit("/", 1)[-1])


def rule_get_for_account(account: Account, name: str, bus: str | None = None) -> Rule:
    bus_name(account, bus)
    rule = Rule.objects.filter(account=account, event_bus_name=DEFAULT_BUS, name=name).first()
    if rule is None:
        raise errors.rule_not_found(name)
    return rule


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.Validation("The NextToken provided is invalid.") from None


def _encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def rules_list(
    account: Account, *, prefix: str | None, limit: int | None, token: str | None
) -> tuple[list[Rule], str | None]:
    """ListRules: by name, ``limit`` (at most 100) a page, the token naming the last one."""
    rows: QuerySet[Rule] = Rule.objects.filter(account=account, event_bus_name=DEFAULT_BUS)
    if prefix:
        rows = rows.filter(name__startswith=prefix)
    if token:
        rows = rows.filter(name__gt=_decode_token(token))
    size = limit or 100
    page = list(rows.order_by("name")[: size + 1])
    if len(page) > size:
        return page[:size], _encode_token(page[size - 1].name)
    return page, None


def targets_list(
    rule: Rule, *, limit: int | None, token: str | None
) -> tuple[list[Target], str | None]:
    rows = rule.targets.order_by("target_id")
    if token:
        rows = rows.filter(target_id__gt=_decode_token(token))
    size = limit or 100
    page = list(rows[: size + 1])
    if len(page) > size:
        return page[:size], _encode_token(page[size - 1].target_id)
    return page, None


def rules_with_patterns(account: Account) -> list[Rule]:
    """The enabled rules PutEvents matches an account's events against, with targets."""
    return list(
        Rule.objects.filter(account=account, event_bus_name=DEFAULT_BUS)
        .exclude(event_pattern="")
        .exclude(state=Rule.DISABLED)
        .prefetch_related("targets")
    )


def _targets_of_function(account: Account, function_arn: str) -> QuerySet[Target]:
    """The account's targets that name the function, unqualified or with a qualifier."""
    return Target.objects.filter(rule__account=account).filter(
        Q(arn=function_arn) | Q(arn__startswith=f"{function_arn}:")
    )


def rules_targeting(account: Account, function_arn: str) -> list[Rule]:
    """The account's rules with a target that invokes the function (any qualifier), by
    name, each with its targets prefetched (the console's Triggers panel)."""
    return list(_rules_targeting(account, function_arn).order_by("name"))


def _rules_targeting(account: Account, function_arn: str) -> QuerySet[Rule]:
    ids = _targets_of_function(account, function_arn).values("rule_id")
    return Rule.objects.filter(account=account, pk__in=ids).prefetch_related("targets")


def rule_get_targeting(account: Account, function_arn: str, name: str) -> Rule:
    """The rule ``name`` if it targets the function; otherwise EventBridge's "does not
    exist" (a rule that does not invoke this function is not one of its triggers)."""
    rule = _rules_targeting(account, function_arn).filter(name=name).first()
    if rule is None:
        raise errors.rule_not_found(name)
    return rule


def targets_of_function(rule: Rule, function_arn: str) -> list[Target]:
    """The rule's targets that invoke the function (any qualifier)."""
    return [
        target
        for target in rule.targets.all()
        if target.arn == function_arn or target.arn.startswith(f"{function_arn}:")
    ]
