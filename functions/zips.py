"""Safe inspection of uploaded zip archives, before anything is extracted or stored.

Checks run cheapest first: the central directory (entry names, declared sizes, ratios),
then a streaming decompression of every entry that stops as soon as the output exceeds
what the directory declared, so a bomb costs at most the declared limit in CPU and
nothing in memory or disk.
"""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
import zlib
from dataclasses import dataclass

from console.errors import InvalidParameterValue

UNZIPPED_LIMIT = 262_144_000
ZIPPED_LIMIT = 52_428_800
MAX_ENTRIES = 100_000
# Deflate tops out near 1032:1; anything past that is crafted.
MAX_RATIO = 1100
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ZipSummary:
    unzipped_size: int
    entries: int


def _corrupt() -> InvalidParameterValue:
    return InvalidParameterValue(
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


def _too_big(limit: int) -> InvalidParameterValue:
    return InvalidParameterValue(f"Unzipped size must be smaller than {limit} bytes")


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    if "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise InvalidParameterValue(
            f"Could not unzip uploaded file: entry '{name}' has an absolute path."
        )
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise InvalidParameterValue(
            f"Could not unzip uploaded file: entry '{name}' escapes the archive root."
        )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _check_symlink(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    if info.file_size > 4096:
        raise _corrupt()
    target = archive.read(info).decode("utf-8", "replace")
    if target.startswith("/"):
        raise InvalidParameterValue(
            f"Could not unzip uploaded file: symbolic link '{info.filename}' points outside "
            "the archive."
        )
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(info.filename), target))
    if resolved == ".." or resolved.startswith("../"):
        raise InvalidParameterValue(
            f"Could not unzip uploaded file: symbolic link '{info.filename}' points outside "
            "the archive."
        )


def _stream_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """Decompress one entry, verifying its CRC; never produce more than declared."""
    produced = 0
    with archive.open(info) as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            produced += len(chunk)
            if produced > info.file_size or produced > budget:
                raise _corrupt()
    return produced


def inspect(data: bytes, *, unzipped_limit: int = UNZIPPED_LIMIT) -> ZipSummary:
    """Validate ``data`` as a safe Lambda deployment package and return its sizes."""
    if not data:
        raise _corrupt()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise _corrupt() from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise _too_big(unzipped_limit)
        declared = 0
        for info in infos:
            _check_name(info)
            declared += info.file_size
            if declared > unzipped_limit:
                raise _too_big(unzipped_limit)
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise _too_big(unzipped_limit)
        remaining = unzipped_limit
        try:
            for info in infos:
                if info.is_dir():
                    continue
                if _is_symlink(info):
                    _check_symlink(archive, info)
                remaining -= _stream_entry(archive, info, remaining)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            ValueError,
            NotImplementedError,
            RuntimeError,
            OSError,
        ) as exc:
            # RuntimeError: encrypted entries; NotImplementedError: unknown compression.
            raise _corrupt() from exc
    return ZipSummary(unzipped_size=declared, entries=len(infos))
