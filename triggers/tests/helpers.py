"""Rows for the rules tests: a function with real code, its events permission, rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from conftest import ROLE, make_zip
from functions.selectors import function_resolve
from functions.services import functions as function_services
from functions.services import policies
from iam.models import Account
from triggers.models import Rule
from triggers.rules import services

T0 = datetime(2027, 1, 1, 0, 0, 20, tzinfo=UTC)


def make_function(account: Account, name: str = "fn") -> None:
    function_services.function_create(
        account=account,
        name=name,
        params={
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": base64.b64encode(make_zip()).decode()},
        },
    )


def allow_events(account: Account, name: str = "fn", source_arn: str | None = None) -> None:
    params: dict[str, Any] = {
        "StatementId": "events",
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
    }
    if source_arn:
        params["SourceArn"] = source_arn
    policies.permission_add(resolved=function_resolve(account, name), params=params)


def put_rule(account: Account, name: str, expression: str, now: datetime = T0) -> Rule:
    return services.rule_put(
        account,
        services.RuleInput(
            name=name,
            schedule_expression=expression,
            event_pattern="",
            state=Rule.ENABLED,
            description="",
            role_arn="",
        ),
        now=now,
    )


def add_target(account: Account, rule: str, function: str = "fn", **extra: Any) -> None:
    arn = f"arn:aws:lambda:us-east-1:{account.id}:function:{function}"
    failed = services.targets_put(account, rule, None, [{"Id": "t1", "Arn": arn, **extra}])
    assert failed == []
