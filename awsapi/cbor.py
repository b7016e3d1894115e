"""CBOR (RFC 8949) for the Smithy RPC v2 protocol: a bounded decoder and a small encoder.

RPC v2 CBOR bodies use maps with text keys, arrays, text and byte strings, integers, floats,
booleans, null and tag 1 (epoch-seconds timestamps); nothing else is accepted. The decoder
is written for hostile input: nesting deeper than ``max_depth`` is refused before it can
recurse further, a declared length larger than what is left of the body is refused before
anything is allocated (each item takes at least one byte, so no count can outgrow the
body), and any other tag, a duplicate map key, invalid UTF-8, a stray ``break`` or bytes
after the item are errors. Indefinite-length strings, arrays and maps are accepted, as the
protocol allows clients to send them.

Own code rather than a dependency: ``cbor2`` (the maintained PyPI package) decodes value
sharing (tags 28/29) into self-referencing containers and a dozen other tags into
arbitrary Python types with no switch to refuse them, which every walk over the request
would then have to guard against.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

MAX_DEPTH = 32
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_BREAK = 0xFF


class CBORError(ValueError):
    """A body that is not acceptable CBOR; the message says why, for the client."""


class _Break:
    """The ``break`` stop code, seen where an indefinite-length item may end."""


_STOP = _Break()


class _Decoder:
    __slots__ = ("data", "max_depth", "pos")

    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth

    def _take(self, count: int) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise CBORError(f"Unexpected end of CBOR data at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _argument(self, info: int) -> int | None:
        """The head's argument; None for the indefinite-length marker (31)."""
        if info < 24:
            return info
        if info == 24:
            return self._take(1)[0]
        if info == 25:
            return int(struct.unpack(">H", self._take(2))[0])
        if info == 26:
            return int(struct.unpack(">I", self._take(4))[0])
        if info == 27:
            return int(struct.unpack(">Q", self._take(8))[0])
        if info == 31:
            return None
        raise CBORError(f"Reserved additional information {info} at offset {self.pos - 1}")

    def _left(self) -> int:
        return len(self.data) - self.pos

    def item(self, depth: int, *, in_indefinite: bool = False) -> Any:
        if depth > self.max_depth:
            raise CBORError(f"CBOR nesting deeper than {self.max_depth} levels")
        start = self.pos
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if initial == _BREAK:
            if in_indefinite:
                return _STOP
            raise CBORError(f"Unexpected break at offset {start}")
        if major == 7:
            return self._simple(info, start)
        argument = self._argument(info)
        if major == 0:
            if argument is None:
                raise CBORError(f"Invalid integer at offset {start}")
            return argument
        if major == 1:
            if argument is None:
                raise CBORError(f"Invalid integer at offset {start}")
            return -1 - argument
        if major in (2, 3):
            return self._string(major, argument, start)
        if major == 4:
            return self._array(argument, depth)
        if major == 5:
            return self._map(argument, depth)
        # major 6: a tag
        if argument != 1:
            raise CBORError(f"Unsupported CBOR tag {argument} at offset {start}")
        return self._timestamp(self.item(depth + 1), start)

    def _simple(self, info: int, start: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):  # null, undefined
            return None
        if info == 25:
            return float(struct.unpack(">e", self._take(2))[0])
        if info == 26:
            return float(struct.unpack(">f", self._take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", self._take(8))[0])
        raise CBORError(f"Unsupported simple value at offset {start}")

    def _string(self, major: int, length: int | None, start: int) -> str | bytes:
        if length is None:
            chunks: list[bytes] = []
            while True:
                head = self._take(1)[0]
                if head == _BREAK:
                    break
                if head >> 5 != major:
                    raise CBORError(f"Invalid chunk in indefinite-length string at {start}")
                size = self._argument(head & 0x1F)
                if size is None:
                    raise CBORError(f"Nested indefinite-length string at offset {start}")
                chunks.append(self._take(size))
            raw = b"".join(chunks)
        else:
            raw = self._take(length)
        if major == 2:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CBORError(f"Invalid UTF-8 in the text string at offset {start}") from None

    def _array(self, length: int | None, depth: int) -> list[Any]:
        if length is None:
            items: list[Any] = []
            while True:
                value = self.item(depth + 1, in_indefinite=True)
                if value is _STOP:
                    return items
                items.append(value)
        if length > self._left():
            raise CBORError(f"Array of {length} items is longer than the data left")
        return [self.item(depth + 1) for _ in range(length)]

    def _map(self, length: int | None, depth: int) -> dict[str, Any]:
        if length is not None and length * 2 > self._left():
            raise CBORError(f"Map of {length} pairs is longer than the data left")
        result: dict[str, Any] = {}
        count = 0
        while length is None or count < length:
            at = self.pos
            key = self.item(depth + 1, in_indefinite=length is None)
            if key is _STOP:
                break
            if not isinstance(key, str):
                raise CBORError(f"Map key at offset {at} is not a text string")
            if key in result:
                raise CBORError(f"Duplicate map key {key[:64]!r}")
            result[key] = self.item(depth + 1)
            count += 1
        return result

    def _timestamp(self, value: Any, start: int) -> dt.datetime:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CBORError(f"Tag 1 at offset {start} does not hold a number")
        if not math.isfinite(value):
            raise CBORError(f"Tag 1 at offset {start} does not hold a finite number")
        try:
            return _EPOCH + dt.timedelta(seconds=value)
        except OverflowError:
            raise CBORError(f"Timestamp at offset {start} is out of range") from None


def loads(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one CBOR item that fills ``data``; raises :class:`CBORError`. Tag 1 becomes
    an aware ``datetime`` (UTC)."""
    decoder = _Decoder(bytes(data), max_depth)
    value = decoder.item(1)
    if decoder.pos != len(decoder.data):
        raise CBORError(f"{len(decoder.data) - decoder.pos} bytes after the CBOR item")
    return value


# ---- encoding --------------------------------------------------------------------------


def _head(out: bytearray, major: int, value: int) -> None:
    if value < 24:
        out.append(major << 5 | value)
    elif value < 0x100:
        out += bytes((major << 5 | 24, value))
    elif value < 0x10000:
        out.append(major << 5 | 25)
        out += struct.pack(">H", value)
    elif value < 0x100000000:
        out.append(major << 5 | 26)
        out += struct.pack(">I", value)
    else:
        out.append(major << 5 | 27)
        out += struct.pack(">Q", value)


def _encode(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CBORError("Value nests too deeply to encode")
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 2**64 or value < -(2**64):
            raise CBORError("Integer out of CBOR's range")
        if value >= 0:
            _head(out, 0, value)
        else:
            _head(out, 1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(out, 3, len(raw))
        out += raw
    elif isinstance(value, bytes | bytearray):
        _head(out, 2, len(value))
        out += value
    elif isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        seconds = (aware - _EPOCH) / dt.timedelta(seconds=1)
        out.append(0xC1)  # tag 1
        _encode(out, int(seconds) if seconds == int(seconds) else seconds, depth + 1)
    elif isinstance(value, list | tuple):
        _head(out, 4, len(value))
        for item in value:
            _encode(out, item, depth + 1)
    elif isinstance(value, dict):
        _head(out, 5, len(value))
        for key, item in value.items():
            _encode(out, str(key), depth + 1)
            _encode(out, item, depth + 1)
    else:
        raise CBORError(f"Cannot encode {type(value).__name__} as CBOR")


def dumps(value: Any) -> bytes:
    """Encode ``value`` (None, bool, int, float, str, bytes, list, dict, datetime)."""
    out = bytearray()
    _encode(out, value, 1)
    return bytes(out)
