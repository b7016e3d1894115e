"""The eventstream encoder, read back by botocore's own decoder (what boto3 parses)."""

from __future__ import annotations

import json
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from awsapi import eventstream


def _decode(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_a_payload_chunk_decodes_with_its_bytes_and_event_headers() -> None:
    data = bytes(range(256)) * 3
    [(headers, payload)] = _decode(eventstream.payload_chunk(data))
    assert payload == data
    assert headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }


def test_invoke_complete_carries_only_the_members_given() -> None:
    frames = eventstream.invoke_complete() + eventstream.invoke_complete(
        "Runtime.ExitError", "exit status 1", "U1RBUlQ="
    )
    [(first_headers, first), (_, second)] = _decode(frames)
    assert first_headers[":event-type"] == "InvokeComplete"
    assert json.loads(first) == {}
    assert json.loads(second) == {
        "ErrorCode": "Runtime.ExitError",
        "ErrorDetails": "exit status 1",
        "LogResult": "U1RBUlQ=",
    }


def test_messages_split_anywhere_decode_in_order() -> None:
    frames = b"".join(eventstream.payload_chunk(str(i).encode()) for i in range(50))
    buffer = EventStreamBuffer()
    payloads = []
    for start in range(0, len(frames), 7):
        buffer.add_data(frames[start : start + 7])
        payloads += [message.payload for message in buffer]
    assert payloads == [str(i).encode() for i in range(50)]


def test_a_corrupted_message_fails_botocores_checksum() -> None:
    frame = bytearray(eventstream.payload_chunk(b"hello"))
    frame[-6] ^= 0xFF  # a payload byte
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(frame))


def test_the_prelude_checksum_covers_the_two_lengths() -> None:
    frame = eventstream.payload_chunk(b"x")
    assert int.from_bytes(frame[8:12], "big") == zlib.crc32(frame[:8])
    assert int.from_bytes(frame[:4], "big") == len(frame)


def test_it_refuses_a_message_botocore_would_refuse() -> None:
    with pytest.raises(ValueError):
        eventstream.payload_chunk(b"x" * (16 * 1024 * 1024))
