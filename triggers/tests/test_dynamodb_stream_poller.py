"""The DynamoDB Streams poller against a real peer (a moto server), in process: a table
with a stream, items put, updated and deleted, the function sees INSERT/MODIFY/REMOVE in
Lambda's DynamoDB event shape with the images the stream's view type gives."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from conftest import AwsPeer
from triggers.filtering import compile_filter_criteria
from triggers.pollers.config import MappingConfig
from triggers.pollers.dynamodb import DynamoDBPoller, DynamoDBSource
from triggers.pollers.threads import DaemonThreadPool
from triggers.tests.test_kinesis_poller import MemoryCheckpoints, peer_clients
from triggers.tests.test_sqs_poller import Function, mapping


@pytest.fixture
def dynamodb(aws_peer: AwsPeer) -> Any:
    return aws_peer.client("dynamodb")


def new_table(dynamodb: Any, view: str) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    answer = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return str(answer["TableDescription"]["LatestStreamArn"])


def run_until(
    config: MappingConfig,
    function: Function,
    clients: Callable[[str, str], Any],
    condition: Callable[[], bool],
    checkpoints: MemoryCheckpoints | None = None,
) -> None:
    executor = DaemonThreadPool(8, "test-ddb-pollers")
    poller = DynamoDBPoller(
        config,
        invoker=function,
        executor=executor,
        report=lambda result: None,
        may_deliver=lambda: True,
        source_factory=DynamoDBSource,
        client_factory=clients,
        checkpoints=checkpoints or MemoryCheckpoints(),
        poll_s=0.05,
        relist_s=0.2,
    )

    async def scenario() -> None:
        poller.start()
        deadline = asyncio.get_running_loop().time() + 30
        try:
            while not condition():
                assert asyncio.get_running_loop().time() < deadline, "the condition never held"
                await asyncio.sleep(0.05)
        finally:
            await poller.stop()

    try:
        asyncio.run(scenario())
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def change_items(dynamodb: Any, table: str) -> None:
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    dynamodb.delete_item(TableName=table, Key={"id": {"S": "a"}})


def table_of(stream_arn: str) -> str:
    return stream_arn.split(":", 5)[5].split("/")[1]


def test_inserts_updates_and_deletes_arrive_in_lambdas_dynamodb_event_shape(
    dynamodb: Any, aws_peer: AwsPeer
) -> None:
    arn = new_table(dynamodb, "NEW_AND_OLD_IMAGES")
    change_items(dynamodb, table_of(arn))
    function = Function()
    config = mapping(arn, batch_size=100, starting_position="TRIM_HORIZON")
    run_until(config, function, peer_clients(aws_peer), lambda: len(function.records) >= 3)

    records = function.records
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert list(record) == [
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        ]
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == arn
        assert record["awsRegion"] == "us-east-1"
        inner = record["dynamodb"]
        assert isinstance(inner["ApproximateCreationDateTime"], int | float)
        assert inner["Keys"] == {"id": {"S": "a"}}
        assert inner["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(inner["SequenceNumber"], str)
        assert next(iter(inner)) == "ApproximateCreationDateTime"
        assert list(inner)[-1] == "StreamViewType"
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    assert "OldImage" not in insert
    assert modify["OldImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    assert modify["NewImage"] == {"id": {"S": "a"}, "n": {"N": "2"}}
    assert remove["OldImage"] == {"id": {"S": "a"}, "n": {"N": "2"}}
    assert "NewImage" not in remove
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences)


def test_a_keys_only_stream_delivers_keys_without_images(dynamodb: Any, aws_peer: AwsPeer) -> None:
    arn = new_table(dynamodb, "KEYS_ONLY")
    change_items(dynamodb, table_of(arn))
    function = Function()
    config = mapping(arn, starting_position="TRIM_HORIZON")
    run_until(config, function, peer_clients(aws_peer), lambda: len(function.records) >= 3)
    for record in function.records:
        assert record["dynamodb"]["Keys"] == {"id": {"S": "a"}}
        assert "NewImage" not in record["dynamodb"]
        assert "OldImage" not in record["dynamodb"]


def test_filters_see_dynamodb_records_as_they_are(dynamodb: Any, aws_peer: AwsPeer) -> None:
    arn = new_table(dynamodb, "NEW_IMAGE")
    change_items(dynamodb, table_of(arn))
    function = Function()
    filters = compile_filter_criteria({"Filters": [{"Pattern": '{"eventName": ["REMOVE"]}'}]})
    checkpoints = MemoryCheckpoints()
    config = mapping(arn, starting_position="TRIM_HORIZON", filters=filters)
    run_until(
        config,
        function,
        peer_clients(aws_peer),
        lambda: len(function.records) >= 1,
        checkpoints,
    )
    assert [r["eventName"] for r in function.records] == ["REMOVE"]


def test_a_restarted_poller_resumes_after_its_checkpoint(dynamodb: Any, aws_peer: AwsPeer) -> None:
    arn = new_table(dynamodb, "NEW_IMAGE")
    table = table_of(arn)
    for n in range(5):
        dynamodb.put_item(TableName=table, Item={"id": {"S": f"a{n}"}})
    checkpoints = MemoryCheckpoints()
    config = mapping(arn, batch_size=5, starting_position="TRIM_HORIZON")
    first = Function()
    clients = peer_clients(aws_peer)
    run_until(config, first, clients, lambda: len(first.records) >= 5, checkpoints)
    for n in range(5, 8):
        dynamodb.put_item(TableName=table, Item={"id": {"S": f"a{n}"}})
    second = Function()
    run_until(config, second, clients, lambda: len(second.records) >= 3, checkpoints)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in second.records] == ["a5", "a6", "a7"]


def test_a_poller_begun_at_latest_resumes_from_then_before_any_record(
    dynamodb: Any, aws_peer: AwsPeer
) -> None:
    arn = new_table(dynamodb, "NEW_IMAGE")
    table = table_of(arn)
    dynamodb.put_item(TableName=table, Item={"id": {"S": "old"}})
    time.sleep(2.1)  # the stream's timestamps count whole seconds
    checkpoints = MemoryCheckpoints()
    config = mapping(arn, starting_position="LATEST")
    clients = peer_clients(aws_peer)
    run_until(config, Function(), clients, lambda: bool(checkpoints.rows), checkpoints)
    dynamodb.put_item(TableName=table, Item={"id": {"S": "new"}})
    function = Function()
    run_until(config, function, clients, lambda: bool(function.records), checkpoints)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in function.records] == ["new"]
