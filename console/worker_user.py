"""Who the embedded Celery worker runs as when ``serve`` runs as root.

Only the executor needs root (namespaces, cgroups, a uid per environment), and it runs in
the server process: the embedded worker hands its asynchronous attempts to the server
(``FUNCTORY_EXECUTOR_URL``) and otherwise talks to the database, the broker folders and
remote services. So it runs as an unprivileged user: ``FUNCTORY_WORKER_USER``, else
``functory`` when that user exists, else ``nobody``.

What the two share in the data dir is made the worker's (the root server can use it all
anyway): the SQLite database and its WAL files, the broker folders (``console.broker``
gives each message the root server writes there to the folder's owner) and beat's folder;
the secret key becomes readable by the worker's group (the worker signs its calls to the
server). The data dir itself stays root's and not writable by the worker, so the worker
can neither create nor replace a name the root server opens there: SQLite would create the
database's WAL files in it, so ``serve`` keeps a connection open for its whole life, which
keeps those files in place (SQLite removes them when the last connection closes), and
SQLite running as root gives the ones it creates to the database's owner.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkerUser:
    name: str
    uid: int
    gid: int
    groups: frozenset[int]


def worker_user() -> WorkerUser | None:
    """The user to run the worker as; None when this process is not root (nothing to drop).

    Raises ``KeyError`` for a ``FUNCTORY_WORKER_USER`` that does not exist."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("FUNCTORY_WORKER_USER", "")
    if not name:
        name = "functory" if _exists("functory") else "nobody"
    entry = pwd.getpwnam(name)
    groups = frozenset(os.getgrouplist(name, entry.pw_gid))
    return WorkerUser(name, entry.pw_uid, entry.pw_gid, groups)


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def blocked_folder(user: WorkerUser, paths: list[Path]) -> Path | None:
    """The first folder on the way to one of ``paths`` that ``user`` cannot enter, if any:
    the worker could not start (its Python, the code) or reach the data dir as that user."""
    for path in paths:
        for folder in [*reversed(path.parents), path]:
            try:
                info = folder.stat()
            except FileNotFoundError:
                break
            if stat.S_ISDIR(info.st_mode) and not _may_enter(user, info):
                return folder
    return None


def _may_enter(user: WorkerUser, info: os.stat_result) -> bool:
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in user.groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def needed_paths(base_dir: Path, data_dir: Path) -> list[Path]:
    """What the worker reaches: the code, the interpreter and its libraries, the data dir."""
    executable = Path(sys.executable)
    return [
        base_dir,
        executable.parent,
        executable.resolve().parent,
        Path(sys.prefix),
        Path(sysconfig.get_paths()["stdlib"]),
        Path(sysconfig.get_paths()["purelib"]),
        data_dir,
    ]


def share_data_dir(
    user: WorkerUser,
    data_dir: Path,
    *,
    database: Path | None,
    broker: Path | None,
    beat: Path,
) -> None:
    """Give ``user`` what the worker writes or reads in the data dir (see the module doc)."""
    key = data_dir / "secret_key"
    if key.exists():
        os.chown(key, -1, user.gid)
        os.chmod(key, 0o640)
    if database is not None:
        for suffix in ("", "-wal", "-shm"):
            path = database.with_name(database.name + suffix)
            if path.exists():
                os.lchown(path, user.uid, user.gid)
    for tree in (broker, beat):
        if tree is None or not tree.exists():
            continue
        os.lchown(tree, user.uid, user.gid)
        for root, folders, files in os.walk(tree):
            for name in [*folders, *files]:
                os.lchown(os.path.join(root, name), user.uid, user.gid)


def hold_wal_files(database: Path) -> sqlite3.Connection:
    """A connection kept open so SQLite never removes the database's WAL files (see the
    module doc); it holds no transaction, so checkpoints are not held back."""
    connection = sqlite3.connect(database, check_same_thread=False)
    # A read opens (creating if need be) the -wal and -shm files; fetchall() finishes the
    # statement, so no read transaction stays open.
    connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    return connection
