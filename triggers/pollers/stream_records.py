"""What flows through a stream poller (``streams.py``): shards, records and where to read
from, batches cut to size and to tumbling windows, a shard's progress towards its
checkpoint, and the failure record AWS sends an OnFailure destination."""

from __future__ import annotations

import hashlib
import json
import time
import uuid as uuid_module
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from functions import arns
from invocations.services import MAX_PAYLOAD_BYTES
from triggers.pollers.config import MappingConfig
from triggers.pollers.invoke import Outcome

# Past this a tumbling window's state ends the window early.
MAX_WINDOW_STATE_BYTES = 1024 * 1024

RETRIES_EXHAUSTED = "RetryAttemptsExhausted"

RECORD_AGE_EXCEEDED = "RecordAgeExceeded"

_EVENT_OPEN = b'{"Records":['

_EVENT_CLOSE = b"]}"


@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    # Listed parents (one after a split, two after a merge).
    parents: tuple[str, ...]
    # The listing gives it an ending sequence number: no record is added any more.
    closed: bool


@dataclass
class StreamRecord:
    """One record read: in the event's shape, and what the frame needs of it."""

    record: dict[str, Any]
    sequence: str
    # What orders records across lanes (ParallelizationFactor).
    partition_key: str
    # When the stream got it (epoch seconds).
    arrival: float
    encoded: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.encoded:
            self.encoded = json.dumps(self.record, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Position:
    """Where a shard iterator starts: ``AFTER_SEQUENCE_NUMBER`` (``sequence``),
    ``TRIM_HORIZON``, ``LATEST`` or ``AT_TIMESTAMP`` (``timestamp``)."""

    kind: str
    sequence: str = ""
    timestamp: float | None = None


@dataclass(frozen=True)
class Page:
    records: list[StreamRecord]
    # None: the shard is closed and read to its end.
    next_iterator: str | None


class StreamSource(Protocol):
    """One stream's blocking calls (run in the poller threads); they raise on failure."""

    # The failure record's key: "KinesisBatchInfo" or "DDBStreamBatchInfo".
    batch_info_key: str

    def shards(self) -> list[ShardInfo]: ...
    def iterator(self, shard_id: str, position: Position) -> str: ...
    def read(self, iterator: str, shard_id: str, limit: int) -> Page: ...


def event_payload(records: list[StreamRecord], extra: bytes = b"") -> bytes:
    """The event: ``Records``, then ``extra`` members (a tumbling window's) if any."""
    body = _EVENT_OPEN + b",".join(record.encoded for record in records) + b"]"
    return body + (b"," + extra if extra else b"") + b"}"


def take_batch(
    buffer: deque[StreamRecord],
    batch_size: int,
    limit: int = MAX_PAYLOAD_BYTES,
    same: Callable[[StreamRecord], bool] | None = None,
) -> list[StreamRecord]:
    """The next batch off the front of ``buffer``: up to ``batch_size`` records whose event
    fits ``limit`` bytes (one record too large alone is a batch of its own), ending before
    the first record ``same`` refuses (one of a later tumbling window)."""
    batch: list[StreamRecord] = []
    size = len(_EVENT_OPEN) + len(_EVENT_CLOSE)
    while buffer and len(batch) < batch_size:
        extra = len(buffer[0].encoded) + (1 if batch else 0)
        if batch and (size + extra > limit or (same is not None and not same(buffer[0]))):
            break
        batch.append(buffer.popleft())
        size += extra
    return batch


def lane_of(partition_key: str, lanes: int) -> int:
    """Which of a shard's lanes a partition key's records go through (stable across hosts)."""
    if lanes <= 1:
        return 0
    digest = hashlib.md5(partition_key.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % lanes


def window_start(arrival: float, length: int) -> float:
    """The start of the tumbling window a record that arrived at ``arrival`` belongs to."""
    return arrival - arrival % length


def in_window(length: int, start: float, record: StreamRecord) -> bool:
    """Whether a record belongs to the window beginning at ``start`` (or an earlier one:
    a record late by the clocks' skew joins the open window)."""
    return window_start(record.arrival, length) <= start


@dataclass
class Window:
    """One lane's open tumbling window: its bounds and the state the function returned."""

    start: float
    end: float
    state: Any = field(default_factory=dict)
    terminated_early: bool = False

    def members(self, shard_id: str, source_arn: str, final: bool) -> bytes:
        """The event's members after ``Records``."""
        members = {
            "window": {"start": iso_seconds(self.start), "end": iso_seconds(self.end)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": source_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": self.terminated_early,
        }
        return json.dumps(members, ensure_ascii=False).encode()[1:-1]

    def absorb(self, payload: bytes) -> None:
        """Keep the ``state`` of a successful invocation's answer."""
        try:
            answer = json.loads(payload) if payload.strip() else None
        except (ValueError, RecursionError):
            answer = None
        state = answer.get("state") if isinstance(answer, dict) else None
        self.state = state if isinstance(state, dict) else {}
        if len(payload) > MAX_WINDOW_STATE_BYTES:
            self.terminated_early = True


def iso_seconds(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Progress:
    """A shard's records read and not yet checkpointed, in stream order: a checkpoint may
    move only past records that are all done (lanes finish out of order)."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, bool] = OrderedDict()

    def add(self, sequence: str) -> None:
        self._pending[sequence] = False

    def done(self, sequences: list[str]) -> str | None:
        """Mark records done; the new checkpoint, if it moved."""
        for sequence in sequences:
            if sequence in self._pending:
                self._pending[sequence] = True
        moved: str | None = None
        while self._pending:
            sequence, finished = next(iter(self._pending.items()))
            if not finished:
                break
            self._pending.popitem(last=False)
            moved = sequence
        return moved

    def clear(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)


class Stopped(Exception):
    """The poller was told to stop (disabled, deleted, lease lost)."""


class BrokerError(Exception):
    """The stream could not be reached or refused a call."""


class IteratorExpired(BrokerError):
    """A shard iterator outlived its five minutes (the lanes were busy): get a new one."""


Done = Callable[[list["StreamRecord"]], Any]
"""Receives a shard's records as they are done with (the checkpoint may move past them)."""


def describe(error: BaseException, service: str) -> str:
    """A broker error as a LastProcessingResult."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        message = response["Error"].get("Message", "")
        return f"PROBLEM: {service} answered {code}: {message}"[:1024]
    return f"PROBLEM: Lambda could not reach {service}: {error}"[:1024]


def failure_record(
    config: MappingConfig,
    shard_id: str,
    piece: list[StreamRecord],
    condition: str,
    invokes: int,
    outcome: Outcome | None,
    source: StreamSource,
) -> dict[str, Any]:
    """What AWS sends an OnFailure destination for a stream batch given up: where the
    records are, not the records."""
    function_arn = arns.function_arn(config.account.id, config.function_name)
    if config.qualifier:
        function_arn = f"{function_arn}:{config.qualifier}"
    response_context: dict[str, Any] = {
        "statusCode": 200,
        "executedVersion": config.qualifier or "$LATEST",
    }
    if outcome is not None and outcome.function_error:
        response_context["functionError"] = outcome.function_error
    return {
        "requestContext": {
            "requestId": str(uuid_module.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": iso_millis(time.time()),
        source.batch_info_key: {
            "shardId": shard_id,
            "startSequenceNumber": piece[0].sequence,
            "endSequenceNumber": piece[-1].sequence,
            "approximateArrivalOfFirstRecord": iso_millis(piece[0].arrival),
            "approximateArrivalOfLastRecord": iso_millis(piece[-1].arrival),
            "batchSize": len(piece),
            "streamArn": config.event_source_arn,
        },
    }
