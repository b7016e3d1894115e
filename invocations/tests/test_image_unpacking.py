"""Unpacking a container image's layers for the sandbox: hostile layers never reach the
host, and the result is what the OCI image spec says (whiteouts, opaque directories)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from invocations.executor import imageroot, safetree
from invocations.executor.imageroot import Limits, UnsafeImage

Entry = tarfile.TarInfo


def _file(name: str, data: bytes = b"data", mode: int = 0o644) -> tuple[Entry, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def _special(name: str, kind: bytes, target: str = "", mode: int = 0o777) -> tuple[Entry, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, target, mode
    return info, b""


def _layer(entries: list[tuple[Entry, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def _saved(*layers: bytes) -> bytes:
    """A ``docker save`` archive of these layers (Docker's layout)."""
    diff_ids = [f"sha256:{hashlib.sha256(layer).hexdigest()}" for layer in layers]
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    paths = [f"{d.removeprefix('sha256:')}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": "config.json", "Layers": paths}]).encode()
    entries = [_file("manifest.json", manifest), _file("config.json", config)]
    entries += [_file(path, layer) for path, layer in zip(paths, layers, strict=True)]
    return _layer(entries)


def _image_id(archive: bytes) -> str:
    return "sha256:" + hashlib.sha256(archive).hexdigest()


def _unpack(tmp_path: Path, *layers: bytes, limits: Limits | None = None) -> Path:
    archive = _saved(*layers)
    cache = tmp_path / "cache"
    return Path(imageroot.root_for(_image_id(archive), cache, lambda _: [archive], limits))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory a hostile image aims at."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_text("host secret")
    return path


def test_a_link_to_a_host_directory_is_never_written_through(tmp_path, outside):
    root = _unpack(
        tmp_path,
        _layer([_special("a", tarfile.SYMTYPE, str(outside))]),
        _layer([_file("a/pwned", b"x"), _special("a/.wh.secret", tarfile.REGTYPE)]),
    )
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "host secret"
    assert (root / "a").is_dir() and not (root / "a").is_symlink()
    assert (root / "a" / "pwned").read_bytes() == b"x"


def test_whiteouts_and_hard_links_through_a_host_link_touch_nothing_outside(tmp_path, outside):
    root = _unpack(
        tmp_path,
        _layer([_special("l", tarfile.SYMTYPE, str(outside))]),
        _layer(
            [_special("l/.wh.secret", tarfile.REGTYPE), _special("h", tarfile.LNKTYPE, "l/secret")]
        ),
    )
    assert (outside / "secret").read_text() == "host secret"
    assert not (root / "h").exists()
    assert os.readlink(root / "l") == str(outside)  # kept as a link: it resolves inside


def test_dot_dot_in_a_layer_refuses_the_image_and_is_remembered(tmp_path, outside):
    archive = _saved(_layer([_file("../../escaped", b"x")]))
    cache = tmp_path / "cache"
    with pytest.raises(UnsafeImage, match="leaves the image's root"):
        imageroot.root_for(_image_id(archive), cache, lambda _: [archive])
    assert not list(tmp_path.rglob("escaped"))

    def never(_: str) -> list[bytes]:
        raise AssertionError("a refused image is not saved again")

    with pytest.raises(UnsafeImage, match="leaves the image's root"):
        imageroot.root_for(_image_id(archive), cache, never)


def test_absolute_member_names_are_taken_inside_the_root(tmp_path):
    root = _unpack(tmp_path, _layer([_file("/etc/absolute", b"inside")]))
    assert (root / "etc" / "absolute").read_bytes() == b"inside"


def test_devices_fifos_and_privilege_bits_do_not_survive(tmp_path):
    device = _special("dev/mem", tarfile.CHRTYPE, mode=0o666)
    device[0].devmajor, device[0].devminor = 1, 1
    root = _unpack(
        tmp_path,
        _layer(
            [
                device,
                _special("fifo", tarfile.FIFOTYPE),
                _file("suid", b"#!/bin/sh\n", 0o6755),
                _file("sticky-writable", b"x", 0o1666),
                _file("secret", b"x", 0o600),
            ]
        ),
    )
    assert not (root / "dev" / "mem").exists() and not (root / "fifo").exists()
    assert stat.S_IMODE((root / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "sticky-writable").stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "secret").stat().st_mode) == 0o644


def test_whiteouts_and_opaque_directories_hide_lower_layers(tmp_path):
    root = _unpack(
        tmp_path,
        _layer([_file("x"), _file("d/y"), _file("d/z"), _file("keep")]),
        # The opaque marker after the layer's own entry in that directory: order is free.
        _layer([_special(".wh.x", tarfile.REGTYPE), _file("d/new"), _file("d/.wh..wh..opq", b"")]),
    )
    assert not (root / "x").exists()
    assert sorted(os.listdir(root / "d")) == ["new"]
    assert (root / "keep").exists()


def test_size_and_entry_limits_refuse_the_image(tmp_path):
    def unpack(layer: bytes, limits: Limits) -> None:
        archive = tmp_path / "saved.tar"
        archive.write_bytes(_saved(layer))
        root = tmp_path / f"root-{len(os.listdir(tmp_path))}"
        root.mkdir()
        with safetree.open_root(str(root)) as fd:
            imageroot.unpack_saved(archive, fd, limits)

    big = _layer([_file("big", b"x" * 4096)])
    unpack(big, Limits(max_bytes=4096, max_entries=10))
    with pytest.raises(UnsafeImage, match="larger than 4095 bytes unpacked"):
        unpack(big, Limits(max_bytes=4095, max_entries=10))
    many = _layer([_file(f"f{i}") for i in range(20)])
    with pytest.raises(UnsafeImage, match="more than 10 entries"):
        unpack(many, Limits(max_bytes=1 << 30, max_entries=10))
    # The saved archive itself is bounded while it is read from the engine.
    with pytest.raises(UnsafeImage, match="larger than"):
        _unpack(tmp_path / "c", big, limits=Limits(max_bytes=8192, max_entries=10))


def test_mount_points_are_made_real_whatever_the_image_put_there(tmp_path, outside):
    root = _unpack(
        tmp_path,
        _layer(
            [
                _special("etc", tarfile.SYMTYPE, str(outside)),
                _file("proc", b"not a directory"),
                _special("tmp", tarfile.SYMTYPE, "/"),
            ]
        ),
    )
    for name in imageroot.MOUNT_DIRS:
        assert (root / name).is_dir() and not (root / name).is_symlink()
    for name in imageroot.MOUNT_FILES:
        path = root / name
        assert path.is_file() and not path.is_symlink()
    assert sorted(os.listdir(outside)) == ["secret"]


def test_an_image_of_one_layer_has_a_root_every_uid_can_enter(tmp_path):
    root = _unpack(tmp_path, _layer([_file("hello.txt", b"hi")]))
    assert stat.S_IMODE(root.stat().st_mode) == 0o755


def test_images_on_one_base_share_its_unpacking(tmp_path):
    base = _layer([_file("usr/lib/base", b"base")])
    first = _unpack(tmp_path, base, _layer([_file("app/one", b"1")]))
    second = _unpack(
        tmp_path,
        base,
        _layer([_file("app/two", b"2"), _special("usr/lib/.wh.base", tarfile.REGTYPE)]),
    )
    assert sorted(os.listdir(tmp_path / "cache" / "chains")) == [
        hashlib.sha256(f"sha256:{hashlib.sha256(base).hexdigest()}".encode()).hexdigest()
    ]
    assert (first / "usr/lib/base").read_bytes() == b"base" and not (first / "app/two").exists()
    assert not (second / "usr/lib/base").exists() and (second / "app/two").read_bytes() == b"2"
    chain = next((tmp_path / "cache" / "chains").iterdir())
    assert (chain / "usr/lib/base").exists()  # the shared base is never changed
