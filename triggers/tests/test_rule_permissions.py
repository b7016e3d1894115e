"""Whether a function's policy lets EventBridge invoke it for a rule, decided by IAM's
evaluation with the keys EventBridge supplies (aws:SourceArn = the rule's ARN,
aws:SourceAccount = its account): every operator and key, a Deny, several services, an action
wildcard. The first tests ask the rule itself; the last ones fire real rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from functions import resource_policies
from functions.models import Function, PolicyStatement
from functions.selectors import function_resolve
from functions.services import aliases, policies
from functions.services import functions as function_services
from iam.models import Account
from invocations.models import AsyncInvocation
from triggers.models import Rule, ScheduledFiring
from triggers.rules import function_triggers, scheduler, services
from triggers.rules.permissions import events_may_invoke
from triggers.tests.helpers import T0, add_target, allow_events, make_function, put_rule

ACCOUNT = "123456789012"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn"
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly-7"


def allow(condition: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "events",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FUNCTION,
    }
    if condition is not None:
        statement["Condition"] = condition
    return {**statement, **overrides}


def may_invoke(
    *statements: dict[str, Any], rule: str = RULE, account: str = ACCOUNT, function: str = FUNCTION
) -> bool:
    policy = resource_policies.statements_policy(list(statements), "function|fn")
    assert policy is not None or not statements, "the statements must parse"
    return events_may_invoke(policy, function_arn=function, rule_arn=rule, rule_account=account)


def test_no_policy_lets_eventbridge_in() -> None:
    assert not may_invoke()


def test_source_arn_with_string_like_and_a_single_character_wildcard() -> None:
    pattern = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly-?"
    assert may_invoke(allow({"StringLike": {"aws:SourceArn": pattern}}))
    assert not may_invoke(
        allow({"StringLike": {"aws:SourceArn": pattern}}),
        rule=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly-17",
    )


def test_arn_like_with_several_values_matches_any_of_them() -> None:
    several = {
        "ArnLike": {
            "AWS:SourceArn": [
                f"arn:aws:events:us-east-1:{ACCOUNT}:rule/hourly",
                f"arn:aws:events:*:{ACCOUNT}:rule/nightly-*",
            ]
        }
    }
    assert may_invoke(allow(several))
    assert not may_invoke(allow(several), rule=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/weekly")


def test_arn_equals_takes_wildcards_as_arn_like_does() -> None:
    pattern = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly-*"
    assert may_invoke(allow({"ArnEquals": {"aws:SourceArn": pattern}}))


def test_a_deny_for_the_rule_wins_over_an_allow_for_every_rule() -> None:
    deny = allow(
        {"ArnLike": {"aws:SourceArn": RULE}},
        Sid="not-nightly",
        Effect="Deny",
    )
    assert not may_invoke(allow(), deny)
    # The Deny names one rule: another one is still let in.
    assert may_invoke(allow(), deny, rule=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/hourly")


def test_source_account_with_string_equals_and_with_string_like() -> None:
    assert may_invoke(allow({"StringEquals": {"AWS:SourceAccount": ACCOUNT}}))
    assert not may_invoke(allow({"StringEquals": {"AWS:SourceAccount": "210987654321"}}))
    # StringEquals takes no wildcard; StringLike does.
    assert not may_invoke(allow({"StringEquals": {"aws:SourceAccount": "1234567890*"}}))
    assert may_invoke(allow({"StringLike": {"aws:SourceAccount": "1234567890??"}}))
    assert may_invoke(allow({"StringNotEquals": {"aws:SourceAccount": "210987654321"}}))


def test_source_arn_and_account_must_both_hold() -> None:
    both = {
        "ArnLike": {"AWS:SourceArn": RULE},
        "StringEquals": {"AWS:SourceAccount": "210987654321"},
    }
    assert not may_invoke(allow(both))


def test_a_principal_naming_several_services_or_everyone() -> None:
    services_ = {"Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]}
    assert may_invoke(allow(Principal=services_))
    assert may_invoke(allow(Principal="*"))
    assert not may_invoke(allow(Principal={"Service": "sns.amazonaws.com"}))
    # An account is no service.
    assert not may_invoke(allow(Principal={"AWS": ACCOUNT}))


def test_action_wildcards_and_not_action() -> None:
    assert may_invoke(allow(Action="lambda:Invoke*"))
    assert may_invoke(allow(Action=["lambda:GetFunction", "lambda:*"]))
    without = allow()
    del without["Action"]
    assert may_invoke({**without, "NotAction": "lambda:GetFunction"})
    assert not may_invoke(allow(Action="lambda:InvokeFunctionUrl"))


def test_a_statement_for_another_alias_does_not_apply_to_the_function() -> None:
    alias = allow(Resource=f"{FUNCTION}:live")
    assert not may_invoke(alias)
    assert may_invoke(alias, function=f"{FUNCTION}:live")


def test_conditions_on_keys_eventbridge_does_not_supply() -> None:
    token = {"StringEquals": {"lambda:EventSourceToken": "t"}}
    assert not may_invoke(allow(token))
    # ...unless the statement says "if it exists".
    assert may_invoke(allow({"StringEqualsIfExists": {"lambda:EventSourceToken": "t"}}))
    assert not may_invoke(allow({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    assert may_invoke(allow({"Null": {"aws:SourceArn": "false"}}))


# -- real rules ----------------------------------------------------------------------------


@pytest.fixture
def account(db: Any) -> Account:
    return Account.objects.create(id=ACCOUNT)


def store(account: Account, statement: dict[str, Any]) -> None:
    function = Function.objects.get(account=account, name="fn")
    PolicyStatement.objects.create(
        function=function, qualifier="", sid=statement["Sid"], statement=statement
    )


def test_a_deny_stored_in_the_function_s_policy_stops_the_rule(account: Account) -> None:
    make_function(account)
    allow_events(account)
    rule = put_rule(account, "nightly-7", "rate(1 minute)")
    add_target(account, "nightly-7")
    store(account, allow({"ArnLike": {"aws:SourceArn": RULE}}, Sid="no", Effect="Deny"))
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    firing = ScheduledFiring.objects.get(rule=rule)
    assert (firing.delivered, firing.failed) == (0, 1)
    assert not AsyncInvocation.objects.exists()


def test_a_string_like_statement_lets_a_real_rule_invoke(account: Account) -> None:
    make_function(account)
    pattern = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly-?"
    store(account, allow({"StringLike": {"aws:SourceArn": pattern}}))
    put_rule(account, "nightly-7", "rate(1 minute)")
    add_target(account, "nightly-7")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    assert AsyncInvocation.objects.count() == 1


def test_the_alias_a_target_names_is_the_policy_that_counts(account: Account) -> None:
    make_function(account)
    published = function_services.version_publish(
        resolved=function_resolve(account, "fn"), params={}
    )
    function = Function.objects.get(account=account, name="fn")
    aliases.alias_create(
        function=function, params={"Name": "live", "FunctionVersion": str(published.number)}
    )
    policies.permission_add(
        resolved=function_resolve(account, "fn", "live"),
        params={
            "StatementId": "events",
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
        },
    )
    put_rule(account, "nightly-7", "rate(1 minute)")
    add_target(account, "nightly-7", function="fn:live")
    put_rule(account, "plain", "rate(1 minute)")
    add_target(account, "plain")
    scheduler.schedules_fire(now=T0 + timedelta(minutes=1))
    assert [row.qualifier for row in AsyncInvocation.objects.all()] == ["live"]


def test_the_console_adds_no_statement_when_the_policy_already_lets_the_rule_in(
    account: Account,
) -> None:
    make_function(account)
    store(account, allow({"StringLike": {"aws:SourceAccount": "1234567890??"}}))
    function = Function.objects.get(account=account, name="fn")
    params = services.RuleInput(
        name="nightly-7",
        schedule_expression="rate(1 day)",
        event_pattern="",
        state=Rule.ENABLED,
        description="",
        role_arn="",
    )
    rule, changes = function_triggers.rule_trigger_add(function, params)
    assert changes == []
    assert rule.name == "nightly-7"
    assert PolicyStatement.objects.filter(function=function).count() == 1
