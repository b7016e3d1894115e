"""Builders for hostile zip archives: traversal, symlinks, bombs, lying headers."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib

# Offsets inside the local file header and the central directory header.
_LOCAL_CRC, _LOCAL_UNCOMPRESSED = 14, 22
_CENTRAL_CRC, _CENTRAL_UNCOMPRESSED = 16, 24


def zip_of(entries: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            # ZipInfo keeps the name verbatim (writestr would too, but say so).
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, content)
    return buffer.getvalue()


def with_symlinks(links: dict[str, str], files: dict[str, str] | None = None) -> bytes:
    """A zip whose ``links`` entries are Unix symbolic links (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (files or {"app.py": "x = 1\n"}).items():
            archive.writestr(zipfile.ZipInfo(name), content)  # ZipInfo: a fixed time
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def zeros_bomb(size: int, name: str = "zeros.bin") -> bytes:
    """One deflated entry of ``size`` zero bytes, written in 1 MiB chunks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as handle:
            chunk = bytes(1 << 20)
            left = size
            while left > 0:
                handle.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return buffer.getvalue()


def lie_about_size(data: bytes, declared: int, *, matching_crc: bool = True) -> bytes:
    """Rewrite the only entry's uncompressed size in both headers to ``declared``.

    With ``matching_crc`` the CRC becomes that of ``declared`` zero bytes, so a reader that
    stops at the declared size (as Python's zipfile does) finds nothing wrong.
    """
    patched = bytearray(data)
    central = patched.rfind(b"PK\x01\x02")
    assert patched[:4] == b"PK\x03\x04" and central > 0
    struct.pack_into("<I", patched, _LOCAL_UNCOMPRESSED, declared)
    struct.pack_into("<I", patched, central + _CENTRAL_UNCOMPRESSED, declared)
    if matching_crc:
        crc = zlib.crc32(bytes(declared))
        struct.pack_into("<I", patched, _LOCAL_CRC, crc)
        struct.pack_into("<I", patched, central + _CENTRAL_CRC, crc)
    return bytes(patched)


def encrypted_flag(data: bytes) -> bytes:
    """Mark the only entry as encrypted (general purpose flag bit 0)."""
    patched = bytearray(data)
    central = patched.rfind(b"PK\x01\x02")
    patched[6] |= 0x01
    patched[central + 8] |= 0x01
    return bytes(patched)
