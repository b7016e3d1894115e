"""Safe inspection of uploaded zip archives, before anything is extracted or stored.

Checks run cheapest first: the central directory (entry names, declared sizes, ratios),
then a streaming decompression of every entry that stops as soon as the output exceeds
what the directory declared, so a bomb costs at most the declared limit in CPU and
nothing in memory or disk.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass

from awsapi.errors import InvalidParameterValue
from invocations.executor.safetree import MAX_DEPTH, entry_parts

UNZIPPED_LIMIT = 262_144_000
ZIPPED_LIMIT = 52_428_800
MAX_ENTRIES = 100_000
# Deflate tops out near 1032:1; anything past that is crafted.
MAX_RATIO = 1100
_CHUNK = 1 << 16
_LOCAL_HEADER_SIZE = 30  # fixed part of a local file header, before name and extra field


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
    if len(entry_parts(name)) > MAX_DEPTH:
        raise InvalidParameterValue(
            f"Could not unzip uploaded file: entry '{name}' is nested more than"
            f" {MAX_DEPTH} directories deep."
        )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _outside(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Could not unzip uploaded file: symbolic link '{name}' points outside the archive."
    )


def _link_target(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size > 4096:
        raise _corrupt()
    target = archive.read(info).decode("utf-8", "replace")
    if target.startswith("/") or "\x00" in target:
        raise _outside(info.filename)
    return target


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def _check_nothing_under_links(infos: list[zipfile.ZipInfo], links: dict[str, str]) -> None:
    """Reject an entry stored below one of the archive's own links (``a/up -> ..`` with
    ``a/up/x``): an extractor that follows the link puts it elsewhere than its name says
    (the start of a cross-layer escape), and ``zip -y`` never makes such archives."""
    for info in infos:
        # Split as the extractor splits (it also takes ``\\`` for a separator).
        parts = entry_parts(info.filename)
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in links:
                raise InvalidParameterValue(
                    f"Could not unzip uploaded file: entry '{info.filename}' is inside"
                    f" symbolic link '{prefix}'."
                )


def _check_symlinks(links: dict[str, str]) -> None:
    """Reject any link that, followed the way a file system follows it, leaves the root.

    Resolving each target on its own, lexically, is not enough: with ``a/up -> ..`` (the
    root, fine) a second link ``p -> a/up/..`` looks like ``a`` but really is ``..``. So
    targets are walked component by component through the archive's other links.
    """
    for name, target in links.items():
        directory = _parts(name)[:-1]
        pending = target.split("/")
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not directory:
                    raise _outside(name)
                directory.pop()
                continue
            directory.append(part)
            followed = links.get("/".join(directory))
            if followed is not None:
                hops += 1
                if hops > 40:  # a loop; the kernel gives up (ELOOP) at the same depth
                    raise _outside(name)
                directory.pop()
                pending = followed.split("/") + pending


def _data_slice(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The entry's compressed bytes, located through its local file header."""
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER_SIZE]
    if len(header) != _LOCAL_HEADER_SIZE or header[:4] != b"PK\x03\x04":
        raise _corrupt()
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    offset = start + _LOCAL_HEADER_SIZE + name_length + extra_length
    end = offset + info.compress_size
    if end > len(data):
        raise _corrupt()
    return memoryview(data)[offset:end]


def _stream_entry(data: bytes, info: zipfile.ZipInfo, budget: int) -> int:
    """Decompress one entry, checking its CRC; never produce more than it declared.

    We decompress ourselves rather than through ``ZipFile.open``: zipfile silently stops
    at the declared size, so a header that under-states a bomb's size (with the CRC of
    the declared prefix) passes it, while extractors that trust the stream (unzip, AWS)
    would still write it all out. Here the stream must end exactly at the declared size.
    """
    if info.flag_bits & 0x1:
        raise _corrupt()  # encrypted
    limit = min(info.file_size, budget)
    compressed = _data_slice(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        if len(compressed) != info.file_size or len(compressed) > limit:
            raise _corrupt()
        if zlib.crc32(compressed) != info.CRC:
            raise _corrupt()
        return len(compressed)
    if info.compress_type != zipfile.ZIP_DEFLATED:
        return _stream_other(data, info, limit)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    crc = 0
    position = 0
    pending: bytes | memoryview = b""
    while not inflater.eof:
        if not pending and position < len(compressed):
            pending = compressed[position : position + _CHUNK]
            position += len(pending)
        # With all input taken, the inflater may still hold output (a long run decoded
        # from a few bytes): asking again with no input drains it.
        output = inflater.decompress(pending, _CHUNK)
        pending = inflater.unconsumed_tail
        if not output and not pending and position >= len(compressed) and not inflater.eof:
            raise _corrupt()  # the stream is cut short
        produced += len(output)
        if produced > limit:
            raise _corrupt()
        crc = zlib.crc32(output, crc)
    if produced != info.file_size or crc != info.CRC:
        raise _corrupt()
    return produced


def _stream_other(data: bytes, info: zipfile.ZipInfo, limit: int) -> int:
    """bzip2/lzma entries, rare in deployment packages: zipfile's own bounded reader."""
    produced = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(info) as handle:
        while chunk := handle.read(_CHUNK):
            produced += len(chunk)
            if produced > limit:
                raise _corrupt()
    if produced != info.file_size:
        raise _corrupt()
    return produced


def inspect(data: bytes, *, unzipped_limit: int = UNZIPPED_LIMIT) -> ZipSummary:
    """Validate ``data`` as a safe Lambda deployment package and return its sizes."""
    if not data:
        raise _corrupt()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        # A version-needed-to-extract above what zipfile knows; seen in fuzzed uploads,
        # where it surfaced as a 500 instead of the corrupt-zip answer.
        NotImplementedError,
    ) as exc:
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
            links = {
                "/".join(entry_parts(info.filename)): _link_target(archive, info)
                for info in infos
                if _is_symlink(info)
            }
            _check_nothing_under_links(infos, links)
            _check_symlinks(links)
            for info in infos:
                if info.is_dir() and not _is_symlink(info):
                    continue
                remaining -= _stream_entry(data, info, remaining)
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
