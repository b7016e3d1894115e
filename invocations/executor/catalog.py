"""The runtime catalog: which interpreter runs which Lambda runtime identifier."""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parent / "runtimes"


class RuntimeUnavailable(Exception):
    """The host has no interpreter for this runtime."""


@dataclass(frozen=True)
class RuntimeCommand:
    argv: tuple[str, ...]
    # Host directories the interpreter lives in, outside /usr, to mount read-only.
    extra_mounts: tuple[str, ...] = ()
    execution_env: str = ""


@functools.cache
def python_interpreters() -> dict[str, str]:
    """``{"3.11": "/usr/bin/python3.11", ...}``: the CPython versions present on the host.

    Debian's ``/usr/bin`` first; other installs (``/usr/local``, pyenv) may add versions.
    ``FUNCTORY_PYTHON_3_12=/path/to/python3.12`` adds or overrides one.
    """
    found: dict[str, str] = {}
    patterns = [
        "/usr/bin/python3.*",
        "/usr/local/bin/python3.*",
        os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*"),
    ]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            match = re.search(r"python(3\.\d+)$", path)
            if match and os.access(path, os.X_OK) and match[1] not in found:
                found[match[1]] = os.path.realpath(path)
    for name, value in os.environ.items():
        match = re.fullmatch(r"FUNCTORY_PYTHON_3_(\d+)", name)
        if match and os.access(value, os.X_OK):
            found[f"3.{match[1]}"] = value
    return found


@functools.cache
def node_binary() -> str | None:
    configured = os.environ.get("FUNCTORY_NODE")
    return configured or shutil.which("node", path="/usr/bin:/usr/local/bin")


def _mounts_for(binary: str) -> tuple[str, ...]:
    if binary.startswith("/usr/"):
        return ()
    # e.g. ~/.pyenv/versions/3.12.1/bin/python3.12 -> mount ~/.pyenv/versions/3.12.1
    return (str(Path(binary).parent.parent),)


def command_for(runtime: str) -> RuntimeCommand:
    """How to start ``runtime`` inside an environment (paths as seen from inside)."""
    if runtime.startswith("python3."):
        version = runtime.removeprefix("python")
        binary = python_interpreters().get(version)
        if binary is None:
            raise RuntimeUnavailable(f"Runtime {runtime} is not available on this host.")
        return RuntimeCommand(
            argv=(binary, "-X", "utf8", "/var/runtime/python/bootstrap.py"),
            extra_mounts=_mounts_for(binary),
            execution_env=f"AWS_Lambda_{runtime}",
        )
    if runtime.startswith("nodejs"):
        binary = node_binary()
        if binary is None:
            raise RuntimeUnavailable(f"Runtime {runtime} is not available on this host.")
        return RuntimeCommand(
            argv=(binary, "/var/runtime/nodejs/bootstrap.js"),
            extra_mounts=_mounts_for(binary),
            execution_env=f"AWS_Lambda_{runtime}",
        )
    if runtime.startswith("provided"):
        # Resolved by the backend, which can see whether the package or a layer has one.
        return RuntimeCommand(argv=(), execution_env="")
    raise RuntimeUnavailable(f"Runtime {runtime} is not supported by this executor.")


# -- the AWS SDKs the runtimes carry (issue 15, item 6) -------------------------------------

# Installed by scripts/runtime-sdk.sh at the versions the project pins; mounted read-only in
# every environment, after the function's code and layers on the module search paths.
SDK_DIR = Path(
    os.environ.get("FUNCTORY_RUNTIME_SDK_DIR")
    or Path(__file__).resolve().parents[2] / "runtime-sdk"
)
SDK_MOUNT = "/var/runtime-sdk"
SDK_PYTHON_PATH = f"{SDK_MOUNT}/python"
SDK_NODE_PATH = f"{SDK_MOUNT}/nodejs/node_modules"


@dataclass(frozen=True)
class RuntimeSdk:
    path: str
    # The digest of the pins it was installed from: names its images, which change with it.
    stamp: str


def runtime_sdk() -> RuntimeSdk | None:
    """The installed SDK tree, or None where setup has not installed it (functions then
    bundle their own, as they must for anything else)."""
    try:
        stamp = (SDK_DIR / ".installed").read_text().strip()
    except OSError:
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", stamp):
        return None
    return RuntimeSdk(str(SDK_DIR), stamp[:16])


# -- which runtimes this host can run (issue 15, item 7) ------------------------------------

_FAMILIES = (
    ("python", "Python"),
    ("nodejs", "Node.js"),
    ("java", "Java"),
    ("ruby", "Ruby"),
    ("dotnet", ".NET"),
    ("go", "Go"),
)


@dataclass(frozen=True)
class Availability:
    runtime: str
    available: bool
    reason: str = ""  # why not, e.g. "no .NET on this host"


@functools.cache
def availability(runtime: str) -> Availability:
    """Whether this host can run ``runtime``, and if not why (cached: the host's
    interpreters are found once per process, as ``command_for`` finds them)."""
    try:
        command_for(runtime)
    except RuntimeUnavailable:
        return Availability(runtime, False, f"no {_needed(runtime)} on this host")
    return Availability(runtime, True)


def _needed(runtime: str) -> str:
    if runtime.startswith("python3."):
        return f"Python {runtime.removeprefix('python')}"
    for prefix, label in _FAMILIES:
        if runtime.startswith(prefix):
            return label
    return f"runtime for {runtime}"
