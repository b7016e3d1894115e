"""What a rule's target receives: Input, InputPath and InputTransformer as EventBridge
substitutes them (the examples of AWS's "input transformation" guide)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from triggers import transform

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "tags": ["a", "b"], "n": 3},
}
CONTEXT = transform.Context(
    rule_arn="arn:aws:events:us-east-1:123456789012:rule/r",
    rule_name="r",
    ingestion_time="2015-11-11T21:29:55Z",
)
PATHS = {"instance": "$.detail.instance-id", "state": "$.detail.state"}


def render(template: str, paths: dict[str, str] | None = None) -> str:
    return transform.render_template(template, paths or PATHS, EVENT, CONTEXT)


def test_without_input_settings_the_target_gets_the_whole_event() -> None:
    payload = transform.target_input(
        EVENT, constant="", input_path="", transformer={}, context=CONTEXT
    )
    assert json.loads(payload) == EVENT


def test_constant_input_is_passed_as_given() -> None:
    payload = transform.target_input(
        EVENT, constant='{"fixed": true}', input_path="", transformer={}, context=CONTEXT
    )
    assert payload == b'{"fixed": true}'


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", EVENT),
        ("$.detail", EVENT["detail"]),
        ("$.detail.state", "RUNNING"),
        ("$.resources[0]", EVENT["resources"][0]),
        ("$.detail.tags[1]", "b"),
        ("$.detail.missing", None),
        ("$.detail.tags[9]", None),
        ("$.detail.tags[*]", ["a", "b"]),
        ("$.resources.*", EVENT["resources"]),
    ],
)
def test_input_path_sends_the_named_part(path: str, expected: Any) -> None:
    transform.check_path(path)
    payload = transform.target_input(
        EVENT, constant="", input_path=path, transformer={}, context=CONTEXT
    )
    assert json.loads(payload) == expected


def test_text_template_inserts_strings_as_they_are() -> None:
    assert render("<instance> is in state <state>") == "i-0123456789 is in state RUNNING"


def test_quoted_template_is_a_json_string() -> None:
    assert render('"<instance> is in state <state>"') == '"i-0123456789 is in state RUNNING"'


def test_escaped_quotes_inside_a_json_string_stay_escaped() -> None:
    out = render('"<instance> is in state \\"<state>\\""')
    assert json.loads(out) == 'i-0123456789 is in state "RUNNING"'


def test_json_template_quotes_strings_placed_outside_quotes() -> None:
    out = render('{"instance": <instance>, "state": <state>}')
    assert json.loads(out) == {"instance": "i-0123456789", "state": "RUNNING"}


def test_json_template_mixing_both_forms() -> None:
    out = render('{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<state>\\""}')
    assert json.loads(out) == {
        "myInstance": "i-0123456789",
        "myStatus": 'i-0123456789 is in state "RUNNING"',
    }


def test_non_string_values_keep_their_json_type_outside_quotes() -> None:
    out = render('{"n": <n>, "tags": <tags>}', {"n": "$.detail.n", "tags": "$.detail.tags"})
    assert json.loads(out) == {"n": 3, "tags": ["a", "b"]}


def test_a_value_with_quotes_inside_a_string_is_escaped_not_broken() -> None:
    event = dict(EVENT, detail={"msg": 'say "hi" \\ bye'})
    out = transform.render_template('{"m": "msg: <m>"}', {"m": "$.detail.msg"}, event, CONTEXT)
    assert json.loads(out) == {"m": 'msg: say "hi" \\ bye'}


def test_a_missing_path_is_null_outside_quotes_and_empty_inside() -> None:
    out = render('{"a": <gone>, "b": "x<gone>y"}', {"gone": "$.detail.nothing"})
    assert json.loads(out) == {"a": None, "b": "xy"}


def test_predefined_variables() -> None:
    out = render(
        '{"arn": <aws.events.rule-arn>, "name": "<aws.events.rule-name>", '
        '"at": <aws.events.event.ingestion-time>, "event": <aws.events.event>, '
        '"whole": <aws.events.event.json>}',
        {},
    )
    parsed = json.loads(out)
    assert parsed["arn"] == CONTEXT.rule_arn
    assert parsed["name"] == "r"
    assert parsed["at"] == CONTEXT.ingestion_time
    assert "detail" not in parsed["event"] and parsed["event"]["id"] == EVENT["id"]
    assert parsed["whole"] == EVENT


def test_unknown_placeholders_are_left_alone() -> None:
    assert render("a <b> c", {}) == "a <b> c"


@pytest.mark.parametrize(
    "path", ["detail", "$..detail", "$.detail[?]", "$['detail']", "$.a b", "$.detail[-1]"]
)
def test_paths_outside_the_documented_subset_are_refused(path: str) -> None:
    with pytest.raises(transform.TransformError):
        transform.check_path(path)


def test_reserved_variable_names_and_placeholder_keys_are_refused() -> None:
    with pytest.raises(transform.TransformError):
        transform.check_transformer({"aws.events.rule-arn": "$.id"}, "<x>")
    with pytest.raises(transform.TransformError):
        transform.check_transformer({"k": "$.id"}, '{<k>: "v"}')


def test_a_placeholder_followed_by_a_colon_inside_a_string_is_no_key() -> None:
    transform.check_transformer({"b": "$.id"}, '{"m": "a,<b>: c"}')
    assert json.loads(render('{"m": "a,<b>: c"}', {"b": "$.id"})) == {"m": f"a,{EVENT['id']}: c"}


def test_a_wildcard_path_collects_what_it_reaches() -> None:
    event = dict(EVENT, detail={"items": [{"id": 1}, {"id": 2}, {"other": 3}]})
    out = transform.render_template(
        '{"ids": <ids>}', {"ids": "$.detail.items[*].id"}, event, CONTEXT
    )
    assert json.loads(out) == {"ids": [1, 2]}


def test_a_huge_template_of_many_placeholders_renders_in_linear_time() -> None:
    template = "[" + ",".join(["<state>"] * 2000) + "]"
    assert json.loads(render(template)) == ["RUNNING"] * 2000
