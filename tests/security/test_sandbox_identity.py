"""Environments never share a uid, even across the server's and workers' processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from invocations.executor import identity

pytestmark = pytest.mark.one_profile

HOLD = """
import sys
from invocations.executor import identity
identity.LOCK_DIR = identity.Path(sys.argv[1])
identity.UID_BASE, identity.UID_COUNT = int(sys.argv[2]), 1
held = identity.allocate()
print(held.uid, flush=True)
sys.stdin.read()  # held until the test closes our stdin, or kills us
"""


@pytest.fixture
def uids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(identity, "LOCK_DIR", tmp_path / "uids")
    # A range of one, far above any uid a process on this machine runs as.
    monkeypatch.setattr(identity, "UID_BASE", 2_100_000_000)
    monkeypatch.setattr(identity, "UID_COUNT", 1)
    return tmp_path / "uids"


def _holder(lock_dir: Path, uid: int) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_dir), str(uid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert holder.stdout is not None
    assert int(holder.stdout.readline()) == uid
    return holder


def test_a_uid_held_by_another_process_is_not_handed_out(uids: Path) -> None:
    holder = _holder(uids, identity.UID_BASE)
    try:
        with pytest.raises(identity.NoIdentityLeft):
            identity.allocate()
    finally:
        holder.kill()
        holder.wait()
    # Its lock died with it: the uid is free again (nothing runs as it).
    taken = identity.allocate()
    assert taken.uid == identity.UID_BASE
    taken.release()
    assert os.listdir(uids) == []


def test_two_environments_in_one_process_get_different_uids(
    uids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity, "UID_COUNT", 2)
    first, second = identity.allocate(), identity.allocate()
    assert {first.uid, second.uid} == {identity.UID_BASE, identity.UID_BASE + 1}
    with pytest.raises(identity.NoIdentityLeft):
        identity.allocate()
    first.release()
    again = identity.allocate()
    assert again.uid == first.uid
    again.release()
    second.release()


def test_a_crashed_holders_uid_is_not_reused_while_something_runs_as_it(
    uids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file left behind by a crash, for a uid that still runs processes (ours).
    monkeypatch.setattr(identity, "UID_BASE", os.getuid())
    uids.mkdir(parents=True)
    (uids / str(os.getuid())).write_text("1")
    with pytest.raises(identity.NoIdentityLeft):
        identity.allocate()
    assert identity.sweep() == 0


def test_the_sweep_removes_what_crashed_holders_left(uids: Path) -> None:
    uids.mkdir(parents=True)
    (uids / str(identity.UID_BASE)).write_text("1")
    assert identity.sweep() == 1
    assert os.listdir(uids) == []


def test_the_user_database_names_the_uid_as_lambda_does(uids: Path) -> None:
    taken = identity.allocate()
    try:
        assert f"sbx_user1051:x:{taken.uid}:{taken.uid}::/tmp:/sbin/nologin" in taken.passwd()
        assert f"sbx_user1051:x:{taken.uid}:" in taken.group()
    finally:
        taken.release()
