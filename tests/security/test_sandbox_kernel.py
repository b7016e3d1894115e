"""A tenant's code cannot reach kernel state shared with other environments (issue 10, 3-4).

Each environment runs as a host uid of its own, under a seccomp filter that denies the
keyring, new namespaces, mounts, io_uring, bpf and perf; pid 1's command line names no
host path. Plain code (threads, subprocesses, multiprocessing) keeps working.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, client_for, create_function, create_user, make_zip
from invocations.executor import identity
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.one_profile]

ATTACK = r"""
import ctypes, errno, os, platform, pwd, subprocess, threading, time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {
    "x86_64": {"add_key": 248, "keyctl": 250, "unshare": 272, "io_uring_setup": 425,
               "bpf": 321, "perf_event_open": 298, "mount": 165, "clone3": 435, "ptrace": 101},
    "aarch64": {"add_key": 217, "keyctl": 219, "unshare": 97, "io_uring_setup": 425,
                "bpf": 280, "perf_event_open": 241, "mount": 40, "clone3": 435, "ptrace": 117},
}[platform.machine()]
KEY_SPEC_USER_KEYRING = -4
KEYCTL_SEARCH, KEYCTL_READ = 10, 11


def call(name, *args):
    ctypes.set_errno(0)
    result = libc.syscall(NR[name], *args)
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")


def plant(event, context):
    # A secret left in the per-uid keyring, for another account to find.
    add = call("add_key", b"user", b"functory-secret", b"s3cret", 6, KEY_SPEC_USER_KEYRING)
    return {"add_key": add}


def steal(event, context):
    found = libc.syscall(NR["keyctl"], KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, b"user",
                         b"functory-secret", 0)
    return {"found": found >= 0, "keyctl": call("keyctl", KEYCTL_SEARCH,
            KEY_SPEC_USER_KEYRING, b"user", b"functory-secret", 0)}


def kernel(event, context):
    buf = ctypes.create_string_buffer(256)
    out = {
        "add_key": call("add_key", b"user", b"k", b"v", 1, KEY_SPEC_USER_KEYRING),
        "keyctl": call("keyctl", KEYCTL_READ, KEY_SPEC_USER_KEYRING, 0, 0),
        "unshare_user": call("unshare", 0x10000000),
        "unshare_mount": call("unshare", 0x00020000),
        "io_uring_setup": call("io_uring_setup", 1, buf),
        "bpf": call("bpf", 0, buf, 48),
        "perf_event_open": call("perf_event_open", buf, 0, -1, -1, 0),
        "mount": call("mount", b"none", b"/tmp", b"tmpfs", 0, None),
        "clone3": call("clone3", None, 0),
        "ptrace": call("ptrace", 0, 0, None, None),  # PTRACE_TRACEME, allowed by Docker's
    }
    try:
        run = subprocess.run(["unshare", "-r", "id", "-u"], capture_output=True, text=True)
        out["unshare_r"] = (run.returncode, run.stdout.strip())
    except FileNotFoundError:
        out["unshare_r"] = (127, "")
    cmdline = open("/proc/1/cmdline", "rb").read().decode(errors="replace")
    out["cmdline"] = cmdline.replace("\0", " ")
    out["mountinfo"] = open("/proc/self/mountinfo").read()
    return out


def who(event, context):
    time.sleep(event.get("hold", 0))
    return {"uid": os.getuid(), "gid": os.getgid(), "name": pwd.getpwuid(os.getuid()).pw_name,
            "tmp_owner": os.stat("/tmp").st_uid}


def squares_to(pipe):
    pipe.send([n * n for n in range(5)])


def ordinary(event, context):
    import multiprocessing
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(i)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    echoed = subprocess.run(["sh", "-c", "echo $((6 * 7))"], capture_output=True, text=True)
    # Process and Pipe, as on Lambda (which has no /dev/shm for Pool's semaphores).
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.Process(target=squares_to, args=(send,))
    child.start()
    squares = receive.recv()
    child.join()
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    _, status = os.waitpid(pid, 0)
    return {"threads": sorted(results), "echo": echoed.stdout.strip(), "squares": squares,
            "fork": os.waitstatus_to_exitcode(status)}
"""

DENIED = (
    *("add_key", "keyctl", "unshare_user", "unshare_mount"),
    *("io_uring_setup", "bpf", "perf_event_open", "mount", "ptrace"),
)


def _function(client: Any, name: str, handler: str, **kwargs: Any) -> None:
    create_function(
        client,
        name,
        Handler=handler,
        Code={"ZipFile": make_zip({"app.py": ATTACK})},
        Timeout=30,
        **kwargs,
    )


def _host_paths(server: Any) -> list[str]:
    data_dir = str(Path(server.env["FUNCTORY_DATA_DIR"]))
    return [str(ROOT), data_dir, ".venv", "/work", "site-packages"]


def _check_kernel_calls(body: dict[str, Any]) -> None:
    for name in DENIED:
        assert body[name] == "EPERM", (name, body[name])
    assert body["clone3"] == "ENOSYS"
    assert body["unshare_r"][0] != 0, body["unshare_r"]


@pytest.mark.sandbox
def test_dangerous_kernel_calls_fail_with_eperm(lam: Any) -> None:
    _function(lam, "kernel", "app.kernel")
    _check_kernel_calls(invoke(lam, "kernel")["Body"])


@pytest.mark.sandbox
def test_pid_1s_command_line_and_the_mount_table_name_no_host_path(functory: Any, lam: Any) -> None:
    _function(lam, "cmdline", "app.kernel")
    body = invoke(lam, "cmdline")["Body"]
    for path in _host_paths(functory):
        assert path not in body["cmdline"], (path, body["cmdline"])
        assert path not in body["mountinfo"], (path, body["mountinfo"])
    assert body["cmdline"].split()[0] == "bwrap"


@pytest.mark.sandbox
def test_a_key_planted_by_one_account_is_not_seen_by_another(functory: Any, lam: Any) -> None:
    other = client_for(functory, create_user(functory))
    _function(lam, "planter", "app.plant")
    _function(other, "thief", "app.steal")
    planted = invoke(lam, "planter", LogType="Tail")
    assert planted["Body"] == {"add_key": "EPERM"}, planted.get("Log")
    stolen = invoke(other, "thief", LogType="Tail")
    assert stolen["Body"] == {"found": False, "keyctl": "EPERM"}, stolen.get("Log")


@pytest.mark.sandbox
def test_concurrent_environments_run_as_distinct_uids_from_the_range(lam: Any) -> None:
    _function(lam, "who", "app.who")
    # Two overlapping invocations need two environments.
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(invoke(lam, "who", {"hold": 2})["Body"]))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all("uid" in body for body in results), results
    uids = {body["uid"] for body in results}
    assert len(uids) == 2, results
    for body in results:
        assert identity.UID_BASE <= body["uid"] < identity.UID_BASE + identity.UID_COUNT
        assert body["gid"] == body["uid"]
        assert body["name"] == "sbx_user1051"


@pytest.mark.sandbox
def test_ordinary_code_still_runs_under_the_filter(lam: Any) -> None:
    _function(lam, "ordinary", "app.ordinary")
    body = invoke(lam, "ordinary")["Body"]
    assert body == {
        "threads": list(range(8)),
        "echo": "42",
        "squares": [0, 1, 4, 9, 16],
        "fork": 3,
    }


@pytest.mark.docker
def test_containers_get_the_filter_and_a_uid_of_their_own(functory_docker: Any) -> None:
    client = client_for(functory_docker, create_user(functory_docker))
    _function(client, "dkernel", "app.kernel")
    _check_kernel_calls(invoke(client, "dkernel")["Body"])
    _function(client, "dwho", "app.who")
    body = invoke(client, "dwho")["Body"]
    assert identity.UID_BASE <= body["uid"] < identity.UID_BASE + identity.UID_COUNT
    assert body["name"] == "sbx_user1051"
    _function(client, "dordinary", "app.ordinary")
    assert invoke(client, "dordinary")["Body"]["squares"] == [0, 1, 4, 9, 16]
