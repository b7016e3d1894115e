"""The seccomp filter every environment runs under, on both backends.

Default allow, with the kernel interfaces a function never needs denied: those that
reach state shared beyond the environment (keyrings), that widen what an unprivileged
process may do (new user namespaces, then mounts), and the large attack surfaces Docker's
default profile also withholds (bpf, io_uring, perf, userfaultfd, ptrace). The table
below is the one source: ``bpf_program`` compiles it with libseccomp for bubblewrap,
``docker_profile`` renders it as a Docker seccomp profile.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from typing import Any

# Namespace flags of clone/unshare. CLONE_NEWTIME shares its bit with clone's exit signal,
# so it is only filtered for unshare.
_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
_CLONE_NEWTIME = 0x00000080
# personality(2) bits that help kernel exploits (page zero, executable data, no ASLR).
_PERSONALITY_FLAGS = (0x0100000, 0x0400000, 0x0040000)

DENIED = (
    # Keyrings are per uid and outlive the environment.
    "add_key",
    "keyctl",
    "request_key",
    # Large kernel attack surfaces.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    # Other namespaces and mounts.
    "setns",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # Other processes' memory, even in the same sandbox (Lambda offers no ptrace).
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    # The host itself.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "vhangup",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "nfsservctl",
    "open_by_handle_at",
    "name_to_handle_at",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "stime",
    # Memory placement across NUMA nodes (Docker's profile withholds it too).
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "move_pages",
    "migrate_pages",
    "vm86",
    "vm86old",
    "iopl",
    "ioperm",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
)
# Newer than the libseccomp of Debian 12, denied by number (same on x86_64 and aarch64).
_DENIED_NUMBERS = {"statmount": 457, "listmount": 458, "open_tree_attr": 467}
ENOSYS_CALLS = ("clone3",)  # its flags are in memory, out of seccomp's reach: libc falls back


@dataclass(frozen=True)
class Rule:
    """EPERM for ``syscall``, or only when ``argument & mask == value``."""

    syscall: str
    mask: tuple[int, int, int] | None = None  # (argument index, mask, value)


_CLONE_NEWUSER, _CLONE_NEWNS = 0x10000000, 0x00020000
# A SnapStart template's forked environments each make a user and a mount namespace (for a
# /tmp of their own): with mounts, setns and every other namespace still denied, the
# capabilities that gives reach only that empty namespace pair.
_FORK_PAIR = _CLONE_NEWUSER | _CLONE_NEWNS


def rules(template: bool = False) -> list[Rule]:
    table = [Rule(name) for name in DENIED]
    table += [Rule("clone", (0, flag, flag)) for flag in _NAMESPACE_FLAGS]
    unshared: tuple[int, ...] = (*_NAMESPACE_FLAGS, _CLONE_NEWTIME)
    if template:  # both or neither of the pair
        unshared = tuple(flag for flag in unshared if not flag & _FORK_PAIR)
        table += [Rule("unshare", (0, _FORK_PAIR, flag)) for flag in (_CLONE_NEWUSER, _CLONE_NEWNS)]
    table += [Rule("unshare", (0, flag, flag)) for flag in unshared]
    # personality(0xffffffff) only reads it; no real persona has bit 31 set.
    table += [Rule("personality", (0, flag | 1 << 31, flag)) for flag in _PERSONALITY_FLAGS]
    return table


def _architectures() -> tuple[str, ...]:
    """libseccomp/Docker names of the ABIs a process on this host can call the kernel by."""
    machine = platform.machine()
    if machine == "x86_64":
        return ("X86_64", "X86", "X32")
    if machine == "aarch64":
        return ("AARCH64", "ARM")
    raise RuntimeError(f"no seccomp profile for {machine}")


@functools.cache
def bpf_program(template: bool = False) -> bytes:
    """The filter as classic BPF, what ``bwrap --seccomp FD`` loads.

    ``template``: a SnapStart template's, which lets its forked environments make their
    user and mount namespace pair; each stacks the full filter on it once it has.
    """
    import pyseccomp as seccomp

    native, *others = _architectures()
    # Filters per ABI group, merged: libseccomp would refuse the raw numbers for others.
    scmp = _filter(seccomp, [native], numbers=True, template=template)
    if others:
        scmp.merge(_filter(seccomp, others, numbers=False, template=template))
    with tempfile.TemporaryFile() as handle:
        scmp.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def _filter(seccomp: Any, arches: list[str], numbers: bool, template: bool) -> Any:
    scmp = seccomp.SyscallFilter(seccomp.ALLOW)
    # Every ABI the host runs gets the same rules; a call by any other ABI kills.
    scmp.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for name in arches:
        if not scmp.exist_arch(getattr(seccomp.Arch, name)):
            scmp.add_arch(getattr(seccomp.Arch, name))
    if not numbers:
        scmp.remove_arch(seccomp.Arch.NATIVE)
    eperm = seccomp.ERRNO(errno.EPERM)
    for rule in rules(template):
        args = []
        if rule.mask is not None:
            index, mask, value = rule.mask
            args.append(seccomp.Arg(index, seccomp.MASKED_EQ, mask, value))
        _add(scmp, eperm, rule.syscall, args)
    for name in ENOSYS_CALLS:
        _add(scmp, seccomp.ERRNO(errno.ENOSYS), name, [])
    if numbers:
        for number in _DENIED_NUMBERS.values():
            scmp.add_rule(eperm, number)
    return scmp


def _add(scmp: Any, action: int, name: str, args: list[Any]) -> None:
    try:
        scmp.add_rule(action, name, *args)
    except OSError as exc:
        # A call an ABI does not have (iopl on aarch64, stime on x86_64) needs no rule.
        if exc.errno not in (errno.EINVAL, errno.EDOM, errno.EFAULT):
            raise


def bpf_fd(template: bool = False) -> int:
    """A sealed memfd holding the BPF program, positioned at its start."""
    fd = os.memfd_create("seccomp", os.MFD_CLOEXEC)
    os.write(fd, bpf_program(template))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@functools.cache
def docker_profile() -> str:
    """The same table as a Docker seccomp profile (JSON), for ``security_opt``."""
    syscalls: list[dict[str, object]] = [
        {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
        {"names": list(ENOSYS_CALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
    ]
    for rule in rules():
        if rule.mask is None:
            continue
        index, mask, value = rule.mask
        condition = {"index": index, "value": mask, "valueTwo": value, "op": "SCMP_CMP_MASKED_EQ"}
        syscalls.append(
            {
                "names": [rule.syscall],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EPERM,
                "args": [condition],
            }
        )
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [f"SCMP_ARCH_{name}" for name in _architectures()],
        "syscalls": syscalls,
    }
    return json.dumps(profile, separators=(",", ":"))
