"""A container's code, layers and runtimes: read-only erofs volumes, not binds of host paths.

A bind mount shows its host source in the container's ``/proc/self/mountinfo`` (the
mount's root within its file system): the state directory, the code digest, the
checkout. Here each tree gets its erofs image (``treeimages``), attached read-only to a
loop device, and a volume of the ``local`` driver over that device: dockerd mounts it as
a file system whose root is the tree, ``/ /var/task ... erofs /dev/loopN`` (issue 10,
item 12).

One volume per tree and executor, made on the first cold start of the tree and shared by
all its containers (a lock per tree: concurrent cold starts wait for the one volume);
they go when the backend closes. dockerd mounts the volume again for each container, so
its loop device stays attached, never set to free itself, while the volume exists: a
freed device number could by then back another tenant's image. It is detached only once
the volume is removed.

Volumes carry their owner, device and image in labels, as ``docker_tmp``'s do: a dead
executor's are removed by the next executor (or its guardian), then their devices
detached. Each device is attached over a hard link of the image named for its owner
(``o<owner token>-<id>``), so that one attached by an executor that died before making
its volume is found too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invocations.executor import cgroups, ephemeral, treeimages
from invocations.executor.docker_tmp import owner_labels

logger = logging.getLogger(__name__)

VOLUME_PREFIX = "functory-tree-"
DEVICE_LABEL = "functory.tree.device"
LINK_LABEL = "functory.tree.link"
MOUNT_OPTIONS = "ro,nodev,nosuid"
REMOVE_WAIT_S = 10.0  # a container removed in the background may still hold a volume


@dataclass(frozen=True)
class TreeVolume:
    name: str
    device: str
    link: Path  # the image's hard link the device is attached over


class DockerTrees:
    """Makes and removes the tree volumes of one Docker backend."""

    def __init__(self, client: Any, images_dir: Path) -> None:
        self._client = client
        self._images = images_dir
        self.links = images_dir / "attached"
        self.links.mkdir(parents=True, exist_ok=True)
        os.chmod(images_dir, 0o700)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._volumes: dict[str, TreeVolume] = {}
        self._closed = False

    def mount(self, target: str, tree: str, images_dir: Path | None = None) -> Any:
        """A read-only mount of ``tree`` at ``target`` (blocks: call it from a thread)."""
        from docker.types import Mount

        volume = self.volume_for(tree, images_dir or self._images)
        # no_copy: dockerd would try to copy the image's own files at ``target`` into it.
        return Mount(target, volume.name, type="volume", read_only=True, no_copy=True)

    def volume_for(self, tree: str, images_dir: Path) -> TreeVolume:
        key = f"{images_dir}\0{os.path.realpath(tree)}"
        with self._guard:
            self._check_open()
            existing = self._volumes.get(key)
            if existing is not None:
                return existing
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                self._check_open()
                existing = self._volumes.get(key)
            if existing is not None:
                return existing
            volume = self._make(treeimages.image_for(tree, images_dir))
            with self._guard:
                closed = self._closed
                if not closed:
                    self._volumes[key] = volume
            if closed:
                self._remove(volume)
                self._check_open()
            return volume

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the Docker backend is closed")

    def _make(self, image: Path) -> TreeVolume:
        link = self.links / f"o{cgroups.owner_token()}-{uuid.uuid4().hex[:12]}"
        os.link(image, link)
        device: str | None = None
        try:
            device = treeimages.attach(link)
            name = VOLUME_PREFIX + link.name
            self._client.volumes.create(
                name=name,
                driver="local",
                driver_opts={"type": "erofs", "device": device, "o": MOUNT_OPTIONS},
                labels={**owner_labels(), DEVICE_LABEL: device, LINK_LABEL: str(link)},
            )
        except BaseException:
            if device is not None:
                ephemeral.detach(device)
            with contextlib.suppress(OSError):
                link.unlink()
            raise
        return TreeVolume(name, device, link)

    def close(self) -> None:
        """Remove the volumes (once their containers are gone) and detach their devices."""
        with self._guard:
            self._closed = True
            volumes = list(self._volumes.values())
            self._volumes.clear()
        for volume in volumes:
            self._remove(volume)

    def _remove(self, volume: TreeVolume) -> None:
        if _remove_volume(self._client, volume.name, REMOVE_WAIT_S):
            _detach(volume.device, volume.link)


def _remove_volume(client: Any, name: str, wait_s: float) -> bool:
    """Whether the volume is gone; if it is still in use, its device must stay."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            client.api.remove_volume(name, force=True)
            return True
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status == 404:
                return True
            if status != 409 or time.monotonic() > deadline:
                logger.warning("removing the tree volume %s failed: %s", name, exc)
                return False
        time.sleep(0.1)


def _backing_file(device: str) -> str | None:
    with contextlib.suppress(OSError):
        name = Path(device).name
        backing = Path("/sys/block", name, "loop", "backing_file").read_text().strip()
        return backing.removesuffix(" (deleted)")
    return None


def _detach(device: str, link: Path) -> None:
    """Detach ``device`` if it is still the one over ``link``, then delete the link."""
    if _backing_file(device) == str(link):
        ephemeral.detach(device)
    with contextlib.suppress(OSError):
        link.unlink()


def runtime_images_dir(images_dir: Path, tree: Path) -> Path:
    """Where images of ``tree`` go: its content may change under the same path (it is the
    checkout's), so the directory is named for the content."""
    digest = hashlib.sha256()
    for path in sorted(tree.rglob("*")):
        digest.update(f"{path.relative_to(tree)}\0{path.lstat().st_mode}\0".encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return images_dir / f"runtime-{digest.hexdigest()[:16]}"


def sweep_orphan_volumes(client: Any, links_dir: Path | None = None) -> None:
    """Remove the tree volumes of this host's dead executors, then detach their devices.

    Run after their containers are removed (a volume in use cannot be). With
    ``links_dir``, devices a dead executor attached there but never made a volume of
    are detached too.
    """
    host = socket.gethostname()
    kept: set[str] = set()  # devices of volumes that remain: they must stay attached
    with contextlib.suppress(Exception):
        for volume in client.volumes.list(filters={"label": f"functory.owner.host={host}"}):
            labels = volume.attrs.get("Labels") or {}
            device, link = labels.get(DEVICE_LABEL), labels.get(LINK_LABEL)
            if not device or not link:
                continue
            owner = labels.get("functory.owner", "")
            if not owner or cgroups.owner_alive(owner):
                kept.add(device)
            elif _remove_volume(client, volume.name, 0):
                _detach(device, Path(link))
            else:
                kept.add(device)
    if links_dir is None:
        return
    for loop in Path("/sys/block").glob("loop*/loop"):
        device = f"/dev/{loop.parent.name}"
        backing = _backing_file(device)
        if backing is None or device in kept:
            continue
        path = Path(backing)
        if path.parent == links_dir and ephemeral.left_by_dead_executor(path.name):
            _detach(device, path)
    with contextlib.suppress(OSError):
        for link in links_dir.iterdir():
            if ephemeral.left_by_dead_executor(link.name) and not _attached(link):
                link.unlink()


def _attached(link: Path) -> bool:
    return any(
        _backing_file(f"/dev/{loop.parent.name}") == str(link)
        for loop in Path("/sys/block").glob("loop*/loop")
    )
