"""Each sandbox's ``/tmp`` on disk, sized to its EphemeralStorage and charged apart from memory.

A tmpfs ``/tmp`` lives in RAM, so its pages count against the function's memory limit
(128 MB of memory could not hold a 2 GB ``/tmp``); AWS bills the two apart. Here each
environment gets a sparse file formatted ext4 (no journal, nothing reserved; a few
milliseconds), loop-mounted in the executor's own mount namespace — private to it, so
the host's mount table never sees these mounts and they vanish with the executor — and
bound by bubblewrap at ``/tmp``. A full ``/tmp`` gives ENOSPC, whatever the memory.

All mounts are made, and undone, by one thread that owns that namespace; the spawner
thread joins it, so every sandbox it starts sees them. The images together stay within
``FUNCTORY_EPHEMERAL_TOTAL_MB`` (default: half the free disk of the state directory).
``FUNCTORY_EPHEMERAL_STORAGE=tmpfs`` keeps the former in-memory ``/tmp`` (hosts without
loop devices fall back to it by themselves). The Docker backend's containers get images
made by the same helpers, mounted by dockerd instead (``docker_tmp.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import queue
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from invocations.executor import cgroups

logger = logging.getLogger(__name__)

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_SLAVE = 1 << 19
MNT_DETACH = 2
# ext4's own metadata (inode tables, bitmaps: 0.79% with these options) and the blocks it
# keeps back for delayed allocation (2%, at most 16 MB) come on top, so that files fill
# EphemeralStorage to within a few blocks, and never beyond it.
_METADATA = 0.008
_RESERVE, _RESERVE_MAX = 0.02, 16 * 1024 * 1024
# No journal (nothing to recover after a crash), never grown, no root reserve, an inode
# per 32 KB.
_MKFS: tuple[str, ...] = ("mkfs.ext4", "-q", "-F", "-E", "nodiscard")
_MKFS += ("-O", "^has_journal,^resize_inode", "-m", "0", "-i", "32768")
# Formatted and mounted ahead, of Lambda's default size, so cold starts do not wait for it.
SPARE = int(os.environ.get("FUNCTORY_EPHEMERAL_SPARE", "2"))
SPARE_MB = 512
DIRTY_MAX_BYTES = 4 * 1024 * 1024
_OWNED = re.compile(r"^o(\d+\.\d+)-[0-9a-f]+(\.img)?$")
_libc = ctypes.CDLL(None, use_errno=True)


class EphemeralStorageExhausted(Exception):
    """The images in use already take the whole ephemeral storage budget."""


def mode() -> str:
    """``disk`` (the default) or ``tmpfs``."""
    configured = os.environ.get("FUNCTORY_EPHEMERAL_STORAGE", "disk")
    if configured == "tmpfs":
        return "tmpfs"
    if not os.path.exists("/dev/loop-control") or shutil.which("mkfs.ext4") is None:
        return "tmpfs"
    return "disk"


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what} failed: {os.strerror(errno)}")


class _Mounter:
    """One thread in a mount namespace of its own: it makes and removes every /tmp."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        ready: queue.SimpleQueue[BaseException | int] = queue.SimpleQueue()
        threading.Thread(
            target=self._run, args=(ready,), name="functory-mounter", daemon=True
        ).start()
        outcome = ready.get()
        if isinstance(outcome, BaseException):
            raise outcome
        self.namespace = outcome
        # Unmounting a large, dirty /tmp takes a while: a second thread in the namespace
        # does it, so the next cold start never waits behind it.
        self._removals: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._clean, name="functory-unmounter", daemon=True).start()

    def _run(self, ready: queue.SimpleQueue[BaseException | int]) -> None:
        try:
            # Our mounts stay ours (slave: the host's later mounts still show up here).
            _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
            _check(_libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None), "mount --make-rslave")
            ready.put(os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC))
        except BaseException as exc:
            ready.put(exc)
            return
        while True:
            try:
                self._jobs.get()()
            except Exception:  # this thread must outlive any one job
                logger.exception("an ephemeral storage job failed")

    def _clean(self) -> None:
        _check(_libc.unshare(CLONE_FS), "unshare(CLONE_FS)")
        _check(_libc.setns(self.namespace, CLONE_NEWNS), "setns(mount namespace)")
        while True:
            try:
                self._removals.get()()
            except Exception:
                logger.exception("removing an ephemeral storage image failed")

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def submit_removal(self, job: Callable[[], None]) -> None:
        self._removals.put(job)


_mounter: _Mounter | None = None
_mounter_lock = threading.Lock()


def mounter() -> _Mounter:
    global _mounter
    with _mounter_lock:
        if _mounter is None:
            _mounter = _Mounter()
        return _mounter


def join_namespace() -> None:
    """Called on the spawner thread: sandboxes it starts see the mounted /tmp's."""
    namespace = mounter().namespace  # first: its threads start sharing this thread's fs
    cwd = os.getcwd()
    # setns needs a root and cwd this thread alone uses: its own copy, nothing may be
    # started from this thread between the two calls.
    _check(_libc.unshare(CLONE_FS), "unshare(CLONE_FS)")
    _check(_libc.setns(namespace, CLONE_NEWNS), "setns(mount namespace)")
    os.chdir(cwd)  # setns moved it to the namespace's root


def _limit_dirty(device: str) -> None:
    """Throttle writers to this device once it has 4 MB waiting to be written back.

    The page cache of /tmp's files is charged to the function's memory cgroup. cgroup v1
    does not limit dirty pages per cgroup, so a fast writer could fill its memory with
    them, faster than writeback frees them, and be OOM-killed. A strict per-device dirty
    limit keeps what is not yet written small; the rest of /tmp's cache is clean and
    reclaimed as needed.
    """
    number = os.stat(device).st_rdev
    bdi = Path(f"/sys/class/bdi/{os.major(number)}:{os.minor(number)}")
    try:
        (bdi / "max_bytes").write_text(str(DIRTY_MAX_BYTES))
        (bdi / "strict_limit").write_text("1")
    except OSError as exc:  # older kernels (before 6.2) have neither
        logger.debug("no per-device dirty limit for %s: %s", device, exc)


def format_image(image: Path, size_mb: int) -> None:
    """A sparse file (blocks are taken as /tmp fills) formatted to hold ``size_mb``."""
    with open(image, "wb") as handle:
        handle.truncate(image_bytes(size_mb))
    subprocess.run([*_MKFS, str(image)], check=True, capture_output=True)


def open_root(image: Path) -> None:
    """Make the unmounted image's root what /tmp is: empty (no lost+found), mode 1777.

    For images someone else mounts (dockerd), where the executor never sees the mount.
    """
    result = subprocess.run(
        ["debugfs", "-w", "-f", "-", str(image)],
        input="rmdir lost+found\nsif / mode 041777\n",
        check=True,
        capture_output=True,
        text=True,
    )
    # debugfs exits 0 whatever its commands did; anything but its banner is an error.
    errors = [line for line in result.stderr.splitlines() if not line.startswith("debugfs ")]
    if any(errors):
        raise OSError(f"preparing {image.name}: {'; '.join(errors)}")


def attach(image: Path) -> str:
    """A loop device over ``image``, with direct I/O and a small dirty limit."""
    # Direct I/O: the image's own page cache would be a second copy of /tmp in memory.
    device = subprocess.run(
        ["losetup", "--find", "--show", "--direct-io=on", str(image)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        _limit_dirty(device)
    except BaseException:
        detach(device)
        raise
    return device


def detach(device: str) -> None:
    """Free a loop device now, or, if it is mounted, as soon as it is unmounted."""
    subprocess.run(["losetup", "-d", device], capture_output=True)


def detach_orphan_loops(directory: Path) -> None:
    """Detach loop devices over images in ``directory`` of executors that are gone.

    Only those never detached: a detached one goes by itself with its mount, and may
    be reused for another image the moment it does.
    """
    for loop in Path("/sys/block").glob("loop*/loop"):
        with contextlib.suppress(OSError):
            backing = Path(
                loop.joinpath("backing_file").read_text().strip().removesuffix(" (deleted)")
            )
            if backing.parent != directory or not left_by_dead_executor(backing.name):
                continue
            if loop.joinpath("autoclear").read_text().strip() == "0":
                detach(f"/dev/{loop.parent.name}")


def left_by_dead_executor(name: str) -> bool:
    """Whether ``name`` is an image (or mount point) of an executor that is gone."""
    match = _OWNED.match(name)
    return match is not None and not cgroups.owner_alive(match[1])


def image_bytes(size_mb: int) -> int:
    """The image size whose ext4 holds ``size_mb`` of files."""
    size = size_mb * cgroups.MB
    total = size / (1 - _METADATA - _RESERVE)
    if total * _RESERVE > _RESERVE_MAX:
        total = (size + _RESERVE_MAX) / (1 - _METADATA)
    return int(total) // 4096 * 4096


def _free_disk_mb(path: Path) -> int:
    usage = shutil.disk_usage(path)
    return usage.free // cgroups.MB


class EphemeralStore:
    """Makes, mounts, budgets and removes the /tmp images of one backend."""

    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir.resolve() / "ephemeral"
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self.sweep_orphans()
        configured = os.environ.get("FUNCTORY_EPHEMERAL_TOTAL_MB")
        self.budget_mb = int(configured) if configured else _free_disk_mb(self.directory) // 2
        self.used_mb = 0
        self._lock = threading.Lock()
        self._spare: list[Path] = []
        self._refilling = False
        self._closed = False

    async def acquire(self, size_mb: int) -> Path:
        """A freshly formatted, mounted /tmp of ``size_mb`` usable megabytes."""
        if size_mb == SPARE_MB and SPARE > 0:
            with self._lock:
                spare = self._spare.pop() if self._spare else None
            self._refill()
            if spare is not None:
                return spare
        self.reserve(size_mb)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Path] = loop.create_future()

        def deliver(path: Path) -> None:
            if future.cancelled():
                self.release(path, size_mb)
            else:
                future.set_result(path)

        def fail(exc: BaseException) -> None:
            if not future.cancelled():
                future.set_exception(exc)

        def make() -> None:
            try:
                path = self._make(size_mb)
            except BaseException as exc:
                with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                    loop.call_soon_threadsafe(fail, exc)
                return
            try:
                loop.call_soon_threadsafe(deliver, path)
            except RuntimeError:  # nobody is waiting any more
                self._remove(path, path.with_name(f"{path.name}.img"))
                with self._lock:
                    self.used_mb -= size_mb

        mounter().submit(make)
        try:
            return await future
        except BaseException:
            if not future.cancelled():  # else the late result is released with its share
                with self._lock:
                    self.used_mb -= size_mb
            raise

    def reserve(self, size_mb: int) -> None:
        """Count an image of ``size_mb`` against the budget, or refuse it."""
        with self._lock:
            if self.used_mb + size_mb > self.budget_mb:
                raise EphemeralStorageExhausted(
                    f"ephemeral storage budget of {self.budget_mb} MB in use"
                )
            self.used_mb += size_mb

    def unreserve(self, size_mb: int) -> None:
        with self._lock:
            self.used_mb -= size_mb

    def _make(self, size_mb: int) -> Path:
        """On the mounter thread."""
        name = f"o{cgroups.owner_token()}-{uuid.uuid4().hex[:12]}"
        image = self.directory / f"{name}.img"
        target = self.directory / name
        try:
            format_image(image, size_mb)
            target.mkdir(mode=0o755)
            device = attach(image)
            try:
                subprocess.run(
                    ["mount", "-o", "nosuid,nodev", device, str(target)],
                    check=True,
                    capture_output=True,
                )
            finally:
                # The device goes when unmounted, however that happens (this namespace
                # dies with the executor).
                detach(device)
            # Seen from this namespace only: the mounted root, not the directory under it.
            os.rmdir(target / "lost+found")
            os.chmod(target, 0o1777)
        except BaseException:
            self._remove(target, image)
            raise
        return target

    def _refill(self) -> None:
        """Top the spares up, one image per mounter job so other work interleaves."""
        with self._lock:
            if self._refilling:
                return
            self._refilling = True

        def make_one() -> None:
            with self._lock:
                wanted = not self._closed and len(self._spare) < SPARE
                if not wanted or self.used_mb + SPARE_MB > self.budget_mb:
                    self._refilling = False
                    return
                self.used_mb += SPARE_MB
            try:
                path = self._make(SPARE_MB)
            except BaseException:
                with self._lock:
                    self.used_mb -= SPARE_MB
                    self._refilling = False
                raise
            with self._lock:
                closed = self._closed
                if not closed:
                    self._spare.append(path)
            if closed:
                self.release(path, SPARE_MB)
            mounter().submit(make_one)

        mounter().submit(make_one)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            spares, self._spare = self._spare, []
        for path in spares:
            self.release(path, SPARE_MB)

    def release(self, target: Path, size_mb: int) -> None:
        """Unmount and delete, on the unmounter thread (a large /tmp takes a moment)."""

        def remove() -> None:
            try:
                self._remove(target, target.with_name(f"{target.name}.img"))
            finally:
                with self._lock:
                    self.used_mb -= size_mb

        mounter().submit_removal(remove)

    @staticmethod
    def _remove(target: Path, image: Path) -> None:
        if _libc.umount2(str(target).encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in {
            22,  # EINVAL: not mounted
            2,  # ENOENT
        }:
            logger.warning("unmounting %s failed: errno %d", target, ctypes.get_errno())
        with contextlib.suppress(OSError):
            target.rmdir()
        with contextlib.suppress(OSError):
            image.unlink()

    def sweep_orphans(self) -> None:
        """Images left by executors that are gone (their mounts died with them)."""
        detach_orphan_loops(self.directory)  # attached, by a crash, but never mounted
        with contextlib.suppress(OSError):
            for entry in self.directory.iterdir():
                if not left_by_dead_executor(entry.name):
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir():
                        entry.rmdir()
                    else:
                        entry.unlink()
