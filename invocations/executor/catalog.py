"""The runtime catalog: which interpreter runs which Lambda runtime identifier."""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from invocations.executor import javaruntime

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


# AWS's Java runtimes; each is served by the host's JDK of that major version.
JAVA_RUNTIMES = {"java11": "11", "java17": "17", "java21": "21"}


@functools.cache
def java_binaries() -> dict[str, str]:
    """``{"17": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", ...}``: the JDKs on the host.

    Debian's OpenJDK packages; ``FUNCTORY_JAVA_21=/path/to/bin/java`` adds or overrides one.
    """
    found: dict[str, str] = {}
    for path in sorted(glob.glob("/usr/lib/jvm/java-*-openjdk-*/bin/java")):
        match = re.search(r"/java-(\d+)-openjdk", path)
        if match and os.access(path, os.X_OK):
            found.setdefault(match[1], path)
    for name, value in os.environ.items():
        match = re.fullmatch(r"FUNCTORY_JAVA_(\d+)", name)
        if match and os.access(value, os.X_OK):
            found[match[1]] = value
    return found


def _java_command(runtime: str) -> RuntimeCommand:
    version = JAVA_RUNTIMES[runtime]
    binary = java_binaries().get(version)
    if binary is None:
        raise RuntimeUnavailable(
            f"Runtime {runtime} is not available on this host: it has no Java {version} "
            f"(install openjdk-{version}-jre-headless)."
        )
    if javaruntime.ensure_built() is None:
        raise RuntimeUnavailable(
            f"Runtime {runtime} is not available on this host: the platform's Java runtime "
            "client could not be built (it needs javac and libjackson2-databind-java)."
        )
    return RuntimeCommand(
        argv=("/usr/bin/bash", "/var/runtime/java/bootstrap", binary),
        extra_mounts=_mounts_for(binary),
        execution_env=f"AWS_Lambda_{runtime}",
    )


# The ruby3.x runtime names served by the host's Ruby, as python3.x are by its CPythons
# (Debian has one Ruby; a function's pure-Ruby code and gems run on it unchanged).
RUBY_RUNTIMES = frozenset({"ruby3.2", "ruby3.3", "ruby3.4"})


@functools.cache
def ruby_binary() -> str | None:
    configured = os.environ.get("FUNCTORY_RUBY")
    return configured or shutil.which("ruby", path="/usr/bin:/usr/local/bin")


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
    if runtime in JAVA_RUNTIMES:
        return _java_command(runtime)

    if runtime in RUBY_RUNTIMES:
        binary = ruby_binary()
        if binary is None:
            raise RuntimeUnavailable(f"Runtime {runtime} is not available on this host.")
        return RuntimeCommand(
            argv=(binary, "/var/runtime/ruby/bootstrap.rb"),
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
    java = re.match(r"java(\d+)", runtime)
    if java:  # each version is its own JDK
        return f"Java {java[1]}"
    for prefix, label in _FAMILIES:
        if runtime.startswith(prefix):
            return label
    return f"runtime for {runtime}"
