"""How long one evaluation of a 20-statement identity policy (plus a resource policy) takes.

    .venv/bin/python bench/iam_policy.py

A pure-library figure (no server): a fresh request context per evaluation, as each API call
builds one. Prints microseconds per evaluation; nothing is asserted.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iam.policy import PolicyKind, Principal, RequestContext, evaluate, parse_policy

ACCOUNT = "111111111111"
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"


def twenty_statements(account: str = ACCOUNT) -> str:
    fn = f"arn:aws:lambda:us-east-1:{account}:function:"
    statements = []
    for index in range(18):
        statements.append(
            {
                "Sid": f"S{index}",
                "Effect": "Allow",
                "Action": [f"lambda:Get{index}*", f"logs:Describe{index}*"],
                "Resource": [f"{fn}team{index}-*", f"{fn}svc{index}-*:*"],
                "Condition": {
                    "StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
                    "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
                },
            }
        )
    statements.append(
        {
            "Sid": "DenyProd",
            "Effect": "Deny",
            "Action": "lambda:Delete*",
            "Resource": f"{fn}prod-*",
        }
    )
    statements.append(
        {
            "Sid": "Own",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"{fn}${{aws:username}}-*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def main() -> None:
    policy = parse_policy(twenty_statements(), PolicyKind.ROLE_INLINE)
    resource = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "events",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "lambda:InvokeFunction",
                        "Resource": f"{FN}alice-api",
                        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:*:*:rule/*"}},
                    }
                ],
            }
        ),
        PolicyKind.RESOURCE,
    )
    alice = Principal(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "user", name="alice")
    keys: dict[str, str | bool] = {
        "aws:SourceIp": "10.1.2.3",
        "aws:SecureTransport": True,
        "aws:RequestedRegion": "us-east-1",
    }
    cases = {
        "allowed by the last statement": ("lambda:InvokeFunction", f"{FN}alice-api"),
        "denied by default": ("lambda:CreateFunction", f"{FN}other"),
    }
    for label, (action, arn) in cases.items():
        samples = []
        for _round in range(7):
            n = 20_000
            started = time.perf_counter()
            for _ in range(n):
                evaluate(RequestContext(alice, action, arn, keys), [policy], resource, ACCOUNT)
            samples.append((time.perf_counter() - started) / n * 1e6)
        decision = evaluate(RequestContext(alice, action, arn, keys), [policy], resource, ACCOUNT)
        print(
            f"20-statement policy, {label} ({decision.reason.name}): "
            f"median {statistics.median(samples):.1f} µs per evaluation "
            f"(min {min(samples):.1f}, max {max(samples):.1f})"
        )


if __name__ == "__main__":
    main()
