"""Code packages are stored once per content and freed with their last reference."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from conftest import LiveServer, create_function, make_zip

pytestmark = pytest.mark.live


def _unique_zip() -> bytes:
    return make_zip({"app.py": f"# {uuid.uuid4()}\ndef handler(e, c):\n    return e\n"})


def _blob(server: LiveServer, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return Path(server.env["FUNCTORY_DATA_DIR"]) / "code" / "blobs" / digest[:2] / f"{digest}.zip"


def test_identical_packages_share_one_blob_until_the_last_reference_goes(functory, lam):
    code = _unique_zip()
    create_function(lam, "one", Code={"ZipFile": code})
    create_function(lam, "two", Code={"ZipFile": code})
    blob = _blob(functory, code)
    assert blob.read_bytes() == code

    lam.delete_function(FunctionName="one")
    assert blob.exists()
    lam.delete_function(FunctionName="two")
    assert not blob.exists()


def test_replacing_code_frees_the_old_blob_unless_a_version_keeps_it(functory, lam):
    first, second, third = _unique_zip(), _unique_zip(), _unique_zip()
    create_function(lam, "fn", Code={"ZipFile": first})
    lam.update_function_code(FunctionName="fn", ZipFile=second)
    assert not _blob(functory, first).exists()
    assert _blob(functory, second).exists()

    lam.publish_version(FunctionName="fn")
    lam.update_function_code(FunctionName="fn", ZipFile=third)
    assert _blob(functory, second).exists(), "version 1 still uses it"

    lam.delete_function(FunctionName="fn", Qualifier="1")
    assert not _blob(functory, second).exists()
    lam.delete_function(FunctionName="fn")
    assert not _blob(functory, third).exists()
