"""Request bodies of the platform API: JSON objects, parsed with the limits of every other
JSON the platform reads (no duplicate keys, bounded depth and numbers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from awsapi import strictjson
from awsapi.errors import RequestTooLarge


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # DRF reads the request as a stream, past Django's own body limit: apply it here.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        if not body.strip():
            return {}
        try:
            data = strictjson.loads(body)
        except strictjson.JSONError as exc:
            raise ParseError("The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ParseError("The request body must be a JSON object.")
        return data
