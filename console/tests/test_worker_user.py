"""What `serve`, running as root, shares with its unprivileged worker (console/worker_user.py)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from console.startup import FILESYSTEM_BROKER
from console.worker_user import (
    WorkerUser,
    blocked_folder,
    hold_wal_files,
    share_data_dir,
    worker_user,
)
from invocations import codecache

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes file owners")
NOBODY = WorkerUser("nobody", 65534, 65534, frozenset({65534}))


def test_no_user_to_drop_to_when_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert worker_user() is None


@as_root
def test_an_unknown_worker_user_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCTORY_WORKER_USER", "no-such-user-here")
    with pytest.raises(KeyError):
        worker_user()


def test_a_folder_the_user_cannot_enter_is_named() -> None:
    # Not under pytest's temporary folders: those are their owner's alone.
    top = Path(tempfile.mkdtemp(prefix="functory-blocked-"))
    try:
        top.chmod(0o755)
        closed = top / "closed"
        (closed / "inside").mkdir(parents=True)
        closed.chmod(0o700)
        stranger = WorkerUser("stranger", os.getuid() + 4242, 4242, frozenset({4242}))
        assert blocked_folder(stranger, [closed / "inside"]) == closed
        closed.chmod(0o711)
        assert blocked_folder(stranger, [closed / "inside"]) is None
        assert blocked_folder(stranger, [top / "not-made-yet" / "data"]) is None
    finally:
        shutil.rmtree(top)


@as_root
def test_the_worker_gets_the_database_broker_and_beat_but_not_the_data_dir(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    for folder in ("broker/out", "broker/control", "beat", "runtime/code", "code"):
        (data / folder).mkdir(parents=True)
    (data / "broker" / "out" / "1.celery.msg").write_text("{}")
    (data / "secret_key").write_text("k")
    (data / "secret_key").chmod(0o600)
    database = data / "functory.sqlite3"
    sqlite3.connect(database).execute("PRAGMA journal_mode=WAL").fetchall()

    share_data_dir(NOBODY, data, database=database, broker=data / "broker", beat=data / "beat")

    def owner(path: Path) -> tuple[int, int]:
        info = path.lstat()
        return info.st_uid, info.st_gid

    assert owner(data) == (0, 0)
    for root_only in ("runtime", "runtime/code", "code"):
        assert owner(data / root_only) == (0, 0)
    for shared in ("broker", "broker/out", "broker/out/1.celery.msg", "broker/control", "beat"):
        assert owner(data / shared) == (65534, 65534)
    assert owner(database) == (65534, 65534)
    assert owner(data / "secret_key") == (0, 65534)
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o640

    # WAL files SQLite creates as root go to the database's owner, and stay while held.
    holder = hold_wal_files(database)
    try:
        assert owner(data / "functory.sqlite3-wal") == (65534, 65534)
        assert owner(data / "functory.sqlite3-shm") == (65534, 65534)
        other = sqlite3.connect(database)
        other.execute("CREATE TABLE t (x)")
        other.commit()
        other.close()
        assert (data / "functory.sqlite3-wal").exists()
    finally:
        holder.close()


@as_root
def test_a_message_root_sends_belongs_to_the_broker_folders_owner(tmp_path: Path) -> None:
    folders = {name: tmp_path / name for name in ("out", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
        os.chown(folder, 65534, 65534)
    options: dict[str, Any] = {
        "data_folder_in": str(folders["out"]),
        "data_folder_out": str(folders["out"]),
        "data_folder_processed": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    with Connection(
        FILESYSTEM_BROKER, transport="console.broker:Transport", transport_options=options
    ) as connection:
        queue = connection.SimpleQueue("owned")
        queue.put({"n": 1})
        queue.close()
    files = [*folders["out"].iterdir(), *folders["control"].iterdir()]
    assert files
    for path in files:
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534), path


def test_a_process_handing_attempts_to_the_server_extracts_no_code(
    settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    settings.FUNCTORY_EXECUTOR_URL = "http://127.0.0.1:1/_functory/internal/invoke"
    assert codecache.code_dir("ab" * 32) == str(tmp_path / "runtime" / "code" / ("ab" * 32))
    assert list(tmp_path.iterdir()) == []
