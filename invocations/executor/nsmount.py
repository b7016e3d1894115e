"""Mounts a fresh ``/tmp`` in a forked environment's mount namespace (run as its own process).

``setns`` into a mount namespace is refused to a multi-threaded process, which the
executor is, so this small single-threaded helper does it. On the socket it gets as stdin,
each request is ``{"size": BYTES}`` with the namespace's file descriptor (the executor
opened it from the process it had pinned, so no pid is looked up here); each answer is
``ok`` or the error. It runs as root: its only input is the executor's.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV = 0x2, 0x4

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def mount_tmp(own: int, target: int, size: int) -> None:
    _check(_libc.setns(target, CLONE_NEWNS), "setns")
    try:
        options = f"size={size},mode=1777".encode()
        _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount")
    finally:
        if _libc.setns(own, CLONE_NEWNS) != 0:
            os._exit(1)  # never serve the next request from inside a tenant's namespace
        os.chdir("/")


def main() -> None:
    own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    executor = socket.socket(fileno=sys.stdin.fileno())
    while True:
        message, fds, _flags, _address = socket.recv_fds(executor, 512, 1)
        if not message:
            return
        try:
            if len(fds) != 1:
                raise ValueError("no namespace given")
            mount_tmp(own, fds[0], int(json.loads(message)["size"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            executor.send(f"error {exc}".encode())
        else:
            executor.send(b"ok")
        finally:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    main()
