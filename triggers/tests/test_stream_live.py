"""Kinesis and DynamoDB Streams mappings end to end: live servers (real sandbox), mappings
made with boto3 through the Lambda API, streams on a moto server, side effects counted from
the function's own log lines. A replica killed with SIGKILL mid-stream: the other resumes
after the checkpoints in the shared database, with no gap."""

from __future__ import annotations

import contextlib
import os
import signal
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
        after = [f"after{n}" for n in range(100)]
        put(kinesis, arn, after)
        tenant.move_to(survivor)

        wanted = set(before) | set(after)
        wait_for(
            lambda: wanted <= set(data_counts(tenant, name)),
            timeout=180,
            what="every record after the kill",
        )
        counts = data_counts(tenant, name)
        # At least once: what the killed replica had in flight (a batch per shard, and
        # the ones whose checkpoint it had not written) may come again; nothing is lost.
        assert set(counts) == wanted
        assert sum(counts.values()) - len(wanted) <= 4 * 10
        # In order per shard, by sequence number, across the handover.
        per_shard: dict[str, list[int]] = {}
        for line in tenant.lines(name):
            shard, sequence = line.split()[1].split(":")
            per_shard.setdefault(shard, []).append(int(sequence))
        for sequences in per_shard.values():
            firsts = list(dict.fromkeys(sequences))
            assert firsts == sorted(firsts)
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
