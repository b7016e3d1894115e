"""Concurrency limits: leases in process and in Redis, and throttled sync invokes over boto3."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import create_function, make_zip
from invocations import concurrency

REDIS_URL = os.environ.get("FUNCTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
ROOT = Path(__file__).resolve().parents[2]

SLEEPER = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "done"
"""


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not _redis_available(), reason="no Redis at " + REDIS_URL)


def _prefix() -> str:
    return f"functory-test:{uuid.uuid4().hex[:10]}:"


# -- the lease API, module level -----------------------------------------------------------


def test_the_in_process_backend_counts_up_to_the_limit_and_frees_on_release():
    async def scenario() -> None:
        local = concurrency.LocalBackend()
        leases = [
            await concurrency.acquire("111", "fn", 2, 900, timeout_s=3, using=local)
            for _ in range(3)
        ]
        assert [lease is not None for lease in leases] == [True, True, False]
        assert leases[0] is not None
        await concurrency.release(leases[0])
        assert await concurrency.acquire("111", "fn", 2, 900, using=local) is not None
        # Another function draws on the unreserved pool, not on fn's reservation.
        assert await concurrency.acquire("111", "other", None, 1, using=local) is not None
        assert await concurrency.acquire("111", "third", None, 1, using=local) is None

    asyncio.run(scenario())


def test_a_reservation_of_zero_throttles_without_counting():
    async def scenario() -> None:
        local = concurrency.LocalBackend()
        assert await concurrency.acquire("111", "fn", 0, 900, using=local) is None
        assert local.running(concurrency.counter_key("111", "fn", 0)) == 0

    asyncio.run(scenario())


def test_the_throttle_reason_names_the_limit_that_was_reached():
    assert concurrency.throttle_reason(5) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert concurrency.throttle_reason(None) == "ConcurrentInvocationLimitExceeded"


@needs_redis
def test_redis_leases_count_exactly_across_two_clients():
    prefix = _prefix()

    async def scenario() -> None:
        first = concurrency.RedisBackend(REDIS_URL, prefix)
        second = concurrency.RedisBackend(REDIS_URL, prefix)
        try:
            leases = await asyncio.gather(
                *(
                    concurrency.acquire("111", "fn", 3, 900, using=backend)
                    for _ in range(10)
                    for backend in (first, second)
                )
            )
            taken = [lease for lease in leases if lease is not None]
            assert len(taken) == 3
            key = concurrency.counter_key("111", "fn", 3)
            assert await first.running(key) == 3
            for lease in taken:
                await concurrency.release(lease)
            assert await second.running(key) == 0
            assert await concurrency.acquire("111", "fn", 3, 900, using=second) is not None
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


@needs_redis
def test_redis_leases_tell_how_many_of_each_series_run_across_clients():
    prefix = _prefix()
    series = (("111", "", ""), ("111", "fn", ""), ("111", "fn", "live"))

    async def scenario() -> None:
        first = concurrency.RedisBackend(REDIS_URL, prefix)
        second = concurrency.RedisBackend(REDIS_URL, prefix)
        try:
            a = await concurrency.acquire("111", "fn", None, 900, using=first, series=series)
            b = await concurrency.acquire("111", "fn", None, 900, using=second, series=series[:2])
            other = await concurrency.acquire(
                "111", "other", None, 900, using=second, series=(series[0], ("111", "other", ""))
            )
            assert a is not None and b is not None and other is not None
            assert a.running == (1, 1, 1)
            assert b.running == (2, 2)  # the account and the function, not the alias
            assert other.running == (3, 1)
            await concurrency.release(a)
            await concurrency.release(other)
            again = await concurrency.acquire("111", "fn", None, 900, using=first, series=series)
            assert again is not None and again.running == (2, 2, 1)
            for lease in (b, again):
                await concurrency.release(lease)
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


HOLDER = """
import asyncio, sys
from invocations.concurrency import RedisBackend

async def main():
    backend = RedisBackend(sys.argv[1], sys.argv[2])
    for _ in range(2):
        assert await backend.acquire(sys.argv[3], 2, 1.0) is not None
    print("held", flush=True)

asyncio.run(main())
"""


@needs_redis
def test_a_lease_whose_holder_died_expires():
    prefix = _prefix()
    key = concurrency.counter_key("111", "fn", 2)
    # Another process takes both slots and exits without releasing them.
    holder = subprocess.run(
        [sys.executable, "-c", HOLDER, REDIS_URL, prefix, key],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert holder.stdout.strip() == "held", holder.stderr

    async def scenario() -> None:
        backend = concurrency.RedisBackend(REDIS_URL, prefix)
        try:
            assert await backend.acquire(key, 2, 1.0) is None
            # The dead holder's leases lapse after their ttl; poll rather than time it.
            deadline = time.monotonic() + 30
            lease = None
            while lease is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                lease = await backend.acquire(key, 2, 60.0)
            assert lease is not None
            assert await backend.running(key) == 1
            await concurrency.release(lease)
        finally:
            await backend.close()

    asyncio.run(scenario())


# -- throttling sync invokes through the API -----------------------------------------------


def _client(functory: Any, credentials: Any, service: str = "lambda") -> Any:
    """A client that never retries: botocore's ``max_attempts`` counts retries (1 = one retry),
    so a retried throttle would be counted twice; ``total_max_attempts`` counts requests."""
    return boto3.client(
        service,
        endpoint_url=functory.url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


def _parallel_invokes(clients: list[Any], name: str, sleep: float) -> list[dict[str, Any]]:
    """Invoke from every client at once; each result is the response or the error."""

    def one(client: Any) -> dict[str, Any]:
        try:
            response = client.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}))
        except ClientError as exc:
            return {"error": exc.response}
        return {"status": response["StatusCode"], "body": json.loads(response["Payload"].read())}

    with ThreadPoolExecutor(len(clients)) as workers:
        return list(workers.map(one, clients))


def _throttles(functory: Any, credentials: Any, name: str) -> float:
    cloudwatch = _client(functory, credentials, "cloudwatch")
    now = dt.datetime.now(dt.UTC)
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Throttles",
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=2),
        Period=60,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in response["Datapoints"]))


def _assert_throttle(error: dict[str, Any], reason: str) -> None:
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["Reason"] == reason
    assert error["Type"] == "User"


@pytest.mark.live
@pytest.mark.sandbox
def test_reserved_concurrency_of_two_lets_two_of_ten_parallel_invokes_run(functory, credentials):
    lam = _client(functory, credentials)
    create_function(lam, "narrow", Timeout=30, Code={"ZipFile": make_zip({"app.py": SLEEPER})})
    lam.put_function_concurrency(FunctionName="narrow", ReservedConcurrentExecutions=2)
    clients = [_client(functory, credentials) for _ in range(10)]

    results = _parallel_invokes(clients, "narrow", 2)

    successes = [result for result in results if "status" in result]
    throttles = [result["error"] for result in results if "error" in result]
    assert len(successes) == 2 and len(throttles) == 8
    assert all(result == {"status": 200, "body": "done"} for result in successes)
    for error in throttles:
        _assert_throttle(error, "ReservedFunctionConcurrentInvocationLimitExceeded")
    # The slots were given back: invokes run again, one after another.
    for _ in range(3):
        assert lam.invoke(FunctionName="narrow", Payload=b"{}")["StatusCode"] == 200
    assert _throttles(functory, credentials, "narrow") == 8


@pytest.mark.live
@pytest.mark.sandbox
def test_reserved_concurrency_of_zero_throttles_every_invoke(functory, credentials):
    lam = _client(functory, credentials)
    create_function(lam, "stopped", Code={"ZipFile": make_zip({"app.py": SLEEPER})})
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)

    for _ in range(3):
        with pytest.raises(ClientError) as excinfo:
            lam.invoke(FunctionName="stopped", Payload=b"{}")
        _assert_throttle(
            excinfo.value.response, "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    assert _throttles(functory, credentials, "stopped") == 3

    lam.delete_function_concurrency(FunctionName="stopped")
    assert lam.invoke(FunctionName="stopped", Payload=b"{}")["StatusCode"] == 200


def test_a_function_without_reservation_is_throttled_when_the_unreserved_pool_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from awsapi.errors import AWSError
    from invocations import selectors, services
    from invocations.executor.spec import EnvironmentSpec
    from monitoring.metrics.recorder import recorder

    spec = EnvironmentSpec(
        function_arn="arn:aws:lambda:us-east-1:111122223333:function:shared",
        function_name="shared",
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=128,
        timeout_s=3,
        code_dir="/nonexistent",
        layers_dir=None,
    )
    target = selectors.InvokeTarget(
        account_id="111122223333",
        function_name="shared",
        invoked_arn=spec.function_arn,
        primary=selectors.VersionTarget("$LATEST", spec),
        unreserved_concurrency=0,
    )
    counted: list[Any] = []
    monkeypatch.setattr(recorder, "throttle", lambda keys, **kwargs: counted.append(keys))
    with pytest.raises(AWSError) as excinfo:
        asyncio.run(services.invoke_sync(target, request_id="r", payload=b"{}"))
    assert (excinfo.value.code, excinfo.value.status, excinfo.value.message) == (
        "TooManyRequestsException",
        429,
        "Rate Exceeded.",
    )
    assert excinfo.value.fields == {"Reason": "ConcurrentInvocationLimitExceeded"}
    assert counted == [services.metrics_series(target)]


@needs_redis
@pytest.mark.live
@pytest.mark.sandbox
def test_two_replicas_share_a_reservation_through_redis(functory_pair):
    from conftest import create_user

    first, second = functory_pair
    credentials = create_user(first)
    lam = _client(first, credentials)
    create_function(lam, "shared", Timeout=30, Code={"ZipFile": make_zip({"app.py": SLEEPER})})
    lam.put_function_concurrency(FunctionName="shared", ReservedConcurrentExecutions=2)
    clients = [_client(server, credentials) for server in (first, second) for _ in range(5)]

    results = _parallel_invokes(clients, "shared", 2)

    throttles = [result["error"] for result in results if "error" in result]
    assert len(throttles) == 8
    for error in throttles:
        _assert_throttle(error, "ReservedFunctionConcurrentInvocationLimitExceeded")
    for server in (first, second):
        response = _client(server, credentials).invoke(FunctionName="shared", Payload=b"{}")
        assert response["StatusCode"] == 200


@needs_redis
@pytest.mark.live
@pytest.mark.sandbox
def test_concurrent_executions_counts_invocations_running_on_both_replicas(functory_pair):
    from conftest import create_user

    first, second = functory_pair
    credentials = create_user(first)
    lam = _client(first, credentials)
    create_function(lam, "spread", Timeout=30, Code={"ZipFile": make_zip({"app.py": SLEEPER})})
    started = time.time() - 120
    # One invocation on each replica at the same time: each process alone sees one.
    results = _parallel_invokes([_client(s, credentials) for s in (first, second)], "spread", 3)
    assert [r.get("status") for r in results] == [200, 200]

    def maximum() -> float:
        points = _client(first, credentials, "cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="ConcurrentExecutions",
            Dimensions=[{"Name": "FunctionName", "Value": "spread"}],
            StartTime=started,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        return max((p["Maximum"] for p in points), default=0.0)

    deadline = time.monotonic() + 30  # the other replica flushes its points every 5 s
    while maximum() < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert maximum() == 2
