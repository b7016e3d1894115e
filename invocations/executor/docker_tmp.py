"""A container's ``/tmp`` on disk: a Docker volume over a loop device of an ext4 image.

As in the sandbox (``ephemeral.py``), ``/tmp`` is charged apart from memory and holds
exactly EphemeralStorage (a full ``/tmp`` gives ENOSPC). But dockerd mounts in the host's
mount namespace and never sees the executor's private one. So each container gets a
volume of the ``local`` driver whose device is a loop device the executor attached to an
image formatted as ``ephemeral.py`` formats them (direct I/O, the same dirty limit), its
root already empty and 1777: dockerd mounts it when the container starts and unmounts it
when the container stops. (The driver's ``o=loop`` is no kernel option: dockerd refuses
it.) Once the container has started the loop device is detached, which frees it at that
unmount. After the container is removed, the volume and the image are, in the
background. Images count against ``FUNCTORY_EPHEMERAL_TOTAL_MB`` with the sandbox's.

Volumes carry their owner and their image in labels: a dead executor's leftovers are
swept with its containers (by the next executor, or at once by its guardian). Volumes of
Lambda's default size are made ahead (``FUNCTORY_EPHEMERAL_SPARE``), so that cold starts
do not wait for them.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invocations.executor import cgroups, ephemeral

logger = logging.getLogger(__name__)

VOLUME_PREFIX = "functory-tmp-"
IMAGE_LABEL = "functory.tmp.image"
# dockerd's mount(2) takes these as flags; the container's other mounts are nosuid too.
MOUNT_OPTIONS = "nosuid,nodev"
REFILL_DELAY_S = 1.0


def owner_labels() -> dict[str, str]:
    """Who made a container or volume: it is removed once that process is gone."""
    return {"functory.owner": cgroups.owner_token(), "functory.owner.host": socket.gethostname()}


@dataclass
class TmpVolume:
    name: str
    image: Path
    size_mb: int
    device: str | None  # attached, and not yet detached

    def mount(self) -> Any:
        from docker.types import Mount

        # no_copy: nothing of the image's /tmp is copied in (its root is already 1777).
        return Mount("/tmp", self.name, type="volume", no_copy=True)


class DockerTmp:
    """Makes, budgets and removes the ``/tmp`` volumes of one Docker backend."""

    def __init__(self, client: Any, store: ephemeral.EphemeralStore) -> None:
        self._client = client
        self._store = store
        self._lock = threading.Lock()
        self._spare: list[TmpVolume] = []
        self._refilling = False
        self._closed = False
        self._stopped = False  # the worker is gone: jobs run where they are given
        # One thread makes spares and removes volumes, off the event loop.
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="functory-docker-tmp", daemon=True)
        self._worker.start()

    def acquire(self, size_mb: int) -> TmpVolume:
        """A new volume of ``size_mb`` usable megabytes (blocks: call it from a thread)."""
        if size_mb == ephemeral.SPARE_MB and ephemeral.SPARE > 0:
            with self._lock:
                spare = self._spare.pop() if self._spare else None
            self._refill()
            if spare is not None:
                return spare
        self._store.reserve(size_mb)
        try:
            return self._make(size_mb)
        except BaseException:
            self._store.unreserve(size_mb)
            raise

    def started(self, volume: TmpVolume) -> None:
        """Its container runs (dockerd has mounted it): the loop device goes with the unmount."""
        self._submit(lambda: self._detach(volume))

    def release(self, volume: TmpVolume) -> None:
        """Once its container is removed: remove the volume and the image, in the background."""
        self._submit(lambda: self._remove(volume))

    def _submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if not self._stopped:
                self._jobs.put(job)
                return
        job()  # after close (an environment stopped late)

    def close(self, timeout: float = 60.0) -> None:
        """Remove the spares, finish pending removals and stop the worker."""
        with self._lock:
            self._closed = True
            spares, self._spare = self._spare, []
        for volume in spares:
            self.release(volume)
        self._jobs.put(None)
        self._worker.join(timeout)

    def _make(self, size_mb: int) -> TmpVolume:
        name = f"o{cgroups.owner_token()}-{uuid.uuid4().hex[:12]}"
        image = self._store.directory / f"{name}.img"
        device: str | None = None
        try:
            ephemeral.format_image(image, size_mb)
            ephemeral.open_root(image)
            device = ephemeral.attach(image)
            self._client.volumes.create(
                name=VOLUME_PREFIX + name,
                driver="local",
                driver_opts={"type": "ext4", "device": device, "o": MOUNT_OPTIONS},
                labels={**owner_labels(), IMAGE_LABEL: str(image)},
            )
        except BaseException:
            if device is not None:
                ephemeral.detach(device)
            with contextlib.suppress(OSError):
                image.unlink()
            raise
        return TmpVolume(VOLUME_PREFIX + name, image, size_mb, device)

    @staticmethod
    def _detach(volume: TmpVolume) -> None:
        """A job of the worker, as every removal: they never race over the device."""
        if volume.device is not None:
            ephemeral.detach(volume.device)
            volume.device = None

    def _remove(self, volume: TmpVolume) -> None:
        try:
            self._detach(volume)  # if its container never started
            try:
                self._client.api.remove_volume(volume.name, force=True)
            except Exception as exc:
                if getattr(getattr(exc, "response", None), "status_code", None) != 404:
                    logger.warning("removing the /tmp volume %s failed: %s", volume.name, exc)
            with contextlib.suppress(OSError):
                volume.image.unlink()
        finally:
            self._store.unreserve(volume.size_mb)

    def _refill(self) -> None:
        """Top the spares up, one volume per job so removals interleave."""
        with self._lock:
            if self._refilling or self._closed:
                return
            self._refilling = True
        # Not while the container that took the spare starts: making one (mkfs, and a
        # volume to create while dockerd starts the container) would slow that very start.
        timer = threading.Timer(REFILL_DELAY_S, self._submit, args=(self._make_spare,))
        timer.daemon = True
        timer.start()

    def _make_spare(self) -> None:
        volume = None
        try:
            volume = self._next_spare()
        finally:
            if volume is None:
                with self._lock:
                    self._refilling = False
        if volume is None:
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._spare.append(volume)
        if closed:
            self._remove(volume)
        else:
            self._submit(self._make_spare)

    def _next_spare(self) -> TmpVolume | None:
        with self._lock:
            if self._closed or len(self._spare) >= ephemeral.SPARE:
                return None
        try:
            self._store.reserve(ephemeral.SPARE_MB)
        except ephemeral.EphemeralStorageExhausted:
            return None
        try:
            return self._make(ephemeral.SPARE_MB)
        except BaseException:
            self._store.unreserve(ephemeral.SPARE_MB)
            raise

    def _work(self) -> None:
        stopping = False
        while True:
            try:
                job = self._jobs.get_nowait() if stopping else self._jobs.get()
            except queue.Empty:  # all given before ``_stopped`` was set are done
                return
            if job is None:
                with self._lock:
                    self._stopped = stopping = True
                continue
            try:
                job()
            except Exception:  # this thread must outlive any one job
                logger.exception("a /tmp volume job failed")


def sweep_orphan_volumes(client: Any) -> None:
    """Remove the ``/tmp`` volumes, images and loop devices of this host's dead executors.

    Run after their containers are removed (a volume in use cannot be).
    """
    host = socket.gethostname()
    with contextlib.suppress(Exception):
        for volume in client.volumes.list(filters={"label": f"functory.owner.host={host}"}):
            labels = volume.attrs.get("Labels") or {}
            owner = labels.get("functory.owner", "")
            if not volume.name.startswith(VOLUME_PREFIX):
                continue  # another kind's (``docker_trees``): its devices go with it
            if not owner or cgroups.owner_alive(owner):
                continue
            image = Path(labels.get(IMAGE_LABEL, "/"))
            ours = image.suffix == ".img" and ephemeral.left_by_dead_executor(image.name)
            if ours:  # attached by a crash before its container ever started
                ephemeral.detach_orphan_loops(image.parent)
            with contextlib.suppress(Exception):
                volume.remove(force=True)
            if ours:
                with contextlib.suppress(OSError):
                    image.unlink()
