"""Helpers for invocation tests: invoke and decode, zip builders."""

from __future__ import annotations

import base64
import io
import json
import stat
import zipfile
from typing import Any


def invoke(lam: Any, name: str, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Invoke synchronously; adds ``Body`` (decoded JSON) and ``Log`` (decoded tail)."""
    response: dict[str, Any] = lam.invoke(
        FunctionName=name, Payload=json.dumps({} if payload is None else payload), **kwargs
    )
    raw = response["Payload"].read()
    response["Raw"] = raw
    try:
        response["Body"] = json.loads(raw) if raw else None
    except ValueError:
        response["Body"] = None  # a custom runtime may answer with any bytes
    if "LogResult" in response:
        response["Log"] = base64.b64decode(response["LogResult"]).decode()
    return response


def zip_with_modes(files: dict[str, tuple[str | bytes, int]]) -> bytes:
    """A zip whose entries carry Unix modes (e.g. an executable ``bootstrap``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
