"""SnapStart on the sandbox backend: a function version initialised once, then forked.

A template is a sandbox like any other (its own uid, cgroup, network namespace) whose
Python runtime, once the function's init has run and its ``before_snapshot`` hooks with
it, does not ask for invocations: it connects to the abstract socket the executor bound
in its network namespace and forks whenever asked. Each fork becomes an environment:

1. the executor hands the template a pipe for the new environment's output and one end of
   a socket pair; the template forks, and the child makes a user and a mount namespace
   (the only namespaces the template's seccomp filter lets it make, ``seccomp.py``);
2. on the socket pair the child's pid reaches the executor as the kernel states it
   (``SCM_CREDENTIALS``); the executor pins that process (a pidfd and its ``/proc``
   directory, opened before the checks, so a reused pid cannot stand in for it), checks
   it is in the template's cgroup, then maps the template's uid inside that user
   namespace to a new host uid of its own (``identity.py``), moves it into a new cgroup
   with the function's limits, mounts a new size-limited tmpfs on its ``/tmp``
   (``nsmount.py``, handed the namespace by file descriptor) and binds a Runtime API
   socket for it in the network namespace;
3. the child takes that uid, drops the capabilities its namespace gave it, stacks the full
   seccomp filter, reseeds ``random``, runs the ``after_restore`` hooks and asks its own
   Runtime API for its first invocation: no interpreter start, no imports, no init.

Everything after the fork is the tenant's code, which may skip step 3 or fork before step
2 ends: the template's filter is what holds a forked environment (mounts, ``setns`` and
every namespace but the user and mount pair are refused by it too), and a forked uid is
released only when the template's pid namespace is gone, as any process that could still
take it is in there. So a template forks at most ``MAX_FORKS`` environments; the next
start makes a new one.

What the forked environments share with the template (the function's own, as in AWS's
snapshot): the network namespace and its egress (and so each other's Runtime API port),
the pid, IPC and UTS namespaces, and the memory pages the template had at the fork,
copied on write. See the README's
"SnapStart" section for what differs from a fresh start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invocations.executor import cgroups, identity, seccomp

logger = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
# How long a template with no environment of its own is kept after its last fork.
IDLE_S = float(os.environ.get("FUNCTORY_TEMPLATE_IDLE_S", "600"))
# Forks per template: each holds its uid until the template ends (see above).
MAX_FORKS = int(os.environ.get("FUNCTORY_TEMPLATE_MAX_FORKS", "64"))
FORK_TIMEOUT_S = 5.0
HELPER_TIMEOUT_S = 5.0
_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
_libc = ctypes.CDLL(None, use_errno=True)
# Template work blocks on the tenant's processes (bounded by timeouts): on threads of its
# own, never the default executor's, which every sandbox start needs.
EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="template")


class TemplateUnavailable(RuntimeError):
    """The template ended or misbehaved: start the environment the ordinary way."""


class ForkedProcess(cgroups.CgroupProcess):
    """An environment forked from a template: a process of the host's, not our child.

    Its uid is the template's to release (``Template.release_users``), not its own.
    """

    def __init__(self, pid: int, pidfd: int, user: identity.Identity) -> None:
        self.pid = pid
        self.cgroup: cgroups.Cgroup | None = None
        self.user = user
        self.returncode: int | None = None
        self._pidfd = pidfd
        self._ended_at: float | None = None

    def exited(self, code: int) -> None:
        """The template reaped it: its exit code, as ``Popen.returncode`` gives one."""
        self.returncode = code

    def alive(self) -> bool:
        return self._pidfd >= 0 and not select.select([self._pidfd], [], [], 0)[0]

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if self._pidfd < 0:  # cleaned up: killed, however it ended
            self.returncode = -9
            return self.returncode
        if self.alive():
            return None
        # Gone; the template reports how in a moment (or never, if it died first).
        now = time.monotonic()
        if self._ended_at is None:
            self._ended_at = now
        if now - self._ended_at > 0.5:
            self.returncode = -9
        return self.returncode

    def kill(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                signal_pidfd(self._pidfd, 9)

    def cleanup(self) -> None:
        self.kill()
        if self._pidfd >= 0:
            select.select([self._pidfd], [], [], 1)
            os.close(self._pidfd)
            self._pidfd = -1
        if self.cgroup is not None:
            self.cgroup.kill_all()
            self.cgroup.remove()


@functools.cache
def _full_filter_hex() -> str:
    """The filter every fork stacks, as the fork's document carries it (made once)."""
    return seccomp.bpf_program().hex()


def signal_pidfd(pidfd: int, number: int) -> None:
    if _libc.syscall(424, pidfd, number, None, 0) != 0:  # pidfd_send_signal
        raise OSError(ctypes.get_errno(), "pidfd_send_signal")


class _MountHelper:
    """The ``nsmount`` process, started on first use and shared by every template."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).with_name("nsmount.py"))],
                stdin=theirs.fileno(),
            )
        ours.settimeout(HELPER_TIMEOUT_S)
        self._socket = ours
        return ours

    def _stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=2)
            self._process = None

    def mount_tmp(self, namespace_fd: int, size: int) -> None:
        """A tmpfs of ``size`` bytes on ``/tmp`` in the mount namespace ``namespace_fd``."""
        with self._lock:
            alive = self._process is not None and self._process.poll() is None
            helper = self._socket if alive and self._socket is not None else None
            if helper is None:
                self._stop()
                helper = self._start()
            try:
                socket.send_fds(helper, [json.dumps({"size": size}).encode()], [namespace_fd])
                answer = helper.recv(512).decode(errors="replace")
            except OSError as exc:  # timed out or gone: a new helper next time
                self._stop()
                answer = f"the helper failed: {exc}"
        if answer != "ok":
            raise TemplateUnavailable(f"no /tmp for a forked environment: {answer or 'none'}")


_helper = _MountHelper()


def bind_in_namespace_of(pid: int, bind: Callable[[], socket.socket]) -> socket.socket:
    """``bind()`` run in the network namespace of ``pid`` (the executor's own child, whose
    pid nobody else can take)."""
    namespace = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return bind_in_namespace(namespace, bind)
    finally:
        os.close(namespace)


def bind_in_namespace(namespace: int, bind: Callable[[], socket.socket]) -> socket.socket:
    """``bind()`` run in the network namespace ``namespace`` (an fd), on a thread of its own."""
    result: list[socket.socket | BaseException] = []

    def run() -> None:
        try:
            if _libc.setns(namespace, CLONE_NEWNET) != 0:
                number = ctypes.get_errno()
                raise OSError(number, f"setns: {os.strerror(number)}")
            result.append(bind())
        except BaseException as exc:  # handed to the caller
            result.append(exc)

    # A thread that ends with the namespace: never one that serves anything else after.
    thread = threading.Thread(target=run, name="template-netns")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def abstract_listener(name: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    listener.bind("\0" + name)
    listener.listen(1)
    return listener


def runtime_api_listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener


@dataclass
class _Spare:
    """A forked environment isolated ahead of need, waiting for its variables."""

    process: ForkedProcess
    listener: socket.socket
    output_r: int
    control: socket.socket
    memory_mb: int
    tmp_bytes: int

    def discard(self) -> None:
        self.control.close()
        self.listener.close()
        os.close(self.output_r)
        self.process.cleanup()


class Template:
    """One initialised template and the environments forked from it."""

    def __init__(
        self,
        connection: socket.socket,
        uid: int,
        sandbox_pid: int,
        cgroup: cgroups.Cgroup | None,
    ) -> None:
        self._connection = connection  # to the template's runtime (SOCK_SEQPACKET)
        self.uid = uid  # the template's host uid, each fork's uid inside its namespace
        # The template's network namespace, held (bwrap's pid could be reaped and reused).
        self._network = os.open(f"/proc/{sandbox_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._cgroup = cgroup  # every process of the template's sandbox starts in it
        self._released = False
        self._closed = False
        self._lock = threading.Lock()
        self._children: dict[int, ForkedProcess] = {}  # by host pid
        self._inside: dict[int, int] = {}  # pid inside (as the template reports it): host pid
        self._users: list[identity.Identity] = []  # every fork's, released when it ends
        self.forks = 0
        self.last_fork = time.monotonic()
        self.ended = False
        self._spare: _Spare | None = None  # forked ahead, waiting for its variables
        self._reader = threading.Thread(target=self._read_reports, daemon=True)
        self._reader.start()

    @property
    def exhausted(self) -> bool:
        """Ended, or forked its share (its last spare, if any, still to be taken)."""
        return self.ended or (self.forks >= MAX_FORKS and self._spare is None)

    @property
    def children(self) -> int:
        """How many forked environments still run, the spare aside (those that ended are
        forgotten)."""
        with self._lock:
            children = list(self._children.items())
            spare = self._spare
        running = 0
        for pid, child in children:
            if child.poll() is not None:
                with self._lock:
                    self._children.pop(pid, None)
            elif spare is None or child is not spare.process:
                running += 1
        return running

    def _read_reports(self) -> None:
        """Exit codes of forked environments, as the template reaps them."""
        while True:
            try:
                message = self._connection.recv(256)
            except OSError:
                message = b""
            if not message:
                self.ended = True
                return
            try:
                report = json.loads(message)
                with self._lock:
                    host = self._inside.pop(int(report["exited"]), None)
                    child = self._children.get(host) if host is not None else None
                if child is not None:
                    child.exited(int(report["code"]))
            except Exception:
                continue

    def fork(
        self, memory_mb: int, tmp_bytes: int, variables: Callable[[str], dict[str, str]]
    ) -> tuple[ForkedProcess, socket.socket, int]:
        """A new environment (blocking: run it on ``EXECUTOR``).

        The one ``prepare`` forked ahead if it fits, else one forked now. ``variables
        (runtime_api)`` gives its environment variables. Returns its process, its Runtime
        API's listening socket and the read end of its output.
        """
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and (spare.memory_mb, spare.tmp_bytes) != (memory_mb, tmp_bytes):
            spare.discard()
            spare = None
        if spare is None or spare.process.poll() is not None:
            if spare is not None:
                spare.discard()
            spare = self._fork_isolated(memory_mb, tmp_bytes)
        try:
            document = {
                "uid": self.uid,
                "gid": self.uid,
                "seccomp": _full_filter_hex(),
                "env": variables(f"127.0.0.1:{spare.listener.getsockname()[1]}"),
            }
            spare.control.send(json.dumps(document).encode())
        except BaseException as exc:
            spare.discard()
            if isinstance(exc, OSError):
                raise TemplateUnavailable(f"the forked environment ended: {exc}") from exc
            raise
        spare.control.close()
        self.last_fork = time.monotonic()
        return spare.process, spare.listener, spare.output_r

    def prepare(self, memory_mb: int, tmp_bytes: int) -> None:
        """Fork the next environment now, isolated, to wait for its variables (blocking).

        Moving a process into cgroup v1 controllers waits for an RCU grace period (~6 ms),
        which a cold start should not.
        """
        with self._lock:
            if self.ended:
                raise TemplateUnavailable("the template ended")
            if self._spare is not None or self.forks >= MAX_FORKS:
                return
        made: _Spare | None = self._fork_isolated(memory_mb, tmp_bytes)
        with self._lock:
            if self._spare is None and not self.ended:
                self._spare, made = made, None
        if made is not None:
            made.discard()

    def _fork_isolated(self, memory_mb: int, tmp_bytes: int) -> _Spare:
        with self._lock:
            if self.ended or self.forks >= MAX_FORKS:
                raise TemplateUnavailable("the template ended or forked its share")
            self.forks += 1
        output_r, output_w = os.pipe2(os.O_CLOEXEC)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ours.settimeout(FORK_TIMEOUT_S)
        process: ForkedProcess | None = None
        listener: socket.socket | None = None
        proc = pidfd = -1
        try:
            with self._lock:
                try:
                    socket.send_fds(self._connection, [b"fork"], [output_w, theirs.fileno()])
                except OSError as exc:
                    self.ended = True
                    raise TemplateUnavailable(f"the template ended: {exc}") from exc
            os.close(output_w)
            output_w = -1
            theirs.close()
            pid, inside = self._child_pid(ours)
            try:
                pidfd = os.pidfd_open(pid)
                proc = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as exc:
                raise TemplateUnavailable(f"the forked environment ended: {exc}") from exc
            # Pinned (pidfd and /proc directory open) while alive: this pid is that process.
            # Checked before anything acts on it: a stranger is only let go of.
            if select.select([pidfd], [], [], 0)[0] or not self._in_sandbox(proc):
                raise TemplateUnavailable("the forked environment is not the template's")
            process = ForkedProcess(pid, pidfd, self._allocate())
            pidfd = -1  # the process's now
            for name in ("uid_map", "gid_map"):
                _write_at(proc, name, f"{self.uid} {process.user.uid} 1\n")
            limits = cgroups.Limits(memory_mb)
            process.cgroup = cgroups.create(f"env-{uuid.uuid4().hex[:12]}", limits)
            if process.cgroup is not None:
                process.cgroup.add(pid)
                if not process.alive():
                    # It died before the move: the pid may be another's now, moved in by
                    # that write. Nothing in the cgroup is killed; it is left behind.
                    logger.warning("a forked environment ended while moved: cgroup left")
                    process.cgroup = None
                    raise TemplateUnavailable("the forked environment ended while set up")
            namespace = os.open("ns/mnt", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc)
            try:
                _helper.mount_tmp(namespace, tmp_bytes)
            finally:
                os.close(namespace)
            listener = bind_in_namespace(self._network, runtime_api_listener)
            with self._lock:
                self._children[pid] = process
                self._inside[inside] = pid
            return _Spare(process, listener, output_r, ours, memory_mb, tmp_bytes)
        except BaseException as exc:
            ours.close()
            os.close(output_r)
            if output_w >= 0:
                os.close(output_w)
            if pidfd >= 0:
                os.close(pidfd)
            if listener is not None:
                listener.close()
            if process is not None:
                process.cleanup()
            if isinstance(exc, TemplateUnavailable) and "did not fork" in str(exc):
                self.ended = True  # a template that stops forking is not asked again
            if isinstance(exc, OSError):  # a map refused, a cgroup or socket not made
                raise TemplateUnavailable(f"a forked environment failed: {exc}") from exc
            raise
        finally:
            if proc >= 0:
                os.close(proc)

    def _allocate(self) -> identity.Identity:
        """A uid for a fork, the template's to keep until its pid namespace is gone."""
        user = identity.allocate()
        with self._lock:
            if not self._released:
                self._users.append(user)
                return user
        user.release()
        raise TemplateUnavailable("the template ended")

    def _child_pid(self, ours: socket.socket) -> tuple[int, int]:
        """The forked child's host pid (the kernel's word) and its pid inside (its own)."""
        try:
            message, ancillary, _flags, _address = ours.recvmsg(4096, socket.CMSG_SPACE(12))
        except (OSError, TimeoutError) as exc:
            raise TemplateUnavailable(f"the template did not fork: {exc}") from exc
        pid = None
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = _UCRED.unpack(data[: _UCRED.size])[0]
        try:
            inside = int(json.loads(message)["pid"])
        except Exception:
            raise TemplateUnavailable(f"the forked environment failed: {message[:200]!r}") from None
        if pid is None or pid <= 0:
            raise TemplateUnavailable("the forked environment sent no credentials")
        return pid, inside

    def _in_sandbox(self, proc: int) -> bool:
        """Whether the pinned process is one of the template's sandbox: in its cgroup."""
        if self._cgroup is None:  # no cgroups on this host: no way to tell, so no
            return False
        try:
            with open(os.open("cgroup", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc)) as handle:
                lines = handle.read().splitlines()
        except OSError:
            return False
        path = f"/{cgroups.PARENT}/{self._cgroup.name}"
        return any(line.split(":", 2)[2:] == [path] for line in lines)

    def release_users(self, wait_s: float = 5.0) -> None:
        """Once the template's sandbox and every fork were killed (blocking): each uid as
        soon as nothing runs as it (its holders were SIGKILLed, their pid namespace is
        going). One still in use after ``wait_s`` is kept: a leak, never a reuse."""
        with self._lock:
            self._released = True
            users, self._users = self._users, []
        deadline = time.monotonic() + wait_s
        while users:
            running = identity.running_uids()
            for user in [user for user in users if user.uid not in running]:
                user.release()
                users.remove(user)
            if users and time.monotonic() > deadline:
                logger.warning("%d forked uids still in use: kept", len(users))
                return
            if users:
                time.sleep(0.05)

    def close(self) -> None:
        """Stop forking and kill the forks (blocking: run it on ``EXECUTOR``); once only."""
        with self._lock:
            if self._closed:
                return
            self._closed = self.ended = True
            spare, self._spare = self._spare, None
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_RDWR)
        self._connection.close()
        if spare is not None:
            spare.discard()
        with self._lock:
            children = list(self._children.values())
        for child in children:  # none are left once the template is stopped
            child.kill()
        with contextlib.suppress(OSError):
            os.close(self._network)


def _write_at(directory: int, name: str, text: str) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=directory)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


async def accept_template(
    listener: socket.socket,
    uid: int,
    sandbox_pid: int,
    cgroup: cgroups.Cgroup | None,
    failed: asyncio.Future[Any],
    timeout_s: float,
) -> Template:
    """The template's connection once its init is done, or TemplateUnavailable."""
    loop = asyncio.get_running_loop()
    listener.setblocking(False)

    async def ready() -> socket.socket:
        connection, _address = await loop.sock_accept(listener)
        try:
            connection.setblocking(False)
            if await loop.sock_recv(connection, 256) != b'{"ready": true}':
                raise TemplateUnavailable("the template's runtime did not get ready")
            connection.setblocking(True)
            return connection
        except BaseException:  # cancelled (init failed, timed out) or not ready
            connection.close()
            raise

    waiting = asyncio.ensure_future(ready())
    done, _ = await asyncio.wait(
        {waiting, failed}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
    )
    if waiting not in done:
        waiting.cancel()
        raise TemplateUnavailable("the template's init did not finish")
    return Template(waiting.result(), uid, sandbox_pid, cgroup)
