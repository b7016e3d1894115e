"""Read-only erofs images of the trees sandboxes mount: code, merged layers, the runtimes.

A directory bound into a sandbox shows up in its ``/proc/self/mountinfo`` under the host
path it came from (the mount's root within its file system), which names the platform's
state directory, the account's code digest and the checkout. An image of the tree,
loop-mounted, is a file system of its own whose root *is* the tree: the sandbox sees
``/ /var/task ... erofs /dev/loopN`` and nothing of the host (issue 10, item 12).

The trees are immutable (content-addressed by ``codecache``), so each gets one image,
built once on first use (a few milliseconds for a typical package; erofs copies the
data, uncompressed) into a file named for the tree's path and renamed into place.
``mkfs.erofs`` stores links as links and never follows one, and the trees hold only
directories, regular files and links (``safetree``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

_MKFS = ("mkfs.erofs", "--quiet", "-x-1", "--all-root")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def available() -> bool:
    """Whether this host can build and mount erofs images over loop devices."""
    if os.environ.get("FUNCTORY_TREE_IMAGES", "on") == "off":
        return False
    if shutil.which("mkfs.erofs") is None or not os.path.exists("/dev/loop-control"):
        return False
    try:
        with open("/proc/filesystems") as handle:
            return any(line.split()[-1:] == ["erofs"] for line in handle)
    except OSError:
        return False


def image_for(tree: str, images_dir: Path) -> Path:
    """The image of ``tree`` in ``images_dir``, built if there is none yet."""
    key = hashlib.sha256(os.path.realpath(tree).encode()).hexdigest()[:40]
    image = images_dir / f"{key}.erofs"
    if image.exists():
        return image
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if image.exists():
            return image
        images_dir.mkdir(parents=True, exist_ok=True)
        staging = images_dir / f".{key}.{uuid.uuid4().hex[:8]}"
        try:
            result = subprocess.run(
                [*_MKFS, str(staging), tree], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise OSError(f"mkfs.erofs failed: {result.stderr.strip()[-500:]}")
            os.chmod(staging, 0o600)
            os.rename(staging, image)  # another process's identical image may be replaced
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
    return image


def attach(image: Path) -> str:
    """A read-only loop device over ``image`` (``ephemeral.detach`` frees it, or marks it to
    free itself when its last mount goes)."""
    return subprocess.run(
        ["losetup", "--find", "--show", "--read-only", str(image)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
