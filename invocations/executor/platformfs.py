"""What bubblewrap binds into sandboxes, made so that their mount table names no host path.

A bind mount shows, in ``/proc/self/mountinfo``, its root within the file system it came
from: binding ``<state>/runtime/code/<sha256>`` at ``/var/task`` told a function where the
platform keeps its state, the code digest and the checkout (issue 10, item 12). So what
a sandbox binds is always the root, or a platform-named directory, of a file system made
for it, in the executor's private mount namespace (``ephemeral.mounter``):

- code and layer trees: read-only erofs images (``treeimages``), each loop-mounted once
  under ``<state>/trees/`` and bound by every sandbox of that tree;
- ``/etc`` and the runtimes (``/var/runtime``): a small tmpfs, ``<state>/platform``, with
  ``etc/`` and ``runtime/`` in it;
- a standby environment's ``/var/task`` and ``/opt``: the ``task/`` and ``opt/`` of a
  tmpfs of its own (``<state>/slots/<id>``) made *shared* before the sandbox starts, so
  that bubblewrap's copy is its slave: a cold start that adopts it binds the function's
  images onto them here, and they appear, stacked, inside that sandbox at once.

Every method but ``drop_slot`` runs on the spawner thread, which has joined that
namespace; one instance serves every backend of a process over one state directory (two
would mount over each other's directories while bubblewrap binds them by descriptor).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

from invocations.executor import cgroups, egress, ephemeral, javaruntime, treeimages
from invocations.executor.catalog import RUNTIME_DIR

logger = logging.getLogger(__name__)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_SHARED = 1 << 20
MNT_DETACH = 2
# Tree mounts kept when idle: unmounting one unused this long is safe (a sandbox binds its
# trees while it starts, and keeps its own copies of the mounts after).
MAX_TREES = 256
IDLE_TREE_S = 600.0
_libc = ctypes.CDLL(None, use_errno=True)

# Host files the runtimes need from /etc (dynamic linker cache, TLS roots, time zones).
ETC_FILES = (
    "ld.so.cache",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "alternatives",
    "localtime",
    "nsswitch.conf",
    "mime.types",
    # Debian's JDKs link their jvm.cfg, security policy and the like here.
    "java-11-openjdk",
    "java-17-openjdk",
    "java-21-openjdk",
)


def write_etc(etc: Path) -> None:
    """A sandbox's own /etc: a few files, and mount points for the host's ``ETC_FILES``."""
    etc.mkdir(exist_ok=True)
    files = {
        # Mount points: each sandbox gets its own user's (``--ro-bind-data``).
        "passwd": "",
        "group": "",
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
        "hostname": "localhost\n",
        "os-release": 'NAME="Functory"\nID=functory\n',
        # The address pasta forwards to the host's resolver (egress.py).
        "resolv.conf": egress.resolv_conf(),
    }
    for name, content in files.items():
        (etc / name).write_text(content)
        os.chmod(etc / name, 0o644)
    for name in ETC_FILES:
        host = Path("/etc") / name
        target = etc / name
        if host.is_dir() and not target.is_dir():
            target.mkdir()
        elif host.exists() and not host.is_dir() and not target.exists():
            target.touch()
    os.chmod(etc, 0o755)


def _mount(source: str, target: Path, fstype: str | None, flags: int, data: str = "") -> None:
    result = _libc.mount(
        source.encode(),
        str(target).encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mounting {source} on {target.name}: {os.strerror(errno)}")


def _mount_image(image: Path, target: Path) -> bool:
    """Mount the erofs ``image`` read-only at ``target``; False (logged) if it cannot be."""
    try:
        target.mkdir(exist_ok=True)
        device = treeimages.attach(image)
        try:
            _mount(device, target, "erofs", MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            ephemeral.detach(device)  # frees itself with its last mount
    except (OSError, subprocess.CalledProcessError) as exc:  # no loop device free
        logger.warning("an image could not be mounted, bound as a directory: %s", exc)
        return False
    return True


def _unmount(target: Path) -> None:
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in {2, 22}:
        logger.warning("unmounting %s failed: errno %d", target, ctypes.get_errno())


class PlatformFs:
    def __init__(self, state_dir: Path) -> None:
        state = state_dir.resolve()
        self.images = state / "images"  # shared by every process over this state
        # Mount points of this process only: a directory removed on the host while it is a
        # mount point in another process's namespace would unmount it there.
        self.mounts = state / "mounts"
        own = self.mounts / f"o{cgroups.owner_token()}-{uuid.uuid4().hex[:8]}"
        self.root = own / "platform"
        self.trees = own / "trees"
        self.slots = own / "slots"
        self._mounted: OrderedDict[Path, tuple[Path, float]] = OrderedDict()
        self._sdk: dict[Path, Path] = {}  # the runtime SDK's image -> its mount point
        self._prepared = False

    def _sweep(self) -> None:
        """Mount points left by executors that are gone (their mounts died with them)."""
        with contextlib.suppress(OSError):
            for entry in self.mounts.iterdir():
                if ephemeral.left_by_dead_executor(entry.name):
                    shutil.rmtree(entry, ignore_errors=True)

    # -- on the spawner thread ------------------------------------------------------------

    def _prepare(self) -> None:
        if self._prepared:
            return
        self._sweep()
        for directory in (self.root, self.trees, self.slots):
            directory.mkdir(parents=True, exist_ok=True)
        _mount("functory", self.root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
        try:
            write_etc(self.root / "etc")
            javaruntime.ensure_built()  # its jars are part of the runtime directory
            shutil.copytree(
                RUNTIME_DIR,
                self.root / "runtime",
                ignore=shutil.ignore_patterns("__pycache__", "__init__.py"),
            )
            for path in [self.root / "runtime", *(self.root / "runtime").rglob("*")]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            # Sandboxes bind it read-only. Not remounted read-only itself: that fails (EBUSY)
            # while a child forked by another thread still holds one of the files just written.
        except BaseException:
            _unmount(self.root)
            raise
        self._prepared = True

    def etc(self) -> str:
        self._prepare()
        return str(self.root / "etc")

    def runtime(self) -> str:
        self._prepare()
        return str(self.root / "runtime")

    def tree(self, tree: str) -> str:
        """Where the image of ``tree`` is mounted (the tree itself if it cannot be)."""
        self._prepare()
        try:
            image = treeimages.image_for(tree, self.images)
        except OSError as exc:
            logger.warning("no image of a code tree, bound as a directory: %s", exc)
            return tree
        known = self._mounted.pop(image, None)
        if known is None:
            target = self.trees / image.stem
            if not _mount_image(image, target):
                return tree
            known = (target, 0.0)
        self._mounted[image] = (known[0], time.monotonic())
        self._evict_idle()
        return str(known[0])

    def runtime_sdk(self, tree: str, images: Path) -> str:
        """Where the image of the runtime SDK (``tree``, its images in ``images``, named for
        its pins) is mounted: once, and kept, as every sandbox binds it (the tree itself
        if it cannot be)."""
        self._prepare()
        try:
            image = treeimages.image_for(tree, images)
        except OSError as exc:
            logger.warning("no image of the runtime SDK, bound as a directory: %s", exc)
            return tree
        target = self._sdk.get(image)
        if target is None:
            target = self.trees.parent / "sdk" / images.name
            target.parent.mkdir(exist_ok=True)
            if not _mount_image(image, target):
                return tree
            self._sdk[image] = target
        return str(target)

    def _evict_idle(self) -> None:
        now = time.monotonic()
        while len(self._mounted) > MAX_TREES:
            image, (target, used) = next(iter(self._mounted.items()))
            if now - used < IDLE_TREE_S:
                return
            del self._mounted[image]
            _unmount(target)
            with contextlib.suppress(OSError):
                target.rmdir()

    def new_slot(self) -> Path:
        """A standby's empty ``task/`` and ``opt/``, on a tmpfs shared with its sandbox."""
        self._prepare()
        slot = self.slots / uuid.uuid4().hex[:12]
        slot.mkdir()
        try:
            _mount("functory", slot, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            _mount("none", slot, None, MS_SHARED)
            for name in ("task", "opt"):
                (slot / name).mkdir(mode=0o755)
        except BaseException:
            self.drop_slot(slot)
            raise
        return slot

    def fill_slot(self, slot: Path, code_dir: str, layers_dir: str | None) -> None:
        """Bind the function's trees into a standby's slot: they appear in its sandbox."""
        for tree, name in ((code_dir, "task"), (layers_dir, "opt")):
            if tree:
                _mount(self.tree(tree), slot / name, None, MS_BIND)

    # -- on any thread in the namespace ---------------------------------------------------

    @staticmethod
    def drop_slot(slot: Path) -> None:
        _unmount(slot)
        with contextlib.suppress(OSError):
            slot.rmdir()


_instances: dict[Path, PlatformFs] = {}
_instances_lock = threading.Lock()


def platform_for(state_dir: Path) -> PlatformFs:
    """The one ``PlatformFs`` of this process over ``state_dir``."""
    key = state_dir.resolve()
    with _instances_lock:
        if key not in _instances:
            _instances[key] = PlatformFs(key)
        return _instances[key]
