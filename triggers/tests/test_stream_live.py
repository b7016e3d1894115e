"""Kinesis and DynamoDB Streams mappings end to end: live servers (real sandbox), mappings
made with boto3 through the Lambda API, streams on a moto server, side effects counted from
the function's own log lines. A replica killed with SIGKILL mid-stream: the other resumes
after the checkpoints in the shared database, with no gap."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from conftest import AwsPeer, LiveServer, descendants, run_server
from triggers.tests.test_sqs_live import Tenant, wait_for
from triggers.tests.test_sqs_live_faults import lease_owners

pytestmark = pytest.mark.live

# Each record becomes one line: "got <shard:sequence> <data>".
KINESIS_CODE = """
import base64
import time
def handler(event, context):
    time.sleep(0.05)
    for record in event["Records"]:
        print("got", record["eventID"], base64.b64decode(record["kinesis"]["data"]).decode())
"""

DYNAMODB_CODE = """
import json
def handler(event, context):
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("OldImage")
        print("got", record["eventName"], json.dumps(image, sort_keys=True),
              record["eventSource"], record["eventSourceARN"])
"""


def data_counts(tenant: Tenant, name: str) -> Counter[str]:
    return Counter(line.split()[2] for line in tenant.lines(name))


def timed_lines(tenant: Tenant, name: str) -> list[tuple[int, str]]:
    """The function's "got" lines with their timestamps (ms), in order."""
    found: list[tuple[int, str]] = []
    for page in tenant.logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{name}"
    ):
        found += [
            (event["timestamp"], event["message"])
            for event in page["events"]
            if event["message"].startswith("got ")
        ]
    return sorted(found, key=lambda event: event[0])  # stable: a batch's lines keep order


def put(kinesis: Any, arn: str, values: list[str]) -> None:
    for start in range(0, len(values), 100):
        entries = [
            {"Data": value.encode(), "PartitionKey": value} for value in values[start : start + 100]
        ]
        kinesis.put_records(StreamARN=arn, Records=entries)


def test_a_killed_replicas_stream_is_resumed_by_the_other_with_no_gap(
    tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer
) -> None:
    env = {**aws_peer.env, "FUNCTORY_POLLER_LEASE_SECONDS": "3"}
    first_servers = run_server(tmp_path_factory, env)
    first = next(first_servers)
    second_servers = run_server(tmp_path_factory, env, share_with=first)
    second = next(second_servers)
    try:
        tenant = Tenant(first, aws_peer)
        name = tenant.function(KINESIS_CODE)
        kinesis = aws_peer.client("kinesis")
        stream = f"s-{uuid.uuid4().hex[:10]}"
        kinesis.create_stream(StreamName=stream, ShardCount=2)
        arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        before = [f"before{n}" for n in range(300)]
        put(kinesis, arn, before)
        mapping = tenant.lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=10
        )
        wait_for(lambda: len(tenant.lines(name)) >= 60, what="the first records")

        owner = lease_owners(first)[f"esm:{mapping['UUID']}"]
        pid = int(owner.split(":")[1])
        victim, survivor = (first, second) if pid == first.process.pid else (second, first)
        for process in [victim.process.pid, *descendants(victim.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)
        victim.process.wait(10)
        killed_ms = time.time() * 1000
        after = [f"after{n}" for n in range(100)]
        put(kinesis, arn, after)
        tenant.move_to(survivor)

        # The records put after the kill are the last of every shard: once all of them are
        # in, the survivor has read every shard to its end.
        wait_for(
            lambda: set(after) <= set(data_counts(tenant, name)),
            timeout=180,
            what="every record put after the kill",
        )
        time.sleep(1)  # log lines in flight
        lines = timed_lines(tenant, name)
        logged: dict[str, dict[bool, set[int]]] = {}
        for timestamp, line in lines:
            shard, sequence = line.split()[1].split(":")
            by_host = logged.setdefault(shard, {False: set(), True: set()})
            by_host[timestamp > killed_ms].add(int(sequence))
        assert len(logged) == 2
        for shard, by_host in logged.items():
            victims, survivors = by_host[False], by_host[True]
            assert survivors, f"the survivor read nothing of {shard}"
            resumed = min(survivors)
            last = max(survivors)
            # No gap: from where the survivor resumed, every record (moto numbers a shard's
            # records 1, 2, 3...) reached the function.
            assert set(range(resumed, last + 1)) <= survivors | victims
            # What the killed replica delivered just before it died may have lost its log
            # lines with it (they are shipped in batches): only its last batches, right
            # before the checkpoint the survivor resumed from.
            unseen = set(range(1, resumed)) - victims
            if unseen:
                assert unseen == set(range(min(unseen), resumed)), f"a hole in {shard}"
                assert len(unseen) <= 3 * 10
        # In order per shard across the handover (a record delivered again comes after
        # what the survivor resumed from, never before what it had already delivered).
        per_shard: dict[str, list[int]] = {}
        for _, line in lines:
            shard, sequence = line.split()[1].split(":")
            per_shard.setdefault(shard, []).append(int(sequence))
        for sequences in per_shard.values():
            firsts = list(dict.fromkeys(sequences))
            assert firsts == sorted(firsts)
        duplicates = len(lines) - len({line.split()[1] for _, line in lines})
        assert duplicates <= 4 * 10
        got = tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])
        assert got["LastProcessingResult"] == "OK"
    finally:
        for servers in (second_servers, first_servers):
            with contextlib.suppress(StopIteration):
                next(servers)


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Any:
    yield from run_server(tmp_path_factory, aws_peer.env)


def test_a_dynamodb_stream_reaches_a_real_function(functory: LiveServer, aws_peer: AwsPeer) -> None:
    tenant = Tenant(functory, aws_peer)
    name = tenant.function(DYNAMODB_CODE)
    dynamodb = aws_peer.client("dynamodb")
    table = f"t-{uuid.uuid4().hex[:10]}"
    arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    tenant.lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON"
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "2"}})
    dynamodb.delete_item(TableName=table, Key={"id": {"S": "a"}})
    wait_for(lambda: len(tenant.lines(name)) >= 3, timeout=60, what="three records")
    lines = [line.split(" ", 2)[1:] for line in tenant.lines(name)]
    assert [kind for kind, _ in lines] == ["INSERT", "MODIFY", "REMOVE"]
    assert lines[0][1] == f'{{"id": {{"S": "a"}}, "n": {{"N": "1"}}}} aws:dynamodb {arn}'
    assert lines[2][1].startswith('{"id": {"S": "a"}, "n": {"N": "2"}}')
