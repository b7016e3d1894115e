"""Policy documents are checked as IAM checks them, with IAM's messages, and stay bounded
against hostile documents."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from iam.policy import (
    MalformedPolicyDocument,
    PolicyKind,
    PolicyLimitExceeded,
    Principal,
    RequestContext,
    evaluate,
    parse_policy,
)
from iam.policy.document import MAX_STATEMENTS, MAX_VALUES, policy_size
from iam.policy.managed import BY_ARN, managed_policy
from iam.policy.wildcards import atoms_of, glob

ALLOW = {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}


def _doc(*statements: dict[str, Any], **top: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements), **top})


def _malformed(text: str, kind: PolicyKind = PolicyKind.MANAGED) -> str:
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(text, kind)
    assert raised.value.code == "MalformedPolicyDocument"
    return raised.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "Syntax errors in policy."),
        ("[]", "Syntax errors in policy."),
        ('"Allow"', "Syntax errors in policy."),
        (_doc(ALLOW, Extra=1), "Syntax errors in policy."),
        (
            '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
            "Syntax errors in policy.",
        ),
        (_doc({**ALLOW, "Colour": "blue"}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Effect": "allow"}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Effect": ["Allow"]}), "Syntax errors in policy."),
        (_doc({**ALLOW, "NotAction": "lambda:Get*"}), "Syntax errors in policy."),
        (_doc({**ALLOW, "NotResource": "*"}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Action": 7}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Resource": {"arn": "*"}}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Sid": 3}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Condition": ["StringEquals"]}), "Syntax errors in policy."),
        (_doc({**ALLOW, "Condition": {"StringEquals": "x"}}), "Syntax errors in policy."),
        (
            _doc({**ALLOW, "Condition": {"StringEquals": {"aws:x": {"a": 1}}}}),
            "Syntax errors in policy.",
        ),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        (_doc(), "Missing required field Statement"),
        (_doc(ALLOW, Version="2013-01-01"), "The policy failed legacy parsing"),
        (_doc({"Action": "lambda:*", "Resource": "*"}), "Missing required field Effect"),
        (_doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
        (_doc({**ALLOW, "Action": []}), "Policy statement must contain actions."),
        (
            _doc({"Effect": "Allow", "Action": "lambda:*"}),
            "Policy statement must contain resources.",
        ),
        (_doc({**ALLOW, "Principal": "*"}), "Policy document should not specify a principal."),
        (
            _doc({**ALLOW, "NotPrincipal": {"AWS": "111111111111"}}),
            "Policy document should not specify a principal.",
        ),
        (
            _doc({**ALLOW, "Action": "InvokeFunction"}),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (_doc({**ALLOW, "Action": "lam bda:Invoke"}), "Vendor lam bda is not valid"),
        (_doc({**ALLOW, "Action": "lambda:Invoke Function"}), "Policy has invalid action"),
        (_doc({**ALLOW, "Action": "lambda:"}), "Policy has invalid action"),
        (
            _doc({**ALLOW, "Resource": "my-function"}),
            'Resource my-function must be in ARN format or "*".',
        ),
        (
            _doc({**ALLOW, "Resource": "arn:aws:lambda"}),
            'Resource arn:aws:lambda must be in ARN format or "*".',
        ),
        (
            _doc({**ALLOW, "Sid": "a"}, {**ALLOW, "Sid": "a"}),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            _doc({**ALLOW, "Sid": "has-dash"}),
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
            "regular expression [0-9A-Za-z]*",
        ),
        (
            _doc({**ALLOW, "Condition": {"StringEqualz": {"aws:x": "y"}}}),
            "Invalid Condition type : StringEqualz",
        ),
        (
            _doc({**ALLOW, "Condition": {"NullIfExists": {"aws:x": "true"}}}),
            "Invalid Condition type : NullIfExists",
        ),
        (
            _doc({**ALLOW, "Condition": {"ForAnyValue:Null": {"aws:x": "true"}}}),
            "Invalid Condition type : ForAnyValue:Null",
        ),
        (
            _doc({**ALLOW, "Condition": {"StringEquals": {"username": "y"}}}),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
    ],
)
def test_it_refuses_an_identity_policy_with_iams_message(text: str, message: str):
    assert _malformed(text) == message


def test_it_accepts_every_documented_shape_of_an_identity_policy():
    policy = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Id": "my-policy",
                "Statement": {
                    "Sid": "Stmt1",
                    "Effect": "Deny",
                    "NotAction": ["lambda:Get*", "logs:*"],
                    "NotResource": f"arn:aws:lambda:*:{'1' * 12}:function:*",
                    "Condition": {
                        "ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["env-*", 3, True]},
                        "Null": {"aws:TokenIssueTime": "true"},
                    },
                },
            }
        ),
        PolicyKind.USER_INLINE,
    )
    (statement,) = policy.statements
    assert policy.id == "my-policy"
    assert statement.effect == "Deny" and statement.not_action and statement.not_resource
    assert [c.operator.name for c in statement.conditions] == [
        "ForAllValues:StringLikeIfExists",
        "Null",
    ]


def test_a_missing_version_is_the_2008_language():
    policy = parse_policy(json.dumps({"Statement": [ALLOW]}))
    assert policy.version == "2008-10-17"


@pytest.mark.parametrize(
    ("principal", "message"),
    [
        ({"AWS": "bob"}, 'Invalid principal in policy: "AWS":"bob"'),
        (
            {"AWS": "arn:aws:iam::*:root"},
            'Invalid principal in policy: "AWS":"arn:aws:iam::*:root"',
        ),
        (
            {"AWS": "arn:aws:iam::111111111111:user/*"},
            'Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:user/*"',
        ),
        ({"Service": "not a service"}, 'Invalid principal in policy: "SERVICE":"not a service"'),
        ({"AWS": 111111111111}, "Syntax errors in policy."),
        ({"Aws": "111111111111"}, "Syntax errors in policy."),
        ({}, "Syntax errors in policy."),
        ("everyone", "Syntax errors in policy."),
    ],
)
def test_it_refuses_an_invalid_principal(principal: Any, message: str):
    text = _doc(
        {
            **ALLOW,
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
            "Principal": principal,
        }
    )
    assert _malformed(text, PolicyKind.RESOURCE) == message


def test_a_resource_policy_needs_a_principal_and_allows_dashes_in_sids():
    assert _malformed(_doc(ALLOW), PolicyKind.RESOURCE) == "Missing required field Principal"
    policy = parse_policy(
        _doc(
            {
                **ALLOW,
                "Sid": "lambda-allow_events",
                "Principal": {"Service": "events.amazonaws.com"},
            }
        ),
        PolicyKind.RESOURCE,
    )
    assert policy.statements[0].sid == "lambda-allow_events"


def test_a_trust_policy_has_no_resource():
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert parse_policy(_doc(trust), PolicyKind.TRUST).statements[0].resources is None
    assert (
        _malformed(_doc({**trust, "Resource": "*"}), PolicyKind.TRUST)
        == "Has prohibited field Resource"
    )
    assert (
        _malformed(_doc({**trust, "NotResource": "*"}), PolicyKind.TRUST)
        == "Has prohibited field NotResource"
    )
    assert _malformed(_doc({**trust, "Action": "lambda:InvokeFunction"}), PolicyKind.TRUST) == (
        "AssumeRole policy may only specify STS AssumeRole actions."
    )
    assert _malformed(
        _doc({k: v for k, v in trust.items() if k != "Principal"}), PolicyKind.TRUST
    ) == ("Missing required field Principal")


def _padded(kind_limit: int) -> str:
    """A valid document of exactly ``kind_limit`` characters, white space not counted."""
    base = _doc({**ALLOW, "Sid": ""})
    return base.replace('"Sid": ""', '"Sid": "' + "a" * (kind_limit - policy_size(base)) + '"')


@pytest.mark.parametrize(
    ("kind", "limit", "message"),
    [
        (PolicyKind.MANAGED, 6144, "Cannot exceed quota for PolicySize: 6144"),
        (PolicyKind.USER_INLINE, 2048, "Maximum policy size of 2048 bytes exceeded for user alice"),
        (
            PolicyKind.GROUP_INLINE,
            5120,
            "Maximum policy size of 5120 bytes exceeded for group alice",
        ),
        (
            PolicyKind.ROLE_INLINE,
            10240,
            "Maximum policy size of 10240 bytes exceeded for role alice",
        ),
    ],
)
def test_it_enforces_iams_size_quotas_without_counting_white_space(kind, limit, message):
    at_limit = _padded(limit)
    assert policy_size(at_limit) == limit
    parse_policy(at_limit, kind, owner="alice")
    parse_policy(at_limit.replace(", ", ",    \n\t  "), kind, owner="alice")
    with pytest.raises(PolicyLimitExceeded) as raised:
        parse_policy(_padded(limit + 1), kind, owner="alice")
    assert raised.value.code == "LimitExceeded"
    assert raised.value.message == message


def test_a_trust_policy_over_its_quota():
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": ["111111111111"] * 200},
        "Action": "sts:AssumeRole",
    }
    with pytest.raises(PolicyLimitExceeded, match="Cannot exceed quota for ACLSizePerRole: 2048"):
        parse_policy(_doc(trust), PolicyKind.TRUST)


# --- Hostile documents ----------------------------------------------------------------------


def test_deep_nesting_is_a_syntax_error_not_a_crash():
    assert _malformed('{"Statement": ' + "[" * 9_000 + "]" * 9_000 + "}", PolicyKind.RESOURCE) == (
        "Syntax errors in policy."
    )


def test_a_document_larger_than_any_quota_is_refused_before_it_is_read():
    with pytest.raises(PolicyLimitExceeded):
        parse_policy(" " * 200_000 + _doc(ALLOW), check_size=False)


def test_too_many_statements_are_refused_even_without_a_size_quota():
    text = _doc(*[ALLOW] * (MAX_STATEMENTS + 1))
    with pytest.raises(MalformedPolicyDocument):
        parse_policy(text, check_size=False)
    parse_policy(_doc(*[ALLOW] * MAX_STATEMENTS), check_size=False)


def test_too_many_values_are_refused_even_without_a_size_quota():
    text = _doc({**ALLOW, "Condition": {"StringEquals": {"aws:x": ["v"] * (MAX_VALUES + 1)}}})
    with pytest.raises(MalformedPolicyDocument):
        parse_policy(text, check_size=False)


def test_bytes_that_are_not_utf8_are_a_syntax_error():
    with pytest.raises(MalformedPolicyDocument, match=r"Syntax errors in policy\."):
        parse_policy(b"\xff\xfe{}")


def test_a_pathological_wildcard_pattern_matches_in_linear_time():
    # A backtracking regular expression takes exponential time on this; the glob does not.
    pattern = glob(atoms_of("a*" * 200 + "b"))
    started = time.perf_counter()
    assert not pattern.match("a" * 5_000)
    assert pattern.match("a" * 5_000 + "b")
    elapsed = time.perf_counter() - started
    print(f"pathological glob: {elapsed * 1000:.1f} ms")  # reported, never asserted


def test_a_huge_request_value_is_matched_without_harm():
    policy = parse_policy(
        _doc({**ALLOW, "Condition": {"StringLike": {"aws:RequestTag/x": "*a*a*a*a*a*a*a*a*b"}}})
    )
    principal = Principal("arn:aws:iam::111111111111:user/u", "111111111111", "user")
    context = RequestContext(
        principal, "lambda:GetFunction", "*", {"aws:RequestTag/x": "a" * 1_000_000}
    )
    assert not evaluate(context, [policy]).allowed


# --- Managed policies ------------------------------------------------------------------------


def test_every_managed_policy_is_valid_and_sits_under_its_arn():
    for arn, entry in BY_ARN.items():
        policy = managed_policy(arn)
        assert policy is not None and policy.source == arn
        assert arn.startswith("arn:aws:iam::aws:policy/") and arn.endswith("/" + entry.name)
        assert policy_size(entry.document) <= 6144
    assert managed_policy("arn:aws:iam::aws:policy/NoSuchPolicy") is None
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in BY_ARN
