"""``invoke_stream``'s reading of an ``HttpResponseStream.from`` prelude (what function URLs
serve as status, headers and cookies), in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from invocations.executor.streaming import ResponseStream
from invocations.services import (
    HTTP_INTEGRATION_TYPE,
    MAX_PRELUDE_BYTES,
    HttpPrelude,
    _split_prelude,
)


def _split(pieces: list[bytes], content_type: str | None = HTTP_INTEGRATION_TYPE) -> list[object]:
    stream = ResponseStream()
    stream.begin(content_type)

    async def source() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async def collect() -> list[object]:
        return [item async for item in _split_prelude(source(), stream)]

    return asyncio.run(collect())


def test_the_prelude_is_parsed_and_the_body_follows_in_its_pieces() -> None:
    prelude = b'{"statusCode": 201, "headers": {"x-a": "1"}, "cookies": ["c=1"]}'
    items = _split([prelude, b"\0" * 8, b"body ", b"more"])
    assert items == [HttpPrelude(201, {"x-a": "1"}, ["c=1"]), b"body ", b"more"]


def test_a_prelude_split_across_pieces_and_sharing_one_with_the_body() -> None:
    items = _split([b'{"statusCode":', b" 404}\0\0\0", b"\0\0\0\0\0body"])
    assert items == [HttpPrelude(404), b"body"]


@pytest.mark.parametrize(
    "prelude",
    [b"[1, 2]", b"not json", b'{"statusCode": "200"}', b'{"headers": []}', b'{"cookies": 1}'],
)
def test_an_invalid_prelude_is_passed_on_as_bytes(prelude: bytes) -> None:
    assert _split([prelude + b"\0" * 8 + b"x"]) == [prelude + b"\0" * 8 + b"x"]


def test_a_prelude_that_never_ends_is_not_held_past_16_kb() -> None:
    flood = [b"{" * 4096] * 8
    items = _split(flood)
    assert b"".join(item for item in items if isinstance(item, bytes)) == b"".join(flood)
    assert not any(isinstance(item, HttpPrelude) for item in items)


def test_a_stream_that_ends_inside_the_prelude_is_passed_on() -> None:
    assert _split([b'{"statusCode": 200']) == [b'{"statusCode": 200']


def test_another_content_type_is_passed_on_untouched() -> None:
    raw = b'{"statusCode": 201}' + b"\0" * 8
    assert _split([raw], content_type="application/octet-stream") == [raw]
    assert MAX_PRELUDE_BYTES == 16 * 1024
