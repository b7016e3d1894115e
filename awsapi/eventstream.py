"""The ``application/vnd.amazon.eventstream`` framing of AWS's streaming responses.

A message is a 12-byte prelude (total length, headers length, CRC32 of those eight bytes),
the headers, the payload, and a CRC32 of everything before it; all integers big-endian.
Only string headers (type 7) are written: the ``:event-type``, ``:content-type`` and
``:message-type`` a response stream's events carry.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7
# botocore's decoder refuses larger messages and header blocks.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_HEADERS_BYTES = 128 * 1024


def _header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    if len(raw_name) > 255 or len(raw_value) > 0xFFFF:
        raise ValueError(f"eventstream header {name!r} too long")
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One framed message."""
    block = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(block) + len(payload) + 4
    if total > MAX_MESSAGE_BYTES or len(block) > MAX_HEADERS_BYTES:
        raise ValueError("eventstream message too large")
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + block + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    return message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
        payload,
    )


def payload_chunk(data: bytes) -> bytes:
    """A ``PayloadChunk`` event of InvokeWithResponseStream: the function's bytes as they are."""
    return event("PayloadChunk", data, "application/octet-stream")


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    """The ``InvokeComplete`` event that ends an InvokeWithResponseStream answer."""
    document = {
        key: value
        for key, value in (
            ("ErrorCode", error_code),
            ("ErrorDetails", error_details),
            ("LogResult", log_result),
        )
        if value is not None
    }
    return event("InvokeComplete", json.dumps(document).encode(), "application/json")
