"""The event-pattern grammar, from the examples of AWS's "Content filtering in Amazon
EventBridge event patterns" and "Comparison operators" pages, plus hostile patterns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from triggers.patterns import MAX_DEPTH, MAX_NODES, PatternError, compile_pattern

# The EC2 state-change event of AWS's "Amazon EventBridge events" page, with a few extra
# fields the examples below need.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "FileName": "photo.PNG",
        "location": "New York",
        "nothing": None,
        "empty": "",
        "flag": True,
    },
}


def matches(pattern: Any, event: dict[str, Any] = EVENT) -> bool:
    return compile_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern)).matches(
        event
    )


def test_it_matches_exact_values_and_ands_fields_and_ors_values() -> None:
    assert matches({"source": ["aws.ec2"], "detail": {"state": ["running", "terminated"]}})
    assert not matches({"source": ["aws.ec2"], "detail": {"state": ["running"]}})
    assert not matches({"source": ["aws.s3"], "detail": {"state": ["terminated"]}})


def test_exact_matching_is_case_sensitive_and_typed() -> None:
    assert not matches({"source": ["AWS.EC2"]})
    assert matches({"detail": {"c-count": [5]}})
    assert matches({"detail": {"c-count": [5.0]}})
    assert not matches({"detail": {"c-count": ["5"]}})
    assert matches({"detail": {"flag": [True]}})
    assert not matches({"detail": {"flag": [1]}})
    assert not matches({"detail": {"c-count": [True]}})


def test_null_and_empty_string_match_only_themselves() -> None:
    assert matches({"detail": {"nothing": [None]}})
    assert matches({"detail": {"empty": [""]}})
    assert not matches({"detail": {"missing": [None]}})
    assert not matches({"detail": {"empty": [None]}})


def test_a_missing_field_fails_a_value_match() -> None:
    assert not matches({"detail": {"color": ["red"]}})
    assert not matches({"nope": {"state": ["terminated"]}})


def test_arrays_in_the_event_match_when_any_element_does() -> None:
    instance = "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"
    assert matches({"resources": [instance]})
    event = {"tags": ["a", ["b", "c"]], "items": [{"k": 1}, {"k": 2}]}
    assert matches({"tags": ["c"]}, event)
    assert matches({"items": {"k": [2]}}, event)
    assert not matches({"items": {"k": [3]}}, event)


def test_prefix_and_suffix_and_their_ignore_case_forms() -> None:
    assert matches({"time": [{"prefix": "2017-12-22"}]})
    assert not matches({"time": [{"prefix": "2017-10-02"}]})
    assert matches({"detail": {"FileName": [{"suffix": ".PNG"}]}})
    assert not matches({"detail": {"FileName": [{"suffix": ".png"}]}})
    assert matches({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}})
    assert matches({"detail-type": [{"prefix": {"equals-ignore-case": "ec2 INSTANCE"}}]})
    # Only strings have prefixes.
    assert not matches({"detail": {"c-count": [{"prefix": "5"}]}})


def test_equals_ignore_case() -> None:
    assert matches({"detail": {"location": [{"equals-ignore-case": "new YORK"}]}})
    assert not matches({"detail": {"location": [{"equals-ignore-case": "new jersey"}]}})


def test_wildcards_with_escapes() -> None:
    event = {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/*", "p": "a/lib/b"}
    assert matches({"p": [{"wildcard": "*/lib/*"}]}, event)
    assert matches({"p": [{"wildcard": "a*b"}]}, event)
    assert not matches({"p": [{"wildcard": "*/bin/*"}]}, event)
    assert matches(
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/\\*"}]}, event
    )
    assert not matches({"EventBusArn": [{"wildcard": "*:event-bus/\\*x"}]}, event)
    assert matches({"p": [{"wildcard": "*"}]}, event)
    assert matches({"p": [{"wildcard": "a/lib/b"}]}, event)
    assert not matches({"p": [{"wildcard": "a/lib/"}]}, event)
    # Overlapping anchors: "ab*ba" must not match "aba".
    assert not matches({"p": [{"wildcard": "ab*ba"}]}, {"p": "aba"})
    assert matches({"p": [{"wildcard": "ab*ba"}]}, {"p": "abba"})


def test_it_rejects_consecutive_wildcards() -> None:
    with pytest.raises(PatternError, match="Consecutive wildcard characters at pos 2"):
        compile_pattern({"p": [{"wildcard": "a**"}]})


def test_anything_but_values_numbers_and_lists() -> None:
    assert matches({"detail": {"state": [{"anything-but": "initializing"}]}})
    assert not matches({"detail": {"state": [{"anything-but": "terminated"}]}})
    assert matches({"detail": {"x-limit": [{"anything-but": 123}]}})
    assert not matches({"detail": {"c-count": [{"anything-but": [100, 5, 300]}]}})
    assert not matches({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}})
    # anything-but needs the field to be there.
    assert not matches({"detail": {"absent": [{"anything-but": "x"}]}})


def test_anything_but_prefix_suffix_ignore_case_and_wildcard() -> None:
    assert not matches({"region": [{"anything-but": {"prefix": "us-"}}]})
    assert matches({"region": [{"anything-but": {"prefix": "eu-"}}]})
    assert matches({"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}})
    assert not matches({"detail": {"FileName": [{"anything-but": {"suffix": ".PNG"}}]}})
    ignore = {"anything-but": {"equals-ignore-case": ["TERMINATED", "stopped"]}}
    assert not matches({"detail": {"state": [ignore]}})
    assert matches({"detail": {"state": [{"anything-but": {"equals-ignore-case": "Running"}}]}})
    lib = {"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}
    assert not matches({"p": [lib]}, {"p": "/usr/lib/x"})
    assert matches({"p": [lib]}, {"p": "/usr/share/x"})


def test_numeric_ranges() -> None:
    assert matches({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}})
    assert not matches({"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}})
    assert matches({"detail": {"d-count": [{"numeric": ["<", 10]}]}})
    assert matches({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}})
    assert not matches({"detail": {"x-limit": [{"numeric": [">=", 302]}]}})
    # The bounds may come in either order.
    assert matches({"detail": {"c-count": [{"numeric": ["<=", 5, ">", 4]}]}})
    # Numeric matching only applies to JSON numbers.
    assert not matches({"v": [{"numeric": [">", 0]}]}, {"v": "5"})
    assert not matches({"v": [{"numeric": [">", 0]}]}, {"v": True})


def test_exists_sees_leaves_only() -> None:
    assert matches({"detail": {"state": [{"exists": True}]}})
    assert matches({"detail": {"nothing": [{"exists": True}]}})
    assert not matches({"detail": {"color": [{"exists": True}]}})
    assert matches({"detail": {"color": [{"exists": False}]}})
    assert not matches({"detail": {"state": [{"exists": False}]}})
    # An object is not a leaf: it "does not exist" for exists.
    assert not matches({"detail": [{"exists": True}]})
    assert matches({"detail": [{"exists": False}]})
    # A nested exists:false holds when the parent is missing altogether.
    assert matches({"nope": {"inner": [{"exists": False}]}})
    assert matches({"v": [{"exists": False}]}, {"v": []})


def test_cidr() -> None:
    assert matches({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}})
    assert not matches({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}})
    assert matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"})
    assert not matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "not an ip"})


def test_or_across_fields_and_nested() -> None:
    pattern = {
        "source": ["aws.ec2"],
        "$or": [{"detail": {"c-count": [{"numeric": [">", 10]}]}}, {"detail-type": ["nope"]}],
    }
    assert not matches(pattern)
    pattern["$or"].append({"detail": {"d-count": [3]}})  # type: ignore[attr-defined]
    assert matches(pattern)
    nested = {"detail": {"$or": [{"state": ["running"]}, {"location": ["New York"]}]}}
    assert matches(nested)


def test_or_with_non_object_values_is_an_ordinary_field() -> None:
    assert matches({"$or": ["x"]}, {"$or": "x"})
    assert not matches({"$or": ["x"]}, {"other": "x"})


def test_multiple_matchers_in_one_array_are_ored() -> None:
    assert matches({"detail": {"state": [{"prefix": "run"}, {"suffix": "ated"}]}})


def test_an_empty_top_level_pattern_matches_everything() -> None:
    assert matches({})
    assert matches("{}", {"anything": 1})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
        ('{"source": [{"prefixx": "a"}]}', "Unrecognized match type prefixx"),
        ('{"source": [{"prefix": 5}]}', "prefix match pattern must be a string"),
        ('{"source": [{"prefix": "a", "suffix": "b"}]}', "Only one key allowed"),
        ('{"source": [{"exists": "yes"}]}', "exists match pattern must be either true or false"),
        ('{"source": [{"numeric": 5}]}', "Value of numeric must be an array"),
        ('{"source": [{"numeric": ["!", 5]}]}', "Unrecognized numeric range operator: !"),
        ('{"source": [{"numeric": [">", "5"]}]}', "Value of > must be a number"),
        ('{"source": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
        ('{"source": [{"numeric": ["<", 5, "<", 1]}]}', "Bad numeric range"),
        ('{"source": [{"numeric": ["=", 5, "<", 9]}]}', "Bad numeric range"),
        ('{"source": [{"cidr": "10.0.0.0/99"}]}', "Nonsensical CIDR IP"),
        ('{"source": [{"anything-but": [true]}]}', "start|null|boolean is not supported"),
        ('{"source": [{"anything-but": ["a", 1]}]}', "must be of the same type"),
        ('{"source": [{"anything-but": {"numeric": [">", 1]}}]}', "Unsupported anything-but"),
        ('{"source": [["a"]]}', "Match value must be String, number, true, false, or null"),
        ('{"source": []}', "Empty arrays are not allowed"),
        ('{"source": {}}', "Empty objects are not allowed"),
        ('["a"]', "Filter is not an object"),
        ("{not json", "Filter is not valid JSON"),
        ('{"a": [NaN]}', "Filter is not valid JSON"),
        ('{"$or": [{"a": ["x"]}]}', "Value of $or must be an array of at least two objects"),
    ],
)
def test_it_rejects_invalid_patterns_with_aws_reasons(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as excinfo:
        compile_pattern(pattern)
    assert reason in excinfo.value.message


def test_it_rejects_deeply_nested_patterns_before_parsing() -> None:
    deep = '{"a":' * 10_000 + "[1]" + "}" * 10_000
    with pytest.raises(PatternError, match=f"more than {MAX_DEPTH} levels"):
        compile_pattern(deep)


def test_it_rejects_deep_patterns_given_as_objects() -> None:
    pattern: dict[str, Any] = {"a": ["x"]}
    for _ in range(MAX_DEPTH + 1):
        pattern = {"a": pattern}
    with pytest.raises(PatternError, match="levels deep"):
        compile_pattern(pattern)


def test_it_rejects_patterns_with_too_many_fields_or_values() -> None:
    wide = {f"f{i}": ["x"] for i in range(MAX_NODES)}
    with pytest.raises(PatternError, match="too complex"):
        compile_pattern(wide)
    many_values = {"f": list(range(MAX_NODES + 1))}
    with pytest.raises(PatternError, match="too complex"):
        compile_pattern(many_values)


def test_it_rejects_huge_texts_and_huge_numbers() -> None:
    with pytest.raises(PatternError, match="longer than"):
        compile_pattern('{"a": ["' + "x" * 70_000 + '"]}')
    with pytest.raises(PatternError):
        compile_pattern('{"a": [' + "9" * 5000 + "]}")
    with pytest.raises(PatternError):
        compile_pattern('{"a": [1e999]}')


def test_matching_hostile_events_stays_linear() -> None:
    """Wildcards are not regular expressions: a pattern built to make a backtracking
    matcher explode, against a long non-matching string, answers at once; so does a pattern
    over a wide and deep event. (A backtracking matcher would not finish: no clock needed.)"""
    pattern = compile_pattern({"p": [{"wildcard": "*a*a*a*a*a*a*a*a*a*a*b"}]})
    event = {"p": "a" * 50_000}
    assert not pattern.matches(event)
    wide_event = {"items": [{"k": i, "n": [[[i]]]} for i in range(20_000)]}
    assert not compile_pattern({"items": {"k": [-1], "n": [{"exists": True}]}}).matches(wide_event)
