"""Whether a function's resource-based policy lets EventBridge invoke it for a rule.

As on AWS, a rule's Lambda target is invoked only when the function's policy (on the
qualifier the target names) has a statement allowing ``lambda:InvokeFunction`` to the
``events.amazonaws.com`` service principal (or ``*``), whose conditions hold for the call:
``AWS:SourceArn`` (``ArnLike``, ``*``/``?`` wildcards) against the rule's ARN and
``AWS:SourceAccount`` against its account. A statement with any other condition (an
organization id, an event source token, a function URL's) does not apply to EventBridge.
"""

from __future__ import annotations

from typing import Any

SERVICE = "events.amazonaws.com"
_ACTIONS = {"lambda:invokefunction", "lambda:*", "*"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return SERVICE in _as_list(principal.get("Service", [])) or "*" in _as_list(
            principal.get("AWS", [])
        )
    return False


def _arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike: case-sensitive, '*' any run of characters, '?' exactly one. The
    classic greedy match that only ever backs up to the last '*' (no regex: a pattern of
    many stars stays linear-ish, never exponential)."""
    p = v = 0
    star = -1
    mark = 0
    while v < len(value):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == value[v]):
            p += 1
            v += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, v
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            v = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _conditions_hold(condition: dict[str, Any], source_arn: str, source_account: str) -> bool:
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            wanted = [str(item) for item in _as_list(expected)]
            name = key.lower()
            if operator in ("ArnLike", "ArnEquals", "StringLike") and name == "aws:sourcearn":
                if operator == "ArnEquals" and source_arn not in wanted:
                    return False
                if operator != "ArnEquals" and not any(_arn_like(p, source_arn) for p in wanted):
                    return False
            elif operator == "StringEquals" and name == "aws:sourceaccount":
                if source_account not in wanted:
                    return False
            else:
                return False
    return True


def events_may_invoke(
    statements: list[dict[str, Any]], *, source_arn: str, source_account: str
) -> bool:
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = {str(action).lower() for action in _as_list(statement.get("Action", []))}
        if not actions & _ACTIONS:
            continue
        if not _principal_matches(statement.get("Principal")):
            continue
        if _conditions_hold(statement.get("Condition") or {}, source_arn, source_account):
            return True
    return False
