"""``functions.zips.inspect``: hostile archives are refused before anything is stored."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from awsapi.errors import InvalidParameterValue
from functions import zips
from functions.tests.zipcraft import (
    encrypted_flag,
    lie_about_size,
    with_symlinks,
    zeros_bomb,
    zip_of,
)

CORRUPT = "Could not unzip uploaded file. Please check your file, then try to upload again."


def rejected(data: bytes, **options: int) -> str:
    with pytest.raises(InvalidParameterValue) as error:
        zips.inspect(data, **options)
    assert error.value.status == 400
    assert error.value.code == "InvalidParameterValueException"
    return error.value.message


def test_it_accepts_a_plain_package_and_reports_its_sizes():
    data = zip_of({"app.py": "def handler(e, c):\n    return e\n", "lib/data.txt": "x" * 5000})
    summary = zips.inspect(data)
    assert summary.unzipped_size == len("def handler(e, c):\n    return e\n") + 5000
    assert summary.entries == 2


def test_it_accepts_stored_entries_directories_and_bzip2():
    data = zip_of({"lib/": b"", "lib/a.txt": b"stored"}, compression=zipfile.ZIP_STORED)
    assert zips.inspect(data).entries == 2
    assert zips.inspect(zip_of({"b.txt": "b" * 1000}, zipfile.ZIP_BZIP2)).unzipped_size == 1000


@pytest.mark.parametrize(
    "data",
    [b"", os.urandom(4096), b"PK\x03\x04" + os.urandom(200), b"PK\x05\x06" + bytes(18)[:10]],
    ids=["empty", "random", "local-header-then-noise", "short-end-record"],
)
def test_it_rejects_bytes_that_are_not_a_zip(data):
    assert rejected(data) == CORRUPT


def test_it_rejects_a_truncated_zip():
    data = zip_of({"app.py": "x = 1\n" * 1000})
    assert rejected(data[: len(data) // 2]) == CORRUPT
    assert rejected(data[:-1]) == CORRUPT


def test_it_rejects_a_zip_whose_data_is_damaged():
    data = bytearray(zip_of({"app.py": "print('hello world')\n" * 100}))
    data[40] ^= 0xFF  # inside the deflated data of the first entry
    assert rejected(bytes(data)) == CORRUPT


@pytest.mark.parametrize("name", ["../evil.py", "lib/../../evil.py", "..\\evil.py", ".."])
def test_it_rejects_zip_with_path_traversal(name):
    assert "escapes the archive root" in rejected(zip_of({name: "x"}))


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "\\windows\\evil", "C:/evil"])
def test_it_rejects_zip_with_absolute_paths(name):
    assert "absolute path" in rejected(zip_of({name: "x"}))


@pytest.mark.parametrize(
    "links",
    [
        {"passwd": "/etc/passwd"},
        {"up": ".."},
        {"lib/up": "../../etc"},
        {"lib/deep": "a/../../../x"},
        # Each fine on its own paper, but followed for real ``p`` is the parent.
        {"sub/up": "..", "p": "sub/up/.."},
        {"a": "b", "b": "a"},
    ],
    ids=["absolute", "parent", "nested-parent", "lexical", "through-a-link", "loop"],
)
def test_it_rejects_symlinks_pointing_outside_the_archive(links):
    assert "points outside the archive" in rejected(with_symlinks(links))


def test_it_accepts_symlinks_that_stay_inside():
    data = with_symlinks(
        {"current": "lib/v1", "lib/alias.py": "../app.py", "lib/self": ".", "sub/up": ".."},
        files={"app.py": "x = 1\n", "lib/v1/mod.py": "y = 2\n"},
    )
    assert zips.inspect(data).entries == 6


def test_it_rejects_a_symlink_entry_with_a_huge_target():
    assert rejected(with_symlinks({"big": "a/" * 3000})) == CORRUPT


def test_it_accepts_an_entry_that_inflates_far_more_than_its_last_input_chunk():
    # 3 MiB of one letter deflate to ~3 KB: the inflater takes all of it at once and still
    # holds most of the output, which must be drained, not taken for a cut-short stream.
    text = "a" * (3 * 1024 * 1024 + 1)
    summary = zips.inspect(zip_of({"big.txt": text}))
    assert summary.unzipped_size == len(text)


def test_it_rejects_a_bomb_from_its_declared_size():
    bomb = zeros_bomb(8 << 20)
    assert rejected(bomb, unzipped_limit=1 << 20) == (
        f"Unzipped size must be smaller than {1 << 20} bytes"
    )


def test_it_rejects_a_total_over_the_limit_spread_over_entries():
    data = zip_of({f"f{i}.bin": bytes(300_000) for i in range(4)})
    assert "Unzipped size must be smaller than" in rejected(data, unzipped_limit=1_000_000)


def test_it_rejects_a_compression_ratio_no_deflater_produces():
    # 4 MiB of zeros deflate to ~4 KiB (~1000:1); claiming 16 MiB makes it ~4000:1.
    data = lie_about_size(zeros_bomb(4 << 20), 16 << 20, matching_crc=False)
    assert "Unzipped size must be smaller than" in rejected(data)


def test_it_rejects_a_bomb_whose_header_understates_its_size():
    # Python's zipfile alone stops at the declared 1000 bytes and, with the CRC of those,
    # accepts this; the stream really inflates to 64 MiB.
    data = lie_about_size(zeros_bomb(64 << 20), 1000)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("zeros.bin") == bytes(1000)
    assert rejected(data) == CORRUPT


def test_it_rejects_a_header_that_overstates_its_size():
    data = lie_about_size(zeros_bomb(1000), 5000)
    assert rejected(data) == CORRUPT


def test_it_rejects_an_encrypted_entry():
    assert rejected(encrypted_flag(zip_of({"app.py": "x = 1\n"}))) == CORRUPT


def test_it_rejects_too_many_entries(monkeypatch):
    monkeypatch.setattr(zips, "MAX_ENTRIES", 3)
    data = zip_of({f"f{i}": "x" for i in range(4)})
    assert "Unzipped size must be smaller than" in rejected(data)
    monkeypatch.setattr(zips, "MAX_ENTRIES", 4)
    assert zips.inspect(data).entries == 4


def test_it_rejects_an_entry_stored_inside_one_of_its_own_links():
    # Followed by an extractor, a/up/a/up/z lands at z: the single-package form of the
    # cross-layer escape (issue 10).
    data = with_symlinks({"a/up": "..", "a/up/a/up/z": "../../../.."}, files={"z/FILE": "x"})
    assert "entry 'a/up/a/up/z' is inside symbolic link 'a/up'" in rejected(data)
    assert "inside symbolic link 'lib'" in rejected(
        with_symlinks({"lib": "sub"}, files={"sub/a.py": "", "lib/b.py": ""})
    )


def test_it_rejects_entries_nested_absurdly_deep():
    assert "nested more than 128 directories deep" in rejected(zip_of({"d/" * 129 + "f": "x"}))
    assert zips.inspect(zip_of({"d/" * 127 + "f": "x"})).entries == 1


def test_it_splits_names_on_backslashes_as_the_extractor_does():
    data = with_symlinks({"a/up": ".."}, files={"a\\up\\x": "x"})
    assert "inside symbolic link 'a/up'" in rejected(data)
    assert "nested more than" in rejected(zip_of({"d\\" * 129 + "f": "x"}))
