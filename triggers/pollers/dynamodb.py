"""DynamoDB Streams as a stream source (the frame is ``streams.py``): DescribeStream,
GetShardIterator and GetRecords through boto3, records in Lambda's DynamoDB event shape.

DynamoDB Streams has no AT_TIMESTAMP iterator: where the frame asks for one (a shard begun
at LATEST by an earlier holder, resumed from then) it reads from TRIM_HORIZON and skips the
records created more than a second (the timestamps' precision) before that moment.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from triggers.pollers.base import Poller, PollerContext, PollerFactory
from triggers.pollers.config import MappingConfig
from triggers.pollers.stream_records import Page, Position, ShardInfo, StreamRecord
from triggers.pollers.streams import StreamPoller, aws_client

# GetRecords returns at most this many records per call.
READ_LIMIT = 1000
# The order of the members of a record's "dynamodb" in Lambda's events.
_STREAM_RECORD_ORDER = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)


def _json_safe(value: Any) -> Any:
    """Attribute values as JSON: binary (B, BS) base64 as the wire has it."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(value or 0)


def dynamodb_record(raw: dict[str, Any], config: MappingConfig) -> StreamRecord:
    """One GetRecords record as a record of Lambda's DynamoDB event."""
    inner = dict(raw.get("dynamodb") or {})
    created = _epoch(inner.get("ApproximateCreationDateTime"))
    stream_record: dict[str, Any] = {}
    for name in _STREAM_RECORD_ORDER:
        if name == "ApproximateCreationDateTime":
            stream_record[name] = int(created) if created == int(created) else created
        elif name in inner:
            stream_record[name] = _json_safe(inner[name])
    for name, value in inner.items():
        stream_record.setdefault(name, _json_safe(value))
    record: dict[str, Any] = {
        "eventID": raw.get("eventID", ""),
        "eventName": raw.get("eventName", ""),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": raw.get("eventSource", "aws:dynamodb"),
        "awsRegion": raw.get("awsRegion") or config.region,
        "dynamodb": stream_record,
        "eventSourceARN": config.event_source_arn,
    }
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return StreamRecord(
        record=record,
        sequence=str(inner.get("SequenceNumber", "")),
        partition_key=json.dumps(stream_record.get("Keys", {}), sort_keys=True),
        arrival=created,
    )


class DynamoDBSource:
    batch_info_key = "DDBStreamBatchInfo"

    def __init__(self, config: MappingConfig, clients: Callable[[str, str], Any]) -> None:
        self.config = config
        self.client = clients("dynamodbstreams", config.region)
        self.arn = config.event_source_arn
        # Per shard: records created before this (epoch seconds) are skipped.
        self._skip_before: dict[str, float] = {}

    def shards(self) -> list[ShardInfo]:
        found: list[ShardInfo] = []
        params: dict[str, Any] = {"StreamArn": self.arn}
        while True:
            description = self.client.describe_stream(**params)["StreamDescription"]
            for shard in description.get("Shards", []):
                parent = shard.get("ParentShardId")
                closed = "EndingSequenceNumber" in (shard.get("SequenceNumberRange") or {})
                found.append(ShardInfo(shard["ShardId"], (parent,) if parent else (), closed))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return found
            params = {"StreamArn": self.arn, "ExclusiveStartShardId": last}

    def iterator(self, shard_id: str, position: Position) -> str:
        params: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id}
        if position.kind == "AFTER_SEQUENCE_NUMBER":
            params["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            params["SequenceNumber"] = position.sequence
        elif position.kind == "LATEST":
            params["ShardIteratorType"] = "LATEST"
        else:
            params["ShardIteratorType"] = "TRIM_HORIZON"
        if position.kind == "AT_TIMESTAMP":
            self._skip_before[shard_id] = (position.timestamp or 0.0) - 1.0
        else:
            self._skip_before.pop(shard_id, None)
        return str(self.client.get_shard_iterator(**params)["ShardIterator"])

    def read(self, iterator: str, shard_id: str, limit: int) -> Page:
        answer = self.client.get_records(ShardIterator=iterator, Limit=min(limit, READ_LIMIT))
        records = [dynamodb_record(raw, self.config) for raw in answer.get("Records", [])]
        skip_before = self._skip_before.get(shard_id)
        if skip_before is not None:
            records = [record for record in records if record.arrival >= skip_before]
        return Page(records, answer.get("NextShardIterator"))


class DynamoDBPoller(StreamPoller):
    service_label = "DynamoDB Streams"


def poller_factory(
    client_factory: Callable[[str, str], Any] = aws_client, **options: Any
) -> PollerFactory:
    """Builds DynamoDB Streams pollers reading through ``client_factory(service, region)``."""

    def build(config: MappingConfig, context: PollerContext) -> Poller:
        return DynamoDBPoller(
            config,
            invoker=context.invoker,
            executor=context.executor,
            report=context.report,
            may_deliver=context.may_deliver,
            source_factory=DynamoDBSource,
            client_factory=client_factory,
            **options,
        )

    return build
