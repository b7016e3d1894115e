"""Control-plane latency beside the moto server's, the same boto3 calls in one run.

    python bench/control_plane.py [--calls N] [--functions F]

A fresh embedded-profile server and a fresh moto server (``moto[server]``, an in-memory mock
with no authentication and no database) run side by side on 127.0.0.1. The same ``F`` (50)
zip functions are created on both; then ``N`` sequential calls of each operation go to
each server, interleaved call by call so both see the same machine noise:

- GetFunction and GetFunctionConfiguration of one of the functions (round robin);
- ListFunctions, one page of all ``F`` functions;
- UpdateFunctionConfiguration of one of them (a new description each time).

Printed: p50/p99 per operation and server, and Functory's p50 over moto's (target <= 1.0x).
Only control-plane calls: moto would want Docker for an Invoke.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from common import hello_zip, lambda_client, moto_server, noop_function, percentiles, report, server

MOTO_CREDENTIALS = {
    "aws_access_key_id": "bench",
    "aws_secret_access_key": "bench",
    "region_name": "us-east-1",
}
# Functory takes any role ARN of the account's shape; moto wants one its IAM knows.
FUNCTORY_ROLE = "arn:aws:iam::123456789012:role/bench"
TRUST_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


def moto_clients(url: str) -> tuple[Any, str]:
    """A Lambda client of the moto server and a role ARN its IAM knows."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=2)
    iam = boto3.client("iam", endpoint_url=url, config=config, **MOTO_CREDENTIALS)
    role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    return boto3.client("lambda", endpoint_url=url, config=config, **MOTO_CREDENTIALS), role


def create_functions(client: Any, role: str, count: int) -> list[str]:
    code = hello_zip()
    names = [f"bench-{i:02d}" for i in range(count)]
    for name in names:
        noop_function(
            client,
            name,
            code,
            role,
            Environment={"Variables": {"STAGE": "bench", "NAME": name}},
            Tags={"team": "bench"},
        )
    return names


def operations(client: Any, names: list[str]) -> dict[str, Callable[[int], None]]:
    """Each operation as a call of the ``i``-th round, checked so no error is timed."""
    count = len(names)

    def get_function(i: int) -> None:
        client.get_function(FunctionName=names[i % count])

    def get_configuration(i: int) -> None:
        client.get_function_configuration(FunctionName=names[i % count])

    def list_functions(i: int) -> None:
        listed = client.list_functions(MaxItems=count)["Functions"]
        assert len(listed) == count, len(listed)

    def update_configuration(i: int) -> None:
        client.update_function_configuration(
            FunctionName=names[i % count], Description=f"round {i}"
        )

    return {
        "GetFunction": get_function,
        "GetFunctionConfiguration": get_configuration,
        f"ListFunctions ({count} items)": list_functions,
        "UpdateFunctionConfiguration": update_configuration,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--functions", type=int, default=50)
    args = parser.parse_args()

    with server() as srv, moto_server() as moto_url:
        functory = lambda_client(srv)
        moto, moto_role = moto_clients(moto_url)
        ops = {
            "Functory": operations(
                functory, create_functions(functory, FUNCTORY_ROLE, args.functions)
            ),
            "moto": operations(moto, create_functions(moto, moto_role, args.functions)),
        }
        names = list(ops["Functory"])
        for i in range(20):  # warm every path (connections, caches, imports) up
            for by_server in ops.values():
                for op in by_server.values():
                    op(i)

        samples: dict[tuple[str, str], list[float]] = {
            (target, name): [] for target in ops for name in names
        }
        for i in range(args.calls):
            # Interleaved call by call, the order alternating, so both see the same noise.
            targets = list(ops) if i % 2 else list(ops)[::-1]
            for name in names:
                for target in targets:
                    start = time.perf_counter()
                    ops[target][name](i)
                    samples[target, name].append((time.perf_counter() - start) * 1000)

        stats = {key: percentiles(values) for key, values in samples.items()}
        report(
            "Control plane vs the moto server (boto3, sequential, interleaved, same run)",
            [(f"{name}, {target}", stats[target, name]) for name in names for target in ops],
        )
        print("\n  Functory / moto p50 (target <= 1.0x)")
        for name in names:
            ratio = stats["Functory", name]["p50"] / stats["moto", name]["p50"]
            p99 = stats["Functory", name]["p99"] / stats["moto", name]["p99"]
            print(f"  {name:<44} p50 {ratio:5.2f}x   p99 {p99:5.2f}x")


if __name__ == "__main__":
    main()
