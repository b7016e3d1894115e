"""PutEvents, service level: entries become events in EventBridge's envelope, matched
against the account's enabled rules' patterns, delivered to their targets; bad entries
fail one by one with AWS's codes; hostile input costs little and never fails the server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from iam.models import Account
from invocations.models import AsyncInvocation
from triggers.models import Rule
from triggers.rules import errors, events, services
from triggers.tests.helpers import add_target, allow_events, make_function

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def account() -> Account:
    account = Account.objects.create(id="123456789012")
    make_function(account)
    allow_events(account)
    return account


def pattern_rule(account: Account, name: str, pattern: Any, state: str = Rule.ENABLED) -> Rule:
    return services.rule_put(
        account,
        services.RuleInput(
            name=name,
            schedule_expression="",
            event_pattern=json.dumps(pattern),
            state=state,
            description="",
            role_arn="",
        ),
    )


def entry(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "Source": "com.example.orders",
        "DetailType": "Order Placed",
        "Detail": json.dumps({"order": {"id": "o-1", "total": 42}, "state": "NEW"}),
        "Resources": ["arn:aws:s3:::bucket"],
    }
    value.update(overrides)
    return value


def delivered() -> list[Any]:
    return [json.loads(bytes(row.payload)) for row in AsyncInvocation.objects.order_by("pk")]


def test_a_matching_event_reaches_the_target_in_eventbridges_envelope(account: Account) -> None:
    pattern_rule(account, "orders", {"source": ["com.example.orders"]})
    add_target(account, "orders")
    (result,) = events.events_put(account, [entry()], now=NOW)
    (event,) = delivered()
    assert event == {
        "version": "0",
        "id": result["EventId"],
        "detail-type": "Order Placed",
        "source": "com.example.orders",
        "account": account.id,
        "time": "2027-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::bucket"],
        "detail": {"order": {"id": "o-1", "total": 42}, "state": "NEW"},
    }


def test_content_filters_decide_which_rules_match(account: Account) -> None:
    make_function(account, "big")
    allow_events(account, "big")
    pattern_rule(account, "big", {"detail": {"order": {"total": [{"numeric": [">", 100]}]}}})
    add_target(account, "big", function="big")
    pattern_rule(account, "new", {"detail-type": ["Order Placed"], "detail": {"state": ["NEW"]}})
    add_target(account, "new")
    events.events_put(
        account,
        [
            entry(),
            entry(Detail=json.dumps({"order": {"total": 500}, "state": "PAID"})),
        ],
        now=NOW,
    )
    rows = list(AsyncInvocation.objects.order_by("pk").values_list("function_name", flat=True))
    assert sorted(rows) == ["big", "fn"]


def test_a_disabled_rule_or_another_source_matches_nothing(account: Account) -> None:
    pattern_rule(account, "off", {"source": ["com.example.orders"]}, state=Rule.DISABLED)
    add_target(account, "off")
    pattern_rule(account, "other", {"source": ["com.example.other"]})
    add_target(account, "other")
    events.events_put(account, [entry()], now=NOW)
    assert delivered() == []


def test_an_input_transformer_shapes_what_the_target_gets(account: Account) -> None:
    pattern_rule(account, "t", {"source": ["com.example.orders"]})
    add_target(
        account,
        "t",
        InputTransformer={
            "InputPathsMap": {"id": "$.detail.order.id", "total": "$.detail.order.total"},
            "InputTemplate": '{"order": <id>, "line": "order <id> costs <total>", '
            '"rule": <aws.events.rule-name>}',
        },
    )
    events.events_put(account, [entry()], now=NOW)
    assert delivered() == [{"order": "o-1", "line": "order o-1 costs 42", "rule": "t"}]


def test_input_path_sends_part_of_the_event(account: Account) -> None:
    pattern_rule(account, "t", {"source": ["com.example.orders"]})
    add_target(account, "t", InputPath="$.detail.order")
    events.events_put(account, [entry()], now=NOW)
    assert delivered() == [{"id": "o-1", "total": 42}]


def test_bad_entries_fail_alone_with_aws_codes(account: Account) -> None:
    results = events.events_put(
        account,
        [
            entry(),
            entry(Source=None),
            entry(DetailType=""),
            entry(Detail=None),
            entry(Detail="not json"),
            entry(Detail="[1, 2]"),
            entry(Source="aws.ec2"),
            entry(EventBusName="custom"),
        ],
        now=NOW,
    )
    assert "EventId" in results[0]
    assert [r.get("ErrorCode") for r in results[1:]] == [
        "InvalidArgument",
        "InvalidArgument",
        "InvalidArgument",
        "MalformedDetail",
        "MalformedDetail",
        "NotAuthorizedForSourceException",
        "ResourceNotFoundException",
    ]
    assert results[1]["ErrorMessage"] == (
        "Parameter Source is not valid. Reason: Source is a required argument."
    )
    assert results[4]["ErrorMessage"] == "Detail is malformed."


def test_a_deeply_nested_detail_is_a_malformed_entry_not_a_crash(account: Account) -> None:
    pattern_rule(account, "any", {"source": ["com.example.orders"]})
    add_target(account, "any")
    deep = "[" * 100_000 + "]" * 100_000
    (result,) = events.events_put(account, [entry(Detail='{"a": ' + deep + "}")], now=NOW)
    assert result["ErrorCode"] == "MalformedDetail"
    assert delivered() == []


def test_entries_over_256_kb_in_total_are_refused_whole(account: Account) -> None:
    big = json.dumps({"x": "y" * 60_000})
    with pytest.raises(errors.Validation):
        events.events_put(account, [entry(Detail=big) for _ in range(5)], now=NOW)


def test_many_rules_and_a_full_batch_deliver_to_every_match(account: Account) -> None:
    for n in range(50):
        pattern_rule(account, f"r{n}", {"source": ["com.example.orders"]})
    for n in range(5):
        add_target(account, f"r{n}")
    results = events.events_put(account, [entry() for _ in range(10)], now=NOW)
    assert all("EventId" in r for r in results)
    assert AsyncInvocation.objects.count() == 10 * 5


def test_a_rule_takes_at_most_five_targets(account: Account) -> None:
    pattern_rule(account, "r", {"source": ["x"]})
    arn = f"arn:aws:lambda:us-east-1:{account.id}:function:fn"
    targets = [{"Id": f"t{n}", "Arn": arn} for n in range(6)]
    with pytest.raises(errors.LimitExceeded):
        services.targets_put(account, "r", None, targets)


def test_deleting_a_rule_with_targets_is_refused_until_they_are_removed(account: Account) -> None:
    pattern_rule(account, "r", {"source": ["x"]})
    add_target(account, "r")
    with pytest.raises(errors.Validation) as refused:
        services.rule_delete(account, "r", None)
    assert refused.value.message == "Rule can't be deleted since it has targets."
    services.targets_remove(account, "r", None, ["t1"])
    services.rule_delete(account, "r", None)
    assert not Rule.objects.filter(account=account).exists()


def test_an_invalid_pattern_is_refused_at_put_rule(account: Account) -> None:
    with pytest.raises(errors.InvalidEventPattern):
        pattern_rule(account, "bad", {"source": "not-a-list"})
    with pytest.raises(errors.InvalidEventPattern):
        pattern_rule(account, "deep", json.loads("{" + '"a": {' * 200 + '"b": [1]' + "}" * 201))


def test_non_lambda_targets_fail_alone(account: Account) -> None:
    pattern_rule(account, "r", {"source": ["x"]})
    failed = services.targets_put(
        account,
        "r",
        None,
        [
            {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:queue"},
            {"Id": "f", "Arn": f"arn:aws:lambda:us-east-1:{account.id}:function:fn"},
            {"Id": "x", "Arn": "arn:aws:lambda:us-east-1:999999999999:function:fn"},
        ],
    )
    assert [f["TargetId"] for f in failed] == ["q", "x"]
    assert list(Rule.objects.get(name="r").targets.values_list("target_id", flat=True)) == ["f"]


def test_input_and_input_path_together_are_refused(account: Account) -> None:
    pattern_rule(account, "r", {"source": ["x"]})
    arn = f"arn:aws:lambda:us-east-1:{account.id}:function:fn"
    with pytest.raises(errors.Validation, match="Only one of Input, InputPath"):
        services.targets_put(
            account, "r", None, [{"Id": "t", "Arn": arn, "Input": "{}", "InputPath": "$"}]
        )


def test_test_event_pattern_answers_whether_an_event_matches() -> None:
    event = json.dumps({"source": "shop", "detail": {"total": 250}})
    assert events.pattern_test(json.dumps({"detail": {"total": [{"numeric": [">", 100]}]}}), event)
    assert not events.pattern_test(json.dumps({"source": ["other"]}), event)
    with pytest.raises(errors.InvalidEventPattern):
        events.pattern_test('{"source": "shop"}', event)
    with pytest.raises(errors.Validation):
        events.pattern_test('{"source": ["shop"]}', "[1]")
