"""Content-addressed storage of code packages through Django's storage API.

Blobs are keyed by the hex SHA-256 of their bytes, so identical uploads share one copy.
A blob's row and file live exactly as long as some function version, layer version or
function layer refers to it: :func:`release` frees it once the last reference is gone.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction

from functions.models import CodeBlob, FunctionLayer, FunctionVersion, LayerVersion


def storage() -> Storage:
    return storages["code"]


def blob_key(sha256_hex: str) -> str:
    return f"blobs/{sha256_hex[:2]}/{sha256_hex}.zip"


def sha256_b64(data: bytes) -> str:
    """``CodeSha256`` as Lambda reports it: base64 of the raw digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def hex_to_b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def put(data: bytes, unzipped_size: int) -> CodeBlob:
    """Store ``data`` (idempotent) inside the caller's transaction and return its row."""
    digest = hashlib.sha256(data).hexdigest()
    blob, _ = CodeBlob.objects.select_for_update().get_or_create(
        sha256_hex=digest, defaults={"size": len(data), "unzipped_size": unzipped_size}
    )
    key = blob_key(digest)
    if not storage().exists(key):
        storage().save(key, ContentFile(data))
    return blob


def read(sha256_hex: str) -> bytes:
    with storage().open(blob_key(sha256_hex), "rb") as handle:
        data: bytes = handle.read()
    return data


def open_chunks(sha256_hex: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    with storage().open(blob_key(sha256_hex), "rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _referenced(sha256_hex: str) -> bool:
    return (
        FunctionVersion.objects.filter(code_id=sha256_hex).exists()
        or LayerVersion.objects.filter(code_id=sha256_hex).exists()
        or FunctionLayer.objects.filter(code_id=sha256_hex).exists()
    )


def release(sha256_hexes: Iterable[str]) -> None:
    """Delete each blob no longer referenced (row and file), each in its own transaction."""
    for digest in set(sha256_hexes):
        with transaction.atomic():
            blob = CodeBlob.objects.select_for_update().filter(sha256_hex=digest).first()
            if _referenced(digest):
                continue
            if blob is not None:
                blob.delete()
            # The file goes last, under the row lock, so a concurrent put() of the same
            # bytes either sees the row (and waits) or recreates row and file after us.
            storage().delete(blob_key(digest))


@contextmanager
def released_on_failure(sha256_hexes: list[str]) -> Iterator[None]:
    """Free blobs written by a write that then failed, so a failing request leaves none."""
    try:
        yield
    except BaseException:
        release(sha256_hexes)
        raise
