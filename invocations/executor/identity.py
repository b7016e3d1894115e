"""A host uid and gid of its own for every environment.

Per-uid kernel state (keyrings and their quotas, ``kill``/``ptrace`` permission, process
counts) must not be shared between environments, so each one runs as a uid nobody else
is using. The server and every Celery worker start environments, so the allocation is
shared between processes: a uid is taken by holding an ``flock`` on its file under
``LOCK_DIR`` for the environment's life. The holder unlinks the file when it lets go; a
file left behind is a crashed holder's (its lock died with it), and the uid is reused
only once no process runs as it any more.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path

UID_BASE = int(os.environ.get("FUNCTORY_SANDBOX_UID_BASE", "1900000000"))
UID_COUNT = int(os.environ.get("FUNCTORY_SANDBOX_UID_COUNT", "100000"))
LOCK_DIR = Path(os.environ.get("FUNCTORY_SANDBOX_UID_LOCKS", "/run/functory/uids"))
# What the function sees itself as (Lambda's name for its sandbox user).
USER_NAME = "sbx_user1051"


class NoIdentityLeft(RuntimeError):
    """Every uid of the range belongs to a live environment."""


class Identity:
    """One environment's uid and gid (the same number), held until ``release``."""

    def __init__(self, uid: int, fd: int, path: Path) -> None:
        self.uid = uid
        self.gid = uid
        self._fd: int | None = fd
        self._path = path

    def passwd(self) -> str:
        return (
            "root:x:0:0:root:/root:/sbin/nologin\n"
            f"{USER_NAME}:x:{self.uid}:{self.gid}::/tmp:/sbin/nologin\n"
        )

    def group(self) -> str:
        return f"root:x:0:\n{USER_NAME}:x:{self.gid}:\n"

    def release(self) -> None:
        """Give the uid back; call once no process of the environment is left."""
        if self._fd is None:
            return
        # Unlinked while still locked, so nobody can lock this inode and think it theirs.
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        os.close(self._fd)
        self._fd = None


def allocate() -> Identity:
    """Take an unused uid of the range, starting at a random one so reuse is rare."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(LOCK_DIR, 0o700)
    start = secrets.randbelow(UID_COUNT)
    for step in range(UID_COUNT):
        uid = UID_BASE + (start + step) % UID_COUNT
        identity = _try(uid)
        if identity is not None:
            return identity
    raise NoIdentityLeft(f"all {UID_COUNT} sandbox uids are in use")


def sweep() -> int:
    """Remove the files crashed holders left behind (their uid runs nothing any more)."""
    if not LOCK_DIR.is_dir():
        return 0
    running = _running_uids()
    removed = 0
    for entry in os.scandir(LOCK_DIR):
        if not entry.name.isdigit() or int(entry.name) in running:
            continue
        taken = _try(int(entry.name), running)
        if taken is not None:
            taken.release()
            removed += 1
    return removed


def _try(uid: int, running: set[int] | None = None) -> Identity | None:
    path = LOCK_DIR / str(uid)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        current = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        current = None
    held = os.fstat(fd)
    if current is None or (current.st_dev, current.st_ino) != (held.st_dev, held.st_ino):
        os.close(fd)  # its holder released it between our open and our lock
        return None
    if held.st_size and uid in (_running_uids() if running is None else running):
        os.close(fd)  # a crashed holder's process still runs as this uid
        return None
    # Marks the file as in use: one found unlocked and not empty was left by a crash.
    os.pwrite(fd, b"1", 0)
    return Identity(uid, fd, path)


def running_uids() -> set[int]:
    """The uids some process of the host runs as (a zombie's included)."""
    return _running_uids()


def _running_uids() -> set[int]:
    uids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                uids.add(os.stat(entry.path).st_uid)
    return uids
