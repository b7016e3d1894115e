"""Resource limits for an environment through cgroups, v1 or v2, whichever the host has.

One cgroup per environment (per controller on v1) under ``functory/``: memory (the
function's MemorySize, swap included where the kernel accounts it), a pids limit, and a
CPU weight proportional to memory as Lambda allocates it (1,769 MB = one vCPU).

Between invocations an environment is frozen (the v1 ``freezer`` controller or v2's
``cgroup.freeze``), so nothing a handler left running uses CPU until the next invocation.
The parent ``functory/`` has a memory and a pids ceiling, so the sum over environments is
bounded by the host. Each cgroup's name carries its owner (``o<pid>.<start time>-...``): a
cgroup whose owner is gone is an orphan, thawed, killed and removed by the next executor to
start (and by the owner's guardian process, ``guardian.py``, as soon as the owner dies).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PARENT = "functory"
MB = 1024 * 1024
ONE_VCPU_MB = 1769
DEFAULT_TOTAL_PIDS = 32768
_OWNED = re.compile(r"^o(\d+)\.(\d+)-")


def _start_time(pid: int) -> str | None:
    """A live process's start time (clock ticks since boot); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in {"Z", "X"}:
        return None
    return fields[19]


def owner_token(pid: int | None = None) -> str:
    """``<pid>.<start time>``: names this process, and is never reused by another one."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}.{_start_time(pid) or 0}"


def owner_alive(token: str) -> bool:
    pid, _, start = token.partition(".")
    return pid.isdigit() and _start_time(int(pid)) == start


def _pwrite(fd: int, value: bytes) -> None:
    os.pwrite(fd, value, 0)


def _open_rw(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None


def version() -> int | None:
    """2 for the unified hierarchy, 1 for the legacy one, None if unusable."""
    if (ROOT / "cgroup.controllers").exists():
        return 2
    if (ROOT / "memory" / "memory.limit_in_bytes").exists():
        return 1
    return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


@dataclass
class Limits:
    memory_mb: int
    pids: int = 1024

    @property
    def cpu_shares(self) -> int:
        # cgroup v1 shares: 1024 = one CPU's worth of weight at 1,769 MB.
        return max(2, int(1024 * self.memory_mb / ONE_VCPU_MB))

    @property
    def cpu_weight(self) -> int:
        # cgroup v2 weight, 1..10000 with 100 as the default share.
        return max(1, min(10000, int(100 * self.memory_mb / ONE_VCPU_MB)))


class CgroupV1:
    CONTROLLERS = ("memory", "pids", "cpu")
    OPTIONAL = ("freezer", "cpuacct")

    def __init__(self, name: str, limits: Limits) -> None:
        controllers = self.CONTROLLERS + tuple(c for c in self.OPTIONAL if (ROOT / c).is_dir())
        self.name = name
        self.paths = {c: ROOT / c / PARENT / name for c in controllers}
        self._freezer: int | None = None
        self.frozen = False
        for path in self.paths.values():
            path.mkdir(parents=True, exist_ok=True)
        memory = self.paths["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_mb * MB))
        with contextlib.suppress(OSError):
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_mb * MB))
        _write(self.paths["pids"] / "pids.max", str(limits.pids))
        _write(self.paths["cpu"] / "cpu.shares", str(limits.cpu_shares))

    def set_limits(self, limits: Limits) -> None:
        memory = self.paths["memory"]
        with contextlib.suppress(OSError):
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_mb * MB))
        _write(memory / "memory.limit_in_bytes", str(limits.memory_mb * MB))
        with contextlib.suppress(OSError):
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_mb * MB))
        with contextlib.suppress(OSError):
            _write(memory / "memory.max_usage_in_bytes", "0")
        _write(self.paths["cpu"] / "cpu.shares", str(limits.cpu_shares))

    def add(self, pid: int) -> None:
        for path in self.paths.values():
            _write(path / "cgroup.procs", str(pid))

    def max_memory_bytes(self) -> int:
        try:
            return int((self.paths["memory"] / "memory.max_usage_in_bytes").read_text())
        except OSError:
            return 0

    def oom_killed(self) -> bool:
        try:
            text = (self.paths["memory"] / "memory.oom_control").read_text()
        except OSError:
            return False
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1]) > 0
        return int((self.paths["memory"] / "memory.failcnt").read_text() or 0) > 0

    # The state file stays open: freezing and thawing are one pwrite each on the hot path.
    def freeze(self) -> None:
        if "freezer" not in self.paths:
            return
        if self._freezer is None:
            self._freezer = _open_rw(self.paths["freezer"] / "freezer.state")
        if self._freezer is not None:
            _pwrite(self._freezer, b"FROZEN")
            self.frozen = True

    def thaw(self) -> None:
        if self._freezer is not None and self.frozen:
            _pwrite(self._freezer, b"THAWED")
            self.frozen = False

    def freezer_state(self) -> str:
        """THAWED, FREEZING (not every task stopped yet) or FROZEN."""
        with contextlib.suppress(OSError, KeyError):
            return (self.paths["freezer"] / "freezer.state").read_text().strip()
        return "THAWED"

    def cpu_usage_ns(self) -> int:
        with contextlib.suppress(OSError, KeyError, ValueError):
            return int((self.paths["cpuacct"] / "cpuacct.usage").read_text())
        return 0

    def kill_all(self) -> None:
        # A frozen task keeps a pending SIGKILL until it is thawed: kill, then thaw, so
        # nothing it left runs a single instruction of user code in between.
        kill_procs(self.paths["pids"])
        if self._freezer is not None:
            with contextlib.suppress(OSError):
                _pwrite(self._freezer, b"THAWED")
            self.frozen = False

    def remove(self) -> None:
        if self._freezer is not None:
            with contextlib.suppress(OSError):
                os.close(self._freezer)
            self._freezer = None
        remove_dirs(list(self.paths.values()))


class CgroupV2:
    def __init__(self, name: str, limits: Limits) -> None:
        parent = ROOT / PARENT
        parent.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            _write(ROOT / "cgroup.subtree_control", "+memory +pids +cpu")
        with contextlib.suppress(OSError):
            _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
        self.name = name
        self.path = parent / name
        self.path.mkdir(exist_ok=True)
        self._freezer: int | None = None
        self.frozen = False
        _write(self.path / "memory.max", str(limits.memory_mb * MB))
        with contextlib.suppress(OSError):
            _write(self.path / "memory.swap.max", "0")
        _write(self.path / "pids.max", str(limits.pids))
        with contextlib.suppress(OSError):
            _write(self.path / "cpu.weight", str(limits.cpu_weight))

    def set_limits(self, limits: Limits) -> None:
        _write(self.path / "memory.max", str(limits.memory_mb * MB))
        with contextlib.suppress(OSError):
            _write(self.path / "memory.peak", "0")  # resettable on recent kernels
        with contextlib.suppress(OSError):
            _write(self.path / "cpu.weight", str(limits.cpu_weight))

    def add(self, pid: int) -> None:
        _write(self.path / "cgroup.procs", str(pid))

    def max_memory_bytes(self) -> int:
        for name in ("memory.peak", "memory.current"):
            with contextlib.suppress(OSError):
                return int((self.path / name).read_text())
        return 0

    def oom_killed(self) -> bool:
        with contextlib.suppress(OSError):
            for line in (self.path / "memory.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        return False

    def freeze(self) -> None:
        if self._freezer is None:
            self._freezer = _open_rw(self.path / "cgroup.freeze")
        if self._freezer is not None:
            _pwrite(self._freezer, b"1")
            self.frozen = True

    def thaw(self) -> None:
        if self._freezer is not None and self.frozen:
            _pwrite(self._freezer, b"0")
            self.frozen = False

    def freezer_state(self) -> str:
        with contextlib.suppress(OSError):
            if "frozen 1" in (self.path / "cgroup.events").read_text():
                return "FROZEN"
            if (self.path / "cgroup.freeze").read_text().strip() == "1":
                return "FREEZING"
        return "THAWED"

    def cpu_usage_ns(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            for line in (self.path / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) * 1000
        return 0

    def kill_all(self) -> None:
        _kill_v2(self.path)
        if self._freezer is not None:
            with contextlib.suppress(OSError):
                _pwrite(self._freezer, b"0")
            self.frozen = False

    def remove(self) -> None:
        if self._freezer is not None:
            with contextlib.suppress(OSError):
                os.close(self._freezer)
            self._freezer = None
        remove_dirs([self.path])


Cgroup = CgroupV1 | CgroupV2


class CgroupProcess:
    """What an environment's process answers from its cgroup (None: unlimited host)."""

    cgroup: Cgroup | None

    def memory_peak_bytes(self) -> int:
        return self.cgroup.max_memory_bytes() if self.cgroup is not None else 0

    def oom_killed(self) -> bool:
        return self.cgroup.oom_killed() if self.cgroup is not None else False

    def freeze(self) -> None:
        if self.cgroup is not None:
            self.cgroup.freeze()

    def thaw(self) -> None:
        if self.cgroup is not None:
            self.cgroup.thaw()


def create(name: str, limits: Limits) -> Cgroup | None:
    """A cgroup with these limits, or None where the host offers none (then unlimited)."""
    name = f"o{owner_token()}-{name}"  # who owns it, for the orphan sweep
    match version():
        case 2:
            return CgroupV2(name, limits)
        case 1:
            return CgroupV1(name, limits)
    return None


def kill_procs(path: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def _kill_v2(path: Path) -> None:
    try:
        _write(path / "cgroup.kill", "1")  # also kills frozen tasks
    except OSError:
        kill_procs(path)


# -- the parent's ceilings ---------------------------------------------------------------


def _host_memory_mb() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def total_memory_mb() -> int:
    """The ceiling on all environments' memory together: default three quarters of RAM."""
    configured = os.environ.get("FUNCTORY_SANDBOX_TOTAL_MEMORY_MB")
    return int(configured) if configured else _host_memory_mb() * 3 // 4


def total_pids() -> int:
    return int(os.environ.get("FUNCTORY_SANDBOX_TOTAL_PIDS", str(DEFAULT_TOTAL_PIDS)))


def ensure_parent() -> None:
    """Create ``functory/`` with its memory and pids ceilings (v1 hierarchies are nested)."""
    memory, pids = total_memory_mb(), total_pids()
    match version():
        case 1:
            parents = {c: ROOT / c / PARENT for c in ("memory", "pids")}
            for path in parents.values():
                path.mkdir(parents=True, exist_ok=True)
            settings = [(parents["pids"] / "pids.max", str(pids))]
            if memory > 0:
                settings.append((parents["memory"] / "memory.limit_in_bytes", str(memory * MB)))
        case 2:
            parent = ROOT / PARENT
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                _write(ROOT / "cgroup.subtree_control", "+memory +pids +cpu")
            with contextlib.suppress(OSError):
                _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
            settings = [(parent / "pids.max", str(pids))]
            if memory > 0:
                settings.append((parent / "memory.max", str(memory * MB)))
        case _:
            return
    for path, value in settings:
        try:
            _write(path, value)
        except OSError as exc:  # e.g. usage already above a lowered ceiling
            logger.warning("setting %s to %s failed: %s", path, value, exc)


# -- orphans -----------------------------------------------------------------------------


def _orphans(directory: Path) -> list[Path]:
    found = []
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            match = _OWNED.match(entry.name)
            if match and entry.is_dir() and not owner_alive(f"{match[1]}.{match[2]}"):
                found.append(entry)
    return found


def sweep_orphans() -> int:
    """Thaw, kill and remove every environment cgroup whose owner process is gone."""
    swept: set[str] = set()
    match version():
        case 1:
            hierarchies = [ROOT / c / PARENT for c in CgroupV1.CONTROLLERS + CgroupV1.OPTIONAL]
            for directory in hierarchies:
                for path in _orphans(directory):
                    kill_procs(path)
                    swept.add(path.name)
            for name in swept:
                with contextlib.suppress(OSError):
                    _write(ROOT / "freezer" / PARENT / name / "freezer.state", "THAWED")
            paths = [directory / name for directory in hierarchies for name in swept]
        case 2:
            paths = _orphans(ROOT / PARENT)
            for path in paths:
                _kill_v2(path)
                with contextlib.suppress(OSError):
                    _write(path / "cgroup.freeze", "0")
                swept.add(path.name)
        case _:
            return 0
    _remove_when_empty(paths)
    if swept:
        logger.warning("removed %d environment cgroup(s) left by dead executors", len(swept))
    return len(swept)


def remove_dirs(paths: list[Path]) -> None:
    """Remove cgroups now, or as soon as their killed tasks have finished exiting.

    Right after SIGKILL (and a thaw) tasks may still be exiting, and rmdir fails with EBUSY;
    a short-lived thread retries so the caller (the event loop) never waits for it.
    """
    busy = []
    for path in paths:
        try:
            path.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            busy.append(path)
    if busy:
        threading.Thread(
            target=_remove_when_empty, args=(busy, 30.0), name="functory-cgroup-rmdir", daemon=True
        ).start()


def _remove_when_empty(paths: list[Path], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    pending = [path for path in paths if path.exists()]
    while pending and time.monotonic() < deadline:
        for path in list(pending):
            with contextlib.suppress(OSError):
                path.rmdir()
            if not path.exists():
                pending.remove(path)
        if pending:
            time.sleep(0.02)


# -- the guardian ------------------------------------------------------------------------

_guardian: subprocess.Popen[bytes] | None = None


def start_guardian() -> None:
    """One small process per executor that sweeps its cgroups as soon as it dies.

    It waits for EOF on a pipe only this process holds; that comes when the executor is
    gone, however it died (the kernel closes the pipe), and the sweep then thaws and kills
    what it left frozen.
    """
    global _guardian
    if _guardian is not None and _guardian.poll() is None:
        return
    root = str(Path(__file__).resolve().parents[2])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": root}
    try:
        _guardian = subprocess.Popen(
            [sys.executable, "-m", "invocations.executor.guardian", owner_token()],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            cwd=root,
            env=env,
            start_new_session=True,  # outlives a signal to the executor's process group
        )
    except OSError as exc:
        logger.warning("starting the cgroup guardian failed: %s", exc)


def prepare() -> None:
    """On executor start: the parent's ceilings, orphans swept, the guardian running."""
    if version() is None:
        return
    ensure_parent()
    sweep_orphans()
    start_guardian()
