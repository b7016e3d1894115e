"""Mounts a fresh ``/tmp`` in a forked environment's mount namespace (run as its own process).

``setns`` into a mount namespace is refused to a multi-threaded process, which the
executor is, so this small single-threaded helper does it: one JSON line in
(``{"pid": P, "size": BYTES}``), one line out (``ok`` or the error). It runs as root: its
only input is the executor's.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV = 0x2, 0x4

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def mount_tmp(own: int, pid: int, size: int) -> None:
    target = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(target, CLONE_NEWNS), "setns")
        try:
            options = f"size={size},mode=1777".encode()
            _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount")
        finally:
            _check(_libc.setns(own, CLONE_NEWNS), "setns back")
            os.chdir("/")
    finally:
        os.close(target)


def main() -> None:
    own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            mount_tmp(own, int(request["pid"]), int(request["size"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"error {exc}", flush=True)
        else:
            print("ok", flush=True)


if __name__ == "__main__":
    main()
