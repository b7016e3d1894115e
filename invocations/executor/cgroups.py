"""Resource limits for an environment through cgroups, v1 or v2, whichever the host has.

One cgroup per environment (per controller on v1) under ``functory/``: memory (the
function's MemorySize, swap included where the kernel accounts it), a pids limit, and a
CPU weight proportional to memory as Lambda allocates it (1,769 MB = one vCPU).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "functory"
MB = 1024 * 1024
ONE_VCPU_MB = 1769


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

    def __init__(self, name: str, limits: Limits) -> None:
        self.paths = {c: ROOT / c / PARENT / name for c in self.CONTROLLERS}
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

    def kill_all(self) -> None:
        with contextlib.suppress(OSError):
            for pid in (self.paths["pids"] / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)

    def remove(self) -> None:
        for path in self.paths.values():
            with contextlib.suppress(OSError):
                path.rmdir()


class CgroupV2:
    def __init__(self, name: str, limits: Limits) -> None:
        parent = ROOT / PARENT
        parent.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            _write(ROOT / "cgroup.subtree_control", "+memory +pids +cpu")
        with contextlib.suppress(OSError):
            _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
        self.path = parent / name
        self.path.mkdir(exist_ok=True)
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

    def kill_all(self) -> None:
        try:
            _write(self.path / "cgroup.kill", "1")
        except OSError:
            with contextlib.suppress(OSError):
                for pid in (self.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), 9)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


Cgroup = CgroupV1 | CgroupV2


def create(name: str, limits: Limits) -> Cgroup | None:
    """A cgroup with these limits, or None where the host offers none (then unlimited)."""
    match version():
        case 2:
            return CgroupV2(name, limits)
        case 1:
            return CgroupV1(name, limits)
    return None
