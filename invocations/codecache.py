"""Extracted code packages and merged layers, ready to mount into environments.

Each package is extracted once per host into ``<data dir>/runtime/code/<sha256>``; a
function's layers are merged in order into ``<data dir>/runtime/layers/<digest>`` (a later
layer's file replaces an earlier one's, as Lambda does). Extraction goes to a temporary
directory that is renamed into place, so a crash never leaves a half-extracted tree.
Files are world-readable (the sandbox runs as an unprivileged uid) and keep the zip's
executable bit, so a custom runtime's ``bootstrap`` runs. The trees are tenant-made and
written by root: ``executor.safetree`` writes them without following any link in them, and
nothing on the server follows a link inside them afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
import zipfile
from pathlib import Path

from django.conf import settings

from functions import codestore, zips
from invocations.executor import safetree

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def root() -> Path:
    path = Path(settings.DATA_DIR) / "runtime"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _extract_into(data: bytes, staging_fd: int) -> None:
    # The tree is tenant-made: safetree never follows a link in it (issue 10, item 1).
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        safetree.extract(archive, staging_fd, limit=zips.UNZIPPED_LIMIT)


def _materialise(kind: str, key: str, blobs: list[str]) -> str:
    if settings.FUNCTORY_EXECUTOR_URL:
        # This process hands its attempts to the server's executor (the embedded worker, an
        # unprivileged user under a root server): the server resolves the function again
        # and extracts what it runs. Here only the name is used; nothing is written.
        return str(Path(settings.DATA_DIR) / "runtime" / kind / key)
    final = root() / kind / key
    if final.is_dir():
        return str(final)
    with _lock(f"{kind}/{key}"):
        if final.is_dir():
            return str(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
        try:
            with safetree.open_root(str(staging)) as staging_fd:
                for digest in blobs:
                    _extract_into(codestore.read(digest), staging_fd)
            os.rename(staging, final)
        except BaseException:
            with contextlib.suppress(OSError), safetree.open_root(str(final.parent)) as parent:
                safetree.remove(staging.name, parent)
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
