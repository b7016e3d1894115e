"""Extracted code packages and merged layers, ready to mount into environments.

Each package is extracted once per host into ``<data dir>/runtime/code/<sha256>``; a
function's layers are merged in order into ``<data dir>/runtime/layers/<digest>`` (a later
layer's file replaces an earlier one's, as Lambda does). Extraction goes to a temporary
directory that is renamed into place, so a crash never leaves a half-extracted tree.
Files are world-readable (the sandbox runs as an unprivileged uid) and keep the zip's
executable bit, so a custom runtime's ``bootstrap`` runs.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from pathlib import Path

from django.conf import settings

from functions import codestore

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def root() -> Path:
    path = Path(settings.DATA_DIR) / "runtime"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _extract_into(data: bytes, target: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            # Names were validated at upload; normalise defensively all the same.
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts or ".." in parts:
                continue
            destination = target.joinpath(*parts)
            mode = info.external_attr >> 16
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                os.chmod(destination, 0o755)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if info.create_system == 3 and stat.S_ISLNK(mode):
                link = archive.read(info).decode()
                if destination.is_symlink() or destination.exists():
                    destination.unlink()
                os.symlink(link, destination)
                continue
            if destination.is_symlink() or destination.is_dir():
                # A later layer replaces what an earlier one put here.
                if destination.is_dir() and not destination.is_symlink():
                    shutil.rmtree(destination)
                else:
                    destination.unlink()
            with archive.open(info) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            executable = info.create_system == 3 and mode & 0o111
            os.chmod(destination, 0o755 if executable else 0o644)
    for directory, _dirs, _files in os.walk(target):
        os.chmod(directory, 0o755)


def _materialise(kind: str, key: str, blobs: list[str]) -> str:
    final = root() / kind / key
    if final.is_dir():
        return str(final)
    with _lock(f"{kind}/{key}"):
        if final.is_dir():
            return str(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
        try:
            for digest in blobs:
                _extract_into(codestore.read(digest), staging)
            os.chmod(staging, 0o755)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if not final.is_dir():
                raise
    return str(final)


def code_dir(sha256_hex: str) -> str:
    """The extracted package with this digest (extracting it on first use)."""
    return _materialise("code", sha256_hex, [sha256_hex])


def layers_dir(layer_digests: list[str]) -> str | None:
    """The ordered merge of these layer packages, or None without layers."""
    if not layer_digests:
        return None
    key = hashlib.sha256("\n".join(layer_digests).encode()).hexdigest()
    return _materialise("layers", key, layer_digests)
