"""Layers and code packages whose links, combined, would make the server write outside the
code cache (issue 10, item 1).

Each layer is valid on its own; merged naively, one layer's link sits where the next layer's
entries expect a directory, and the server (root) follows it. Every attack here aims at a
directory the test makes under /tmp (never at a real system path), plus the spots the
issue's exact attack reaches (the data dir's parents).
"""

from __future__ import annotations

import io
import json
import os
import stat
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import LiveServer, client_error, create_function, make_zip
from invocations import codecache
from invocations.executor import safetree, sandbox
from invocations.tests.helpers import invoke

# (kind, name, content): kind is "file", "exe", "link" or "dir"; order is kept.
Entry = tuple[str, str, str]

# Deep enough to climb from any data dir to "/" (``/..`` is ``/``).
CLIMB = 16


def package(*entries: Entry) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for kind, name, content in entries:
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            mode = {
                "link": stat.S_IFLNK | 0o777,
                "exe": stat.S_IFREG | 0o4755,  # setuid: must not survive
                "file": stat.S_IFREG | 0o666,
                "dir": stat.S_IFDIR | 0o777,
            }[kind]
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def climbing_link(name: str, target: str, *, hops: int = CLIMB, via: str = "a/up") -> Entry:
    """A link entry whose name walks ``via`` (an earlier layer's ``x/up -> ..``, so each
    step is the merge root again) ``hops`` times, then points ``2 * hops`` levels up
    and on to ``target``: lexically inside the archive, really at ``/target``."""
    steps = via.count("/") + 1
    return ("link", f"{via}/" * hops + name, "../" * (steps * hops) + target)


UP = package(("link", "a/up", ".."))  # layer A of the issue


@pytest.fixture
def canary() -> Iterator[Path]:
    """A directory under /tmp that the attacks aim at."""
    path = Path("/tmp") / f"functory-canary-{uuid.uuid4().hex}"
    path.mkdir()
    (path / "victim").mkdir()
    (path / "victim" / "sentinel").write_text("keep me")
    (path / "existing.txt").write_text("original")
    yield path
    safetree_remove(path)


def safetree_remove(path: Path) -> None:
    with safetree.open_root(str(path.parent)) as parent:
        safetree.remove(path.name, parent)


def snapshot(path: Path) -> dict[str, str]:
    """Every entry under ``path`` (not following links) with what it holds."""
    found: dict[str, str] = {}
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(directory) / name
            if full.is_symlink():
                found[str(full)] = "-> " + os.readlink(full)
            elif full.is_file():
                found[str(full)] = full.read_text()
            else:
                found[str(full)] = "dir"
    return found


def escaped(marker: str, data_dir: Path, *extra: Path) -> list[str]:
    """Places outside the code cache where a file named ``marker`` turned up."""
    cache = data_dir / "runtime"
    places: list[str] = []
    for directory in {Path("/"), Path("/tmp"), *data_dir.parents, *extra}:
        if (directory / marker).exists() or (directory / marker).is_symlink():
            places.append(str(directory / marker))
    for walked, _dirs, files in os.walk(data_dir):
        if marker in files and not Path(walked).is_relative_to(cache):
            places.append(str(Path(walked) / marker))
    return places


# -- safetree and the code cache, without a server -------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """A code cache in a temporary data dir whose blobs are whatever the test puts here."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    blobs: dict[str, bytes] = {}
    monkeypatch.setattr(codecache.codestore, "read", lambda digest: blobs[digest])
    return blobs


def merge(blobs: dict[str, bytes], *layers: bytes) -> Path:
    digests = []
    for data in layers:
        digest = uuid.uuid4().hex
        blobs[digest] = data
        digests.append(digest)
    merged = codecache.layers_dir(digests)
    assert merged is not None
    return Path(merged)


def test_the_issues_two_layer_merge_writes_nothing_outside_the_cache(
    cache: dict[str, bytes], tmp_path: Path
) -> None:
    marker = f"FILE-{uuid.uuid4().hex}"
    b = package(("link", "a/up/a/up/z", "../../../.."), ("file", f"z/{marker}", "pwned"))
    merged = merge(cache, UP, b)
    assert escaped(marker, tmp_path / "data", tmp_path) == []
    # The later layer's directory replaced the earlier layer's link; nothing else moved.
    assert (merged / "z" / marker).read_text() == "pwned"
    assert not (merged / "a" / "up").is_symlink()
    assert os.readlink(merged / "a/up/a/up/z") == "../../../.."


def test_a_link_climbing_to_a_host_path_gets_no_files_under_it(
    cache: dict[str, bytes], canary: Path
) -> None:
    before = snapshot(canary)
    b = package(climbing_link("z", canary.relative_to("/").as_posix()), ("file", "z/FILE", "x"))
    merged = merge(cache, UP, b)
    assert snapshot(canary) == before
    assert (merged / "z" / "FILE").read_text() == "x"


def test_a_later_layer_replacing_a_linked_directory_removes_nothing_outside(
    cache: dict[str, bytes], canary: Path
) -> None:
    before = snapshot(canary)
    b = package(climbing_link("v", canary.relative_to("/").as_posix()))
    # Where B's link points at a host directory, C puts a file (rmtree) and another file
    # over an existing one (unlink / overwrite).
    c = package(("file", "v/victim", "replaced"), ("file", "v/existing.txt", "overwritten"))
    merged = merge(cache, UP, b, c)
    assert snapshot(canary) == before
    assert (merged / "v" / "victim").read_text() == "replaced"


def test_a_link_chain_across_three_layers_writes_nothing_outside(
    cache: dict[str, bytes], canary: Path
) -> None:
    before = snapshot(canary)
    b = package(("link", "a/up/b/up", ".."))  # only a link because A's a/up is the root
    c = package(
        climbing_link("z", canary.relative_to("/").as_posix(), hops=CLIMB // 2, via="b/up/a/up"),
        ("file", "z/FILE", "x"),
    )
    merge(cache, UP, b, c)
    assert snapshot(canary) == before


def test_merged_files_get_sane_modes_and_links_stay_links(cache: dict[str, bytes]) -> None:
    layer = package(
        ("dir", "bin/", ""),
        ("exe", "bin/tool", "#!/bin/sh\n"),
        ("file", "data.txt", "d"),
        ("link", "current", "bin"),
    )
    merged = merge(cache, layer)
    assert stat.S_IMODE((merged / "bin").stat().st_mode) == 0o755
    assert stat.S_IMODE((merged / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((merged / "data.txt").stat().st_mode) == 0o644
    assert os.readlink(merged / "current") == "bin"


def test_extraction_writes_no_more_than_its_limit(tmp_path: Path) -> None:
    data = package(("file", "big", "x" * 1000))
    with (
        zipfile.ZipFile(io.BytesIO(data)) as archive,
        safetree.open_root(str(tmp_path)) as root,
        pytest.raises(safetree.UnsafeTree),
    ):
        safetree.extract(archive, root, limit=100)


def test_removing_a_tree_never_follows_its_links(tmp_path: Path, canary: Path) -> None:
    before = snapshot(canary)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "outside").symlink_to(canary)
    (tree / "victim").symlink_to(canary / "victim")
    safetree_remove(tree)
    assert not tree.exists()
    assert snapshot(canary) == before


def test_the_standby_slot_mirror_keeps_links_as_links_and_follows_none(
    tmp_path: Path, canary: Path
) -> None:
    before = snapshot(canary)
    code = tmp_path / "code"
    (code / "lib").mkdir(parents=True)
    (code / "app.py").write_text("x = 1\n")
    os.chmod(code / "app.py", 0o644)
    # Several directory links side by side (os.walk lists them as directories), one to a
    # host directory holding files, one to the tree's own parent.
    (code / "host").symlink_to(canary)
    (code / "parent").symlink_to("..")
    (code / "victim").symlink_to(canary / "victim")
    (code / "lib" / "up").symlink_to("../..")
    slot = tmp_path / "slot"
    for name in ("task", "opt"):
        (slot / name).mkdir(parents=True)
    sandbox._link_tree_pair(str(code), str(code), slot)
    for root in (slot / "task", slot / "opt"):
        for name, target in (
            ("host", str(canary)),
            ("parent", ".."),
            ("victim", str(canary / "victim")),
            ("lib/up", "../.."),
        ):
            assert os.readlink(root / name) == target
        assert (root / "app.py").stat().st_ino == (code / "app.py").stat().st_ino
    assert snapshot(canary) == before


# -- through the public API, with the real sandbox ------------------------------------------

HANDLER = """
import os

def handler(event, context):
    return {"file": open(event["path"]).read() if event.get("path") else None,
            "task": sorted(os.listdir("/var/task"))}
"""


def publish(lam: Any, data: bytes) -> str:
    layer = lam.publish_layer_version(
        LayerName=f"l-{uuid.uuid4().hex[:8]}",
        Content={"ZipFile": data},
        CompatibleRuntimes=["python3.11"],
    )
    arn: str = layer["LayerVersionArn"]
    return arn


def run_with_layers(lam: Any, layers: list[bytes], path: str | None = None) -> dict[str, Any]:
    name = f"merge-{uuid.uuid4().hex[:8]}"
    create_function(
        lam,
        name,
        Layers=[publish(lam, data) for data in layers],
        Code={"ZipFile": make_zip({"app.py": HANDLER})},
    )
    response = invoke(lam, name, {"path": path})
    assert "FunctionError" not in response, response["Raw"]
    body: dict[str, Any] = response["Body"]
    return body


def data_dir(server: LiveServer) -> Path:
    return Path(server.env["FUNCTORY_DATA_DIR"])


@pytest.mark.live
@pytest.mark.sandbox
def test_the_issues_attack_through_the_api_writes_nothing_outside_the_cache(
    functory: LiveServer, lam: Any
) -> None:
    marker = f"FILE-{uuid.uuid4().hex}"
    b = package(("link", "a/up/a/up/z", "../../../.."), ("file", f"z/{marker}", "merged"))
    body = run_with_layers(lam, [UP, b], f"/opt/z/{marker}")
    assert body["file"] == "merged"
    assert escaped(marker, data_dir(functory)) == []


@pytest.mark.live
@pytest.mark.sandbox
def test_climbing_links_through_the_api_reach_no_host_directory(
    functory: LiveServer, lam: Any, canary: Path
) -> None:
    before = snapshot(canary)
    target = canary.relative_to("/").as_posix()
    chain = package(("link", "a/up/b/up", ".."))
    attacks = [
        [UP, package(climbing_link("z", target), ("file", "z/FILE", "x"))],
        [
            UP,
            package(climbing_link("v", target)),
            package(("file", "v/victim", "r"), ("file", "v/existing.txt", "o")),
        ],
        [
            UP,
            chain,
            package(
                climbing_link("z", target, hops=CLIMB // 2, via="b/up/a/up"),
                ("file", "z/FILE", "x"),
            ),
        ],
    ]
    for layers in attacks:
        run_with_layers(lam, layers)
    assert snapshot(canary) == before


SELF_CONTAINED = package(
    ("file", "app.py", HANDLER),
    ("link", "a/up", ".."),
    ("link", "a/up/a/up/z", "../../../.."),
    ("file", "z/FILE", "x"),
)


@pytest.mark.live
def test_one_package_holding_the_whole_attack_is_refused(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as error:
        create_function(lam, f"f-{uuid.uuid4().hex[:8]}", Code={"ZipFile": SELF_CONTAINED})
    code, message, status = client_error(error)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "inside symbolic link 'a/up'" in message
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        publish(lam, SELF_CONTAINED)


@pytest.mark.live
@pytest.mark.sandbox
def test_a_function_package_with_links_runs_beside_hostile_layers(
    functory: LiveServer, lam: Any
) -> None:
    marker = f"FILE-{uuid.uuid4().hex}"
    name = f"combo-{uuid.uuid4().hex[:8]}"
    code = package(("file", "app.py", HANDLER), ("link", "same", "app.py"), ("link", "up", "."))
    b = package(("link", "a/up/a/up/z", "../../../.."), ("file", f"z/{marker}", "layer"))
    create_function(lam, name, Code={"ZipFile": code}, Layers=[publish(lam, UP), publish(lam, b)])
    for path, expected in (("/var/task/same", HANDLER), (f"/opt/z/{marker}", "layer")):
        response = invoke(lam, name, {"path": path})
        assert "FunctionError" not in response, response["Raw"]
        assert json.loads(response["Raw"])["file"] == expected
    assert escaped(marker, data_dir(functory)) == []


LOG_LINES = ("START", "END", "REPORT", "INIT_REPORT")


@pytest.mark.live
@pytest.mark.sandbox
def test_a_bootstrap_link_tells_nothing_about_host_paths(lam: Any, canary: Path) -> None:
    """The server looks for /opt/bootstrap in the merged tree without following it: a link
    climbing through an earlier layer's ``a/up`` must not reveal whether a host path exists."""
    answers = []
    for host_path in (canary / "existing.txt", canary / "missing"):
        hops = CLIMB
        # Lexically a/up/a/up/... then back down: inside the archive on paper.
        target = "a/up/" * hops + "../" * (2 * hops) + host_path.relative_to("/").as_posix()
        layer = package(("link", "bootstrap", target))
        name = f"boot-{uuid.uuid4().hex[:8]}"
        create_function(
            lam,
            name,
            Runtime="provided.al2",
            Handler="x.handler",
            Layers=[publish(lam, UP), publish(lam, layer)],
            Code={"ZipFile": make_zip({"x.sh": "true\n"})},
        )
        response = invoke(lam, name, {}, LogType="Tail")
        # What the runtime said, without the per-request ids and timings.
        said = [line for line in response["Log"].splitlines() if not line.startswith(LOG_LINES)]
        # Joined: a message written in two pieces may reach the log as two lines.
        answers.append((response["Body"]["errorType"], "".join(said)))
    assert answers[0] == answers[1]
