"""Kinesis Data Streams as a stream source (the frame is ``streams.py``): ListShards,
GetShardIterator and GetRecords through boto3, records in Lambda's Kinesis event shape."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from triggers.pollers.base import Poller, PollerContext, PollerFactory
from triggers.pollers.config import MappingConfig
from triggers.pollers.stream_records import Page, Position, ShardInfo, StreamRecord
from triggers.pollers.streams import StreamPoller, aws_client


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(value or 0)


def kinesis_record(raw: dict[str, Any], shard_id: str, config: MappingConfig) -> StreamRecord:
    """One GetRecords record as a record of Lambda's Kinesis event."""
    sequence = str(raw["SequenceNumber"])
    arrival = _epoch(raw.get("ApproximateArrivalTimestamp"))
    data = raw.get("Data", b"")
    encoded = base64.b64encode(data if isinstance(data, bytes) else str(data).encode())
    record = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw.get("PartitionKey", ""),
            "sequenceNumber": sequence,
            "data": encoded.decode(),
            "approximateArrivalTimestamp": round(arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": config.role_arn,
        "awsRegion": config.region,
        "eventSourceARN": config.event_source_arn,
    }
    return StreamRecord(
        record=record,
        sequence=sequence,
        partition_key=str(raw.get("PartitionKey", "")),
        arrival=arrival,
    )


class KinesisSource:
    batch_info_key = "KinesisBatchInfo"

    def __init__(self, config: MappingConfig, clients: Callable[[str, str], Any]) -> None:
        self.config = config
        self.client = clients("kinesis", config.region)
        self.arn = config.event_source_arn

    def shards(self) -> list[ShardInfo]:
        found: list[ShardInfo] = []
        params: dict[str, Any] = {"StreamARN": self.arn}
        while True:
            answer = self.client.list_shards(**params)
            for shard in answer.get("Shards", []):
                parents = tuple(
                    parent
                    for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
                    if parent
                )
                closed = "EndingSequenceNumber" in (shard.get("SequenceNumberRange") or {})
                found.append(ShardInfo(shard["ShardId"], parents, closed))
            token = answer.get("NextToken")
            if not token:
                return found
            params = {"NextToken": token}

    def iterator(self, shard_id: str, position: Position) -> str:
        params: dict[str, Any] = {
            "StreamARN": self.arn,
            "ShardId": shard_id,
            "ShardIteratorType": position.kind,
        }
        if position.kind == "AFTER_SEQUENCE_NUMBER":
            params["StartingSequenceNumber"] = position.sequence
        elif position.kind == "AT_TIMESTAMP":
            params["Timestamp"] = datetime.fromtimestamp(position.timestamp or 0.0, UTC)
        return str(self.client.get_shard_iterator(**params)["ShardIterator"])

    def read(self, iterator: str, shard_id: str, limit: int) -> Page:
        answer = self.client.get_records(ShardIterator=iterator, Limit=limit, StreamARN=self.arn)
        records = [kinesis_record(raw, shard_id, self.config) for raw in answer["Records"]]
        return Page(records, answer.get("NextShardIterator"))


class KinesisPoller(StreamPoller):
    service_label = "Kinesis"


def poller_factory(
    client_factory: Callable[[str, str], Any] = aws_client, **options: Any
) -> PollerFactory:
    """Builds Kinesis pollers reading through ``client_factory(service, region)``."""

    def build(config: MappingConfig, context: PollerContext) -> Poller:
        return KinesisPoller(
            config,
            invoker=context.invoker,
            executor=context.executor,
            report=context.report,
            may_deliver=context.may_deliver,
            source_factory=KinesisSource,
            client_factory=client_factory,
            **options,
        )

    return build
