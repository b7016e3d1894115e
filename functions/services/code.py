"""Uploaded code packages: reading a ``ZipFile`` code source and the account's storage quota.

Functions and layers both take code this way; the checks live here, below both, so neither
service imports the other for them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from awsapi.errors import (
    CodeStorageExceeded,
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
)
from functions import selectors, zips
from iam.models import Account


@dataclass(frozen=True)
class UploadedCode:
    data: bytes
    summary: zips.ZipSummary


def decode_zip(value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidRequestContent(
            "Could not parse request body into json: ZipFile must be base64"
        )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestContent(
            "Could not parse request body into json: Could not decode ZipFile as base64"
        ) from exc


def read_code_source(params: dict[str, Any]) -> UploadedCode:
    """The zip from ``ZipFile``; S3 and image sources are answered clearly."""
    if params.get("ImageUri"):
        raise InvalidParameterValue(
            "Please don't provide ImageUri when the intended function PackageType is Zip."
        )
    has_s3 = any(params.get(k) for k in ("S3Bucket", "S3Key", "S3ObjectVersion"))
    if params.get("ZipFile") is not None and has_s3:
        raise InvalidParameterValue(
            "Please do not provide other FunctionCode parameters when providing a ZipFile."
        )
    if has_s3:
        raise InvalidParameterValue(
            "S3Bucket/S3Key code sources are not supported by this server yet: no object "
            "storage backend is configured. Upload the package with ZipFile instead."
        )
    if params.get("ZipFile") is None:
        raise InvalidParameterValue("Please provide a source for function code.")
    data = decode_zip(params["ZipFile"])
    if len(data) > zips.ZIPPED_LIMIT:
        raise RequestTooLarge(f"Zipped size must be smaller than {zips.ZIPPED_LIMIT} bytes")
    return UploadedCode(data=data, summary=zips.inspect(data))


def check_storage(account: Account, adding: int) -> None:
    """Refuse ``adding`` bytes of code that would take the account past its storage limit."""
    if selectors.code_storage_used(account) + adding > settings.FUNCTORY_CODE_STORAGE_LIMIT:
        raise CodeStorageExceeded("Code storage limit exceeded.")
