"""Hostile uploads and requests get AWS's error and leave no function and no blob behind."""

from __future__ import annotations

import io
import json
import os
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, LiveServer, create_function, make_zip
from console.tests.raw_http import send, sign, signed
from functions.tests.zipcraft import lie_about_size, with_symlinks, zeros_bomb, zip_of

pytestmark = pytest.mark.live

FUNCTIONS = "/2015-03-31/functions"
CORRUPT = "Could not unzip uploaded file. Please check your file, then try to upload again."
REQUEST_LIMIT = 69_905_067
TOO_LARGE = f"Request must be smaller than {REQUEST_LIMIT} bytes for the CreateFunction operation"


def blob_files(server: LiveServer) -> set[Path]:
    root = Path(server.env["FUNCTORY_DATA_DIR"]) / "code" / "blobs"
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def nothing_left(functory: LiveServer, lam: Any) -> Iterator[None]:
    """After the test: no function in the account and no new file among the blobs."""
    before = blob_files(functory)
    yield
    assert lam.list_functions()["Functions"] == []
    assert blob_files(functory) - before == set()


def create_error(client: Any, code: bytes, name: str = "hostile") -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        create_function(client, name, Code={"ZipFile": code})
    response: dict[str, Any] = error.value.response
    return response


def assert_invalid_zip(response: dict[str, Any], message: str | None = CORRUPT) -> None:
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == (
        "InvalidParameterValueException"
    )
    if message is not None:
        assert response["Error"]["Message"] == message


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    """One entry of 1 GiB of zeros, about 1 MB deflated."""
    return zeros_bomb(1 << 30)


@pytest.mark.usefixtures("nothing_left")
class TestCreateFunctionRefuses:
    def test_it_rejects_random_bytes_as_a_zip(self, lam):
        assert_invalid_zip(create_error(lam, os.urandom(10_000)))

    def test_it_rejects_a_truncated_zip(self, lam):
        code = make_zip({"app.py": "x = 1\n" * 5000})
        assert_invalid_zip(create_error(lam, code[: len(code) - 30]))
        assert_invalid_zip(create_error(lam, code[: len(code) // 2]))

    @pytest.mark.parametrize("name", ["../evil.py", "lib/../../evil.py"])
    def test_it_rejects_zip_with_path_traversal(self, lam, name):
        response = create_error(lam, zip_of({"app.py": "x = 1\n", name: "pwned"}))
        assert_invalid_zip(response, None)
        assert "escapes the archive root" in response["Error"]["Message"]

    def test_it_rejects_zip_with_an_absolute_path(self, lam):
        response = create_error(lam, zip_of({"app.py": "x = 1\n", "/etc/cron.d/evil": "*"}))
        assert_invalid_zip(response, None)
        assert "absolute path" in response["Error"]["Message"]

    @pytest.mark.parametrize("target", ["/etc/passwd", "../../../etc/shadow"])
    def test_it_rejects_zip_with_a_symlink_pointing_outside(self, lam, target):
        response = create_error(lam, with_symlinks({"link": target}))
        assert_invalid_zip(response, None)
        assert "symbolic link 'link' points outside" in response["Error"]["Message"]

    def test_it_rejects_a_one_gigabyte_bomb_from_its_declared_size(self, lam, gigabyte_bomb):
        assert len(gigabyte_bomb) < 2_000_000
        response = create_error(lam, gigabyte_bomb)
        assert_invalid_zip(response, "Unzipped size must be smaller than 262144000 bytes")

    def test_it_rejects_a_bomb_whose_header_lies_about_its_size(self, lam, gigabyte_bomb):
        # Claims 1000 bytes (with the CRC of 1000 zero bytes); inflates to 1 GiB.
        assert_invalid_zip(create_error(lam, lie_about_size(gigabyte_bomb, 1000)))

    def test_it_rejects_a_body_that_is_not_json(self, functory, credentials):
        response = signed(functory, credentials, "POST", FUNCTIONS, b'{"FunctionName": "x",')
        assert response.status == 400
        assert response.error_type == "InvalidRequestContentException"
        assert response.headers["x-amzn-requestid"]
        assert response.json()["message"].startswith("Could not parse request body into json")

    @pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"\xff\xfe{}", b"null"])
    def test_it_rejects_a_json_body_that_is_not_an_object(self, functory, credentials, body):
        response = signed(functory, credentials, "POST", FUNCTIONS, body)
        assert response.status == 400
        assert response.error_type == "InvalidRequestContentException"

    def test_it_rejects_zip_file_that_is_not_base64(self, functory, credentials):
        body = json.dumps(
            {
                "FunctionName": "x",
                "Runtime": "python3.11",
                "Handler": "app.handler",
                "Role": ROLE,
                "Code": {"ZipFile": "not base64 at all!"},
            }
        ).encode()
        response = signed(functory, credentials, "POST", FUNCTIONS, body)
        assert response.status == 400
        assert response.error_type == "InvalidRequestContentException"

    def test_it_answers_a_declared_oversize_body_without_reading_it(self, functory, credentials):
        # Signed over a small body but declares more than the limit and sends only the
        # small body: a server that waited for the declared bytes would never answer.
        body = b"{}"
        headers = sign(functory, credentials, "POST", FUNCTIONS, body)
        response = send(
            functory, "POST", FUNCTIONS, body, headers, content_length=REQUEST_LIMIT + 1
        )
        assert response.status == 413
        assert response.error_type == "RequestEntityTooLargeException"
        assert response.json()["message"] == TOO_LARGE

    def test_it_stops_reading_an_oversize_chunked_body(self, functory, credentials):
        headers = sign(functory, credentials, "POST", FUNCTIONS, b"")
        headers["Transfer-Encoding"] = "chunked"
        chunk = b"x" * (1 << 20)
        count = REQUEST_LIMIT // len(chunk) + 2
        response = send(
            functory,
            "POST",
            FUNCTIONS,
            headers=headers,
            chunks=(chunk for _ in range(count)),
        )
        assert response.status == 413
        assert response.error_type == "RequestEntityTooLargeException"

    def test_it_rejects_a_zipped_package_over_50_mb(self, lam):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("noise.bin", os.urandom(50 * 1024 * 1024 + 1))
        response = create_error(lam, buffer.getvalue())
        assert response["Error"]["Code"] == "RequestEntityTooLargeException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert response["Error"]["Message"] == TOO_LARGE


def test_a_bad_zip_in_update_function_code_keeps_the_old_code(functory, lam):
    code = make_zip({"app.py": "def handler(e, c):\n    return 'v1'\n"})
    created = create_function(lam, "keeper", Code={"ZipFile": code})
    before = blob_files(functory)
    for bad in (os.urandom(5000), with_symlinks({"x": "/etc"}), code[:-40]):
        with pytest.raises(ClientError) as error:
            lam.update_function_code(FunctionName="keeper", ZipFile=bad)
        assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    got = lam.get_function(FunctionName="keeper")
    assert got["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    with urllib.request.urlopen(got["Code"]["Location"]) as response:
        assert response.read() == code
    assert blob_files(functory) == before
