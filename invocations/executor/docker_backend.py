"""The Docker backend: one container per environment, the same Runtime API contract.

The container has no network of Docker's (``network_mode="none"``). As in the sandbox
backend, the Runtime API listens inside the environment's own network namespace: once the
container runs, the spawner thread enters its namespace, binds ``127.0.0.1:9001`` there
and comes back; a tiny wrapper in the container waits for that port before starting the
runtime. Outbound networking is the sandbox's (``egress.py``): pasta attached to the
container's namespace, before that port is bound, behind the same nftables fence.
Limits are Docker's: memory (no swap), pids, CPU shares proportional to memory, a
read-only root, a ``/tmp`` on disk of EphemeralStorage, charged apart from memory
(``docker_tmp.py``; a tmpfs with ``FUNCTORY_EPHEMERAL_STORAGE=tmpfs``), an unprivileged
uid of the environment's own with no capabilities, and the sandbox's seccomp filter
(``seccomp.py``).

Its mount table names no host path of the platform: code, layers and the runtimes are
erofs volumes (``docker_trees.py``; binds where the host cannot mount erofs), and the
output FIFO, passwd and group come from a directory of their own in ``/dev/shm``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from invocations.executor import (
    cgroups,
    docker_tmp,
    docker_trees,
    egress,
    identity,
    imageroot,
    javaruntime,
    platform_proxy,
    seccomp,
    treeimages,
    xray,
)
from invocations.executor.catalog import (
    JAVA_RUNTIMES,
    RUNTIME_DIR,
    SDK_MOUNT,
    command_for,
    runtime_sdk,
)
from invocations.executor.docker_tmp import DockerTmp, TmpVolume
from invocations.executor.docker_trees import DockerTrees
from invocations.executor.environment import Environment, LogSink, log_stream_name
from invocations.executor.platform_proxy import PlatformProxy
from invocations.executor.runtime_api import RuntimeApiServer
from invocations.executor.sandbox import (
    CLONE_NEWNET,
    NO_COMMAND,
    RUNTIME_API_PORT,
    ImageUnavailable,
    SandboxBackend,
    _bring_up_loopback,
    _libc,
    _spawner,
)
from invocations.executor.spec import ON_DEMAND, Credentials, EnvironmentSpec

logger = logging.getLogger(__name__)

IMAGE = os.environ.get("FUNCTORY_DOCKER_IMAGE", "functory/runtime:latest")
# Waits (inside the container) until the Runtime API is listening, then runs the runtime.
# Output goes to a FIFO the executor reads directly: Docker's own log path is asynchronous,
# so lines printed just before a response could otherwise arrive after its END line.
_IO_DIR = "/var/functory-io"
# Host side: a bind's root shows in the container's mountinfo, and here it is
# ``/functory-io-<id>/...`` of the host's /dev/shm, no path of the platform.
IO_PARENT = Path("/dev/shm")
IO_PREFIX = "functory-io-"
IO_LABEL = "functory.io"
_VIRTUAL_BLOCK = "/sys/devices/virtual/block"  # /sys/block/loopN and /sys/dev/block/7:N
_warned_binds = False
_WAIT_THEN_EXEC = (
    f"until (exec 3<>/dev/tcp/127.0.0.1/{RUNTIME_API_PORT}) 2>/dev/null; do sleep 0.005; "
    f'done; exec "$@" >{_IO_DIR}/out 2>&1'
)
_IMAGE_WAIT_THEN_EXEC = (
    f"until (exec 3<>/dev/tcp/127.0.0.1/{RUNTIME_API_PORT}) 2>/dev/null; do :; done; "
    f"exec >{_IO_DIR}/out 2>&1\n" + imageroot.LAUNCH_SCRIPT
)


def container_cgroup_file(container_id: str, name: str, controller: str) -> Path | None:
    """A control file of a container's cgroup (cgroupfs or systemd driver, v1 or v2)."""
    for base in (
        cgroups.ROOT / controller / cgroups.PARENT / container_id,
        cgroups.ROOT / cgroups.PARENT / container_id,
        cgroups.ROOT / controller / "docker" / container_id,
        cgroups.ROOT / controller / "system.slice" / f"docker-{container_id}.scope",
        cgroups.ROOT / "system.slice" / f"docker-{container_id}.scope",
        cgroups.ROOT / "docker" / container_id,
    ):
        if (base / name).exists():
            return base / name
    return None


def sweep_orphan_containers(client: Any, tree_links: Path | None = None) -> None:
    """Remove containers left by executors of this host that are gone (maybe frozen),
    their io directories, then their ``/tmp`` and tree volumes."""
    host = socket.gethostname()
    with contextlib.suppress(Exception):
        for container in client.containers.list(
            all=True, filters={"label": f"functory.owner.host={host}"}
        ):
            owner = container.labels.get("functory.owner", "")
            if not owner or cgroups.owner_alive(owner):
                continue
            for name in ("freezer.state", "cgroup.freeze"):
                path = container_cgroup_file(container.id, name, "freezer")
                if path is not None:  # killed while frozen, then thawed
                    cgroups.kill_procs(path.parent)
                    with contextlib.suppress(OSError):
                        path.write_text("THAWED" if path.name == "freezer.state" else "0")
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
            _remove_io_dir(container.labels.get(IO_LABEL, ""))
    docker_trees.sweep_orphan_volumes(client, tree_links)
    docker_tmp.sweep_orphan_volumes(client)


def _make_io_dir() -> Path:
    io_dir = IO_PARENT / f"{IO_PREFIX}{uuid.uuid4().hex}"
    io_dir.mkdir(mode=0o700)
    os.chmod(io_dir, 0o711)  # the container's uid opens the FIFO in it, lists nothing
    return io_dir


def _remove_io_dir(path: str) -> None:
    """Only one of ours: the label of a container is no proof of anything else."""
    io_dir = Path(path)
    if io_dir.parent == IO_PARENT and io_dir.name.startswith(IO_PREFIX):
        shutil.rmtree(io_dir, ignore_errors=True)


class DockerProcess:
    """A container seen through the environment's ``Process`` protocol."""

    def __init__(
        self,
        container: Any,
        hold_fd: int,
        io_dir: Path,
        user: identity.Identity,
        tmp: tuple[DockerTmp, TmpVolume] | None = None,
    ) -> None:
        self.container = container
        self._tmp = tmp
        self.user = user
        self.pid = int(container.attrs["State"]["Pid"])
        self.exit_code: int | None = None
        self._oom = False
        self._hold_fd: int | None = hold_fd
        self._hold_lock = threading.Lock()
        self._io_dir = io_dir
        self._freezer: tuple[int, bytes, bytes] | None = None  # fd, freeze, thaw values
        self.frozen = False
        self.network: egress.Helper | None = None  # pasta, when the function has egress
        self.proxy: PlatformProxy | None = None  # the platform's API at 127.0.0.1:9002
        threading.Thread(target=self._wait, name="functory-docker-wait", daemon=True).start()

    def release_hold(self) -> None:
        """Stop keeping the output FIFO open: the runtime holds it now (or never will)."""
        with self._hold_lock:
            if self._hold_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._hold_fd)
                self._hold_fd = None

    def _wait(self) -> None:
        try:
            result = self.container.wait()
            code = int(result.get("StatusCode", -9))
            with contextlib.suppress(Exception):
                self.container.reload()
                self._oom = bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:
            code = -9
        # Docker reports a signal death as 128 + signal number.
        self.exit_code = -(code - 128) if code > 128 else code
        self.release_hold()

    def poll(self) -> int | None:
        return self.exit_code

    def kill(self) -> None:
        if self.frozen and self._freezer is not None:
            # Killed while frozen, then thawed: the SIGKILLs land before any user code runs.
            path = self._cgroup_file("cgroup.procs", "freezer")
            if path is not None:
                cgroups.kill_procs(path.parent)
            self.thaw()
        with contextlib.suppress(Exception):
            self.container.kill()
        if self.network is not None:
            self.network.kill()  # signalled only: reaped by cleanup, off the hot path

    def _stop_network(self) -> None:
        if self.network is not None:
            self.network.stop()
            self.network = None

    # Freezing writes the container's own freezer file (kept open), as the sandbox does:
    # `docker pause` costs a round trip through dockerd and containerd per call.
    def freeze(self) -> None:
        if self._freezer is None:
            self._freezer = self._open_freezer()
        if self._freezer is not None:
            os.pwrite(self._freezer[0], self._freezer[1], 0)
            self.frozen = True

    def thaw(self) -> None:
        if self._freezer is not None and self.frozen:
            os.pwrite(self._freezer[0], self._freezer[2], 0)
            self.frozen = False

    def _open_freezer(self) -> tuple[int, bytes, bytes] | None:
        for name, frozen, thawed in (
            ("freezer.state", b"FROZEN", b"THAWED"),
            ("cgroup.freeze", b"1", b"0"),
        ):
            path = self._cgroup_file(name, "freezer")
            if path is not None:
                return os.open(path, os.O_RDWR | os.O_CLOEXEC), frozen, thawed
        return None

    def _cgroup_file(self, name: str, controller: str = "memory") -> Path | None:
        return container_cgroup_file(self.container.id, name, controller)

    def memory_peak_bytes(self) -> int:
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            path = self._cgroup_file(name)
            if path is not None:
                with contextlib.suppress(OSError, ValueError):
                    return int(path.read_text())
        return 0

    def oom_killed(self) -> bool:
        if self._oom:
            return True
        path = self._cgroup_file("memory.oom_control") or self._cgroup_file("memory.events")
        if path is None:
            return False
        with contextlib.suppress(OSError, ValueError):
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        return False

    def cleanup(self) -> None:
        self.release_hold()
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        self._stop_network()  # before the uid is released: pasta runs as it
        if self.frozen:
            self.kill()
        with contextlib.suppress(Exception):
            self.container.remove(force=True, v=True)
            # Reused only once the container and its processes are gone.
            self.user.release()
        if self._tmp is not None:
            store, volume = self._tmp
            self._tmp = None
            store.release(volume)
        if self._freezer is not None:
            with contextlib.suppress(OSError):
                os.close(self._freezer[0])
            self._freezer = None
        shutil.rmtree(self._io_dir, ignore_errors=True)


class DockerBackend(SandboxBackend):
    """Starts environments as Docker containers from the project's runtime image."""

    name = "docker"

    def __init__(self, state_dir: str, log_sink: LogSink) -> None:
        super().__init__(state_dir, log_sink)
        import docker

        self.client = docker.from_env()
        # With the cgroupfs driver containers go under functory/ too, within its ceilings
        # (systemd's driver wants a slice; there they keep Docker's default parent).
        self._cgroup_parent: str | None = None
        with contextlib.suppress(Exception):
            if self.client.info().get("CgroupDriver") == "cgroupfs":
                self._cgroup_parent = f"/{cgroups.PARENT}"
        # Code, layers and runtimes as erofs volumes (none: binds of their host paths).
        self._trees: DockerTrees | None = None
        self._runtime_images: Path | None = None
        self._images: Path | None = None
        javaruntime.ensure_built()  # its jars are part of the runtime directory's image
        if treeimages.available():
            images = self._images = self.state_dir.resolve() / "images"
            self._trees = DockerTrees(self.client, images)
            self._runtime_images = docker_trees.runtime_images_dir(images, RUNTIME_DIR)
        else:
            _warn_binds()
        sweep_orphan_containers(self.client, self._trees.links if self._trees else None)
        # /tmp on disk, from the sandbox's image store and budget (none: tmpfs).
        self._tmp = DockerTmp(self.client, self._ephemeral) if self._ephemeral is not None else None

    async def close(self) -> None:
        await super().close()
        loop = asyncio.get_running_loop()
        if self._tmp is not None:
            await loop.run_in_executor(None, self._tmp.close)
        if self._trees is not None:  # after the containers: a volume in use cannot go
            await loop.run_in_executor(None, self._trees.close)

    def _tree_mounts(self, spec: EnvironmentSpec) -> list[Any]:
        """Blocks (an image may be built): called from a thread."""
        from docker.types import Mount

        trees: list[tuple[str, str, Path | None]]
        if spec.image_id:  # the image is the code and the runtime; the kit starts it
            trees = [(imageroot.KIT_MOUNT, imageroot.kit_dir(self.state_dir), None)]
        else:
            trees = [("/var/task", spec.code_dir, None)]
            trees.append(("/var/runtime", str(RUNTIME_DIR), self._runtime_images))
            sdk = runtime_sdk()
            if sdk is not None:  # the AWS SDKs the runtimes carry, images named for their pins
                images = self._images / f"sdk-{sdk.stamp}" if self._images is not None else None
                trees.append((SDK_MOUNT, sdk.path, images))
        if spec.layers_dir:
            trees.append(("/opt", spec.layers_dir, None))
        if self._trees is None:
            return [Mount(target, tree, type="bind", read_only=True) for target, tree, _ in trees]
        return [self._trees.mount(target, tree, images) for target, tree, images in trees]

    def _create_with_tmp(
        self,
        spec: EnvironmentSpec,
        log_stream: str,
        io_dir: Path,
        user: identity.Identity,
        credentials: Credentials | None,
        initialization_type: str = ON_DEMAND,
    ) -> tuple[Any, TmpVolume | None]:
        volume = self._tmp.acquire(spec.ephemeral_mb) if self._tmp is not None else None
        try:
            container = self._create(
                spec, log_stream, io_dir, user, volume, credentials, initialization_type
            )
            return container, volume
        except BaseException:
            if self._tmp is not None and volume is not None:
                self._tmp.release(volume)
            raise

    def _start_container(self, container: Any, volume: TmpVolume | None) -> None:
        container.start()
        if self._tmp is not None and volume is not None:
            self._tmp.started(volume)
        container.reload()

    def _remove_created(
        self, container: Any, volume: TmpVolume | None, user: identity.Identity
    ) -> None:
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
            user.release()  # reused only once the container is gone
        if self._tmp is not None and volume is not None:
            self._tmp.release(volume)

    def _create(
        self,
        spec: EnvironmentSpec,
        log_stream: str,
        io_dir: Path,
        user: identity.Identity,
        tmp: TmpVolume | None,
        credentials: Credentials | None = None,
        initialization_type: str = ON_DEMAND,
    ) -> Any:
        from docker.types import Mount

        image, working_dir = IMAGE, "/var/task"
        entrypoint: list[str] | None = None
        if spec.image_id:
            # The function's own image, its argv as ImageConfig makes it; the wait and the
            # launch script run in the kit's bash (the image may have none), busy-waiting
            # (it may have no sleep); the script enters the working directory itself.
            image, working_dir = spec.image_id, "/"
            command = (spec.image_workdir or "/", *spec.image_command)
            entrypoint = [*imageroot.kit_prefix("bash"), "-c", _IMAGE_WAIT_THEN_EXEC]
            entrypoint.append("functory-wait")
        elif spec.runtime.startswith("provided"):
            command, _ = self._command(spec)
        elif spec.runtime.startswith("python3."):
            command = ("python3", "-X", "utf8", "/var/runtime/python/bootstrap.py")
        elif spec.runtime in JAVA_RUNTIMES:
            command = command_for(spec.runtime).argv  # the image's JDK, at the host's path
        elif spec.runtime.startswith("ruby"):
            command_for(spec.runtime)  # refuses ruby versions the catalog does not serve
            command = ("ruby", "/var/runtime/ruby/bootstrap.rb")
        else:
            command = ("node", "/var/runtime/nodejs/bootstrap.js")
            command_for(spec.runtime)  # refuses runtimes we do not know
        mounts = [
            *self._tree_mounts(spec),
            Mount(_IO_DIR, str(io_dir), type="bind", read_only=False),
            Mount("/etc/passwd", str(io_dir / "passwd"), type="bind", read_only=True),
            Mount("/etc/group", str(io_dir / "group"), type="bind", read_only=True),
            Mount("/etc/resolv.conf", str(io_dir / "resolv.conf"), type="bind", read_only=True),
        ]
        # Each loop device's sysfs entry names its backing file, a host path (of this
        # container's trees, and of every other's /tmp): an empty directory instead.
        tmpfs = {_VIRTUAL_BLOCK: "ro,size=4k,mode=555"}
        # A tmpfs /tmp would count against the memory limit (AWS bills the two apart).
        if tmp is None:
            tmpfs["/tmp"] = f"size={spec.ephemeral_mb}m,mode=1777"
        if tmp is not None:
            mounts.append(tmp.mount())
        # An image's VOLUMEs would be writable anonymous volumes beside /tmp, outside its
        # EphemeralStorage: empty and read-only instead (AWS gives an image only /tmp).
        for volume_path in spec.image_volumes:
            if volume_path != "/tmp":
                tmpfs[volume_path] = "ro,size=4k,mode=555"
        memory = f"{spec.memory_mb}m"
        environment = self.environment_variables(spec, log_stream, credentials, initialization_type)
        if not spec.image_id:
            environment["PATH"] = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
            argv = ["/bin/bash", "-c", _WAIT_THEN_EXEC, "functory-wait", *command]
        else:
            argv = list(command)
        return self.client.containers.create(
            image,
            entrypoint=entrypoint,
            command=argv,
            environment=environment,
            user=f"{user.uid}:{user.gid}",
            network_mode="none",
            read_only=True,
            tmpfs=tmpfs,
            mounts=mounts,
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=1024,
            cpu_shares=cgroups.Limits(spec.memory_mb).cpu_shares,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", f"seccomp={seccomp.docker_profile()}"],
            working_dir=working_dir,
            # An image's HEALTHCHECK would run commands in the environment between
            # invocations, outside any of them (and outside its freeze).
            healthcheck={"test": ["NONE"]},
            cgroup_parent=self._cgroup_parent,
            labels={
                "functory": "environment",
                "functory.function": spec.function_arn,
                IO_LABEL: str(io_dir),  # removed with the container by a sweep
                # Who started it: a later backend removes it once that process is gone.
                **docker_tmp.owner_labels(),
            },
            detach=True,
        )

    def _undo_created(self, user: identity.Identity, created: asyncio.Future[Any]) -> None:
        if created.cancelled() or created.exception() is not None:
            user.release()
            return
        container, volume = created.result()
        threading.Thread(
            target=self._remove_created, args=(container, volume, user), daemon=True
        ).start()

    def _listen_inside(
        self, pid: int, platform: bool
    ) -> tuple[socket.socket, socket.socket | None, socket.socket]:
        """Runs on the spawner thread: bind the Runtime API in the container's namespace,
        and the platform's relay (``platform_proxy.py``) if the function has egress."""
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError("entering the container's network namespace failed")
        finally:
            os.close(fd)
        _bring_up_loopback()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        relay = None
        daemon = None
        try:
            if platform:  # first: the runtime starts once the Runtime API's port opens
                relay = platform_proxy.bind_inside()
            daemon = xray.bind_inside()
            listener.bind(("127.0.0.1", RUNTIME_API_PORT))
            listener.listen(16)
        except BaseException:
            listener.close()
            for other in (relay, daemon):
                if other is not None:
                    other.close()
            raise
        return listener, relay, daemon

    async def start(
        self,
        spec: EnvironmentSpec,
        credentials: Credentials | None = None,
        *,
        initialization_type: str = ON_DEMAND,
    ) -> Environment:
        if spec.image_id and not spec.image_command:
            raise ImageUnavailable(NO_COMMAND)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        log_stream = log_stream_name(spec)
        io_dir = _make_io_dir()
        user = identity.allocate()
        files = (
            ("passwd", user.passwd()),
            ("group", user.group()),
            ("resolv.conf", egress.resolv_conf()),
        )
        for name, content in files:
            (io_dir / name).write_text(content)
            os.chmod(io_dir / name, 0o644)
        fifo = io_dir / "out"
        os.mkfifo(fifo)
        os.chmod(fifo, 0o666)
        read_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        # Held until the runtime has opened its end, so an early read sees no false EOF.
        hold_fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        created = loop.run_in_executor(
            None,
            self._create_with_tmp,
            spec,
            log_stream,
            io_dir,
            user,
            credentials,
            initialization_type,
        )
        try:
            # Shielded: if this start is cancelled, what is made all the same is undone.
            container, volume = await asyncio.shield(created)
        except BaseException as exc:
            created.add_done_callback(functools.partial(self._undo_created, user))
            os.close(read_fd)
            os.close(hold_fd)
            shutil.rmtree(io_dir, ignore_errors=True)
            if spec.image_id and _image_missing(exc):  # removed from the engine since
                raise ImageUnavailable(
                    f"The function's image {spec.image_id} is not available from the engine."
                ) from exc
            raise
        network: egress.Helper | None = None
        try:
            await loop.run_in_executor(None, self._start_container, container, volume)
            pid = int(container.attrs["State"]["Pid"])
            if spec.egress:  # up before the Runtime API's port lets the runtime start
                network = await loop.run_in_executor(None, egress.attach, pid, user.uid)
            future: asyncio.Future[tuple[socket.socket, socket.socket | None, socket.socket]] = (
                loop.create_future()
            )
            address = egress.platform_address() if spec.egress else None

            def run() -> None:
                try:
                    sockets = self._listen_inside(pid, address is not None)
                except BaseException as exc:
                    loop.call_soon_threadsafe(future.set_exception, exc)
                else:
                    loop.call_soon_threadsafe(future.set_result, sockets)

            _spawner().submit(run)
            listener, relay, daemon = await future
        except BaseException:
            if network is not None:
                network.stop()
            self._remove_created(container, volume, user)
            os.close(read_fd)
            os.close(hold_fd)
            shutil.rmtree(io_dir, ignore_errors=True)
            raise
        server = RuntimeApiServer(listener)
        await server.start()
        tmp = (self._tmp, volume) if self._tmp is not None and volume is not None else None
        process = DockerProcess(container, hold_fd, io_dir, user, tmp)
        process.network = network
        if relay is not None and address is not None:
            process.proxy = PlatformProxy(relay, address)
            await process.proxy.start()
        server.first_next.add_done_callback(lambda _: process.release_hold())
        return Environment(
            spec=spec,
            process=process,
            server=server,
            output_fd=read_fd,
            log_sink=self.log_sink,
            log_stream=log_stream,
            started=started,
            credentials=credentials,
            xray_socket=daemon,
            segment_sink=self.segment_sink,
        )


def _image_missing(exc: BaseException) -> bool:
    import docker.errors

    return isinstance(exc, docker.errors.ImageNotFound)


def _warn_binds() -> None:
    global _warned_binds
    if not _warned_binds:
        _warned_binds = True
        logger.warning(
            "erofs images are not available on this host: code, layers and runtimes are "
            "bound from their host paths, which containers see in their mount table"
        )
