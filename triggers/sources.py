"""Kinds of event source, recognised from ``EventSourceArn`` (or ``SelfManagedEventSource``),
with the settings and limits Lambda applies to each."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z0-9-]*):(?P<service>[a-zA-Z0-9-]+):(?P<region>[^:]*):"
    r"(?P<account>\d{12}|):(?P<resource>.+)$"
)


class SourceKind(enum.Enum):
    SQS = "sqs"
    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"
    KAFKA = "kafka"  # Amazon MSK
    SELF_MANAGED_KAFKA = "self-managed-kafka"
    MQ = "mq"  # Amazon MQ (ActiveMQ, RabbitMQ) and this platform's RabbitMQ
    DOCUMENTDB = "documentdb"

    @property
    def is_stream(self) -> bool:
        """Kinesis and DynamoDB Streams: shards, checkpoints and the stream settings."""
        return self in (SourceKind.KINESIS, SourceKind.DYNAMODB)

    @property
    def takes_starting_position(self) -> bool:
        return self in (
            SourceKind.KINESIS,
            SourceKind.DYNAMODB,
            SourceKind.KAFKA,
            SourceKind.SELF_MANAGED_KAFKA,
            SourceKind.DOCUMENTDB,
        )

    @property
    def is_kafka(self) -> bool:
        return self in (SourceKind.KAFKA, SourceKind.SELF_MANAGED_KAFKA)

    @property
    def label(self) -> str:
        """How AWS's messages name the source type."""
        return _LABELS[self]

    @property
    def filter_source(self) -> str:
        """The record shape :func:`triggers.filtering.record_view` expects."""
        if self.is_kafka:
            return "kafka"
        return self.value


_LABELS = {
    SourceKind.SQS: "SQS",
    SourceKind.KINESIS: "Kinesis",
    SourceKind.DYNAMODB: "DynamoDB",
    SourceKind.KAFKA: "Kafka",
    SourceKind.SELF_MANAGED_KAFKA: "Kafka",
    SourceKind.MQ: "MQ",
    SourceKind.DOCUMENTDB: "DocumentDB",
}


@dataclass(frozen=True)
class SourceArn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(arn: str) -> SourceArn | None:
    match = _ARN_RE.match(arn)
    if match is None:
        return None
    return SourceArn(
        match["partition"], match["service"], match["region"], match["account"], match["resource"]
    )


def source_kind(arn: str) -> SourceKind | None:
    """The kind of source an ``EventSourceArn`` names, or ``None`` if Lambda takes none such."""
    parsed = parse_arn(arn)
    if parsed is None:
        return None
    service, resource = parsed.service, parsed.resource
    if service == "sqs" and resource and ":" not in resource and "/" not in resource:
        return SourceKind.SQS
    if service == "kinesis" and resource.startswith("stream/"):
        return SourceKind.KINESIS
    if service == "dynamodb" and re.fullmatch(r"table/[^/]+/stream/[^/]+", resource):
        return SourceKind.DYNAMODB
    if service == "kafka" and resource.startswith("cluster/"):
        return SourceKind.KAFKA
    if service == "mq" and resource.startswith("broker:"):
        return SourceKind.MQ
    if service == "rds" and resource.startswith("cluster:"):
        return SourceKind.DOCUMENTDB
    return None


def mapping_kind(event_source_arn: str, self_managed_event_source: Any) -> SourceKind | None:
    """The kind of a stored mapping's source."""
    if event_source_arn:
        return source_kind(event_source_arn)
    return SourceKind.SELF_MANAGED_KAFKA if self_managed_event_source else None


def is_fifo_queue(arn: str) -> bool:
    parsed = parse_arn(arn)
    return parsed is not None and parsed.service == "sqs" and parsed.resource.endswith(".fifo")


@dataclass(frozen=True)
class BatchLimits:
    default_batch_size: int
    max_batch_size: int


def batch_limits(kind: SourceKind, *, fifo: bool = False) -> BatchLimits:
    if kind is SourceKind.SQS:
        return BatchLimits(10, 10 if fifo else 10000)
    return BatchLimits(100, 10000)
