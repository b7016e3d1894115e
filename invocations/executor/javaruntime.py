"""The Java runtime's jars, compiled from ``executor/java/`` with the host's JDK.

No Maven registry is reachable, so the platform brings its own
``com.amazonaws.services.lambda.runtime`` interfaces (AWS's package and signatures, so a
jar built against aws-lambda-java-core runs unchanged) and its own Runtime API client.
Setup builds them (``python -m invocations.executor.javaruntime``); a backend builds them
too when they are missing or older than their sources, under a lock, so a fresh checkout
works either way. Output (git-ignored):

- ``runtimes/java/lib/``: ``aws-lambda-java-core.jar`` and ``functory-lambda-runtime.jar``
  (the JVM's class path), and ``json/`` with the POJO serializer and Debian's Jackson jars
  (its own class loader: functions never see them). Mounted at ``/var/runtime``.
- ``java/build/hello-java.zip``: the console's Java blueprint, a compiled hello world.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

SOURCES = Path(__file__).resolve().parent / "java"
# catalog.RUNTIME_DIR (catalog imports this module)
LIB = Path(__file__).resolve().parent / "runtimes" / "java" / "lib"
BUILD = SOURCES / "build"
BLUEPRINT = BUILD / "hello-java.zip"
# Debian's libjackson2-databind-java (and what it depends on), installed by setup.
JACKSON_DIR = Path(os.environ.get("FUNCTORY_JACKSON_DIR", "/usr/share/java"))
JACKSON_JARS = ("jackson-annotations.jar", "jackson-core.jar", "jackson-databind.jar")
_STAMP = ".sources.sha256"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_built: str | None = None  # the digest this process has seen built


def javac() -> str | None:
    configured = os.environ.get("FUNCTORY_JAVAC")
    return configured or shutil.which("javac", path="/usr/bin:/usr/local/bin")


def _jackson() -> list[Path]:
    return [JACKSON_DIR / name for name in JACKSON_JARS]


def _digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCES.rglob("*.java")):
        digest.update(str(path.relative_to(SOURCES)).encode() + b"\0" + path.read_bytes())
    for jar in _jackson():
        with contextlib.suppress(OSError):
            digest.update(f"{jar.name}\0{jar.stat().st_size}\0".encode())
    return digest.hexdigest()


def _is_current(digest: str) -> bool:
    try:
        return (LIB / _STAMP).read_text() == digest and BLUEPRINT.exists()
    except OSError:
        return False


def ensure_built() -> Path | None:
    """The runtime's ``lib`` directory, built if need be; None when this host cannot build it
    (no javac, or no Jackson): the Java runtimes are then unavailable."""
    global _built
    if _built is not None:
        return LIB
    digest = _digest()
    if _is_current(digest):
        _built = digest
        return LIB
    compiler = javac()
    if compiler is None or not all(jar.is_file() for jar in _jackson()):
        return None
    with _lock():
        if not _is_current(digest):
            try:
                _build(compiler, digest)
            except (OSError, subprocess.CalledProcessError) as exc:
                logger.error("building the Java runtime failed: %s", exc)
                return None
    _built = digest
    return LIB


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _javac(compiler: str, release: str, out: Path, classpath: list[Path], sources: Path) -> None:
    files = sorted(str(path) for path in sources.rglob("*.java"))
    command = [compiler, "--release", release, "-nowarn", "-encoding", "UTF-8", "-d", str(out)]
    if classpath:
        command += ["-classpath", os.pathsep.join(str(path) for path in classpath)]
    # -Xlint:-options: --release 8 is deprecated on newer JDKs, and says so.
    subprocess.run(
        [*command, "-Xlint:-options", *files], check=True, capture_output=True, timeout=300
    )


def _jar(classes: Path, prefix: str, target: Path, exclude: str | None = None) -> None:
    """A jar of the classes under ``prefix`` (fixed timestamps: the same bytes each build)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("META-INF/MANIFEST.MF", _FIXED_TIME)
        archive.writestr(info, "Manifest-Version: 1.0\r\nCreated-By: Functory\r\n\r\n")
        for path in sorted((classes / prefix).rglob("*.class")):
            name = path.relative_to(classes).as_posix()
            if exclude and name.startswith(exclude):
                continue
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), path.read_bytes())


def _build(compiler: str, digest: str) -> None:
    with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
        work = Path(scratch)
        core, client, hello = work / "core", work / "client", work / "hello"
        # The interfaces target Java 8, as aws-lambda-java-core does: any function compiled
        # against them loads; the client needs 11 (the oldest java runtime offered).
        _javac(compiler, "8", core, [], SOURCES / "core")
        _javac(compiler, "8", hello, [core], SOURCES / "hello")
        sources = work / "client-sources"
        shutil.copytree(SOURCES / "client", sources)
        shutil.copytree(SOURCES / "json", sources, dirs_exist_ok=True)
        _javac(compiler, "11", client, [core, *_jackson()], sources)
        lib = work / "lib"
        (lib / "json").mkdir(parents=True)
        _jar(core, "com", lib / "aws-lambda-java-core.jar")
        runtime_jar = lib / "functory-lambda-runtime.jar"
        _jar(client, "functory", runtime_jar, exclude="functory/lambda/json/")
        _jar(client, "functory/lambda/json", lib / "json" / "functory-lambda-json.jar")
        for jar in _jackson():
            shutil.copyfile(jar, lib / "json" / jar.name)
        (lib / _STAMP).write_text(digest)
        blueprint = work / "hello-java.zip"
        _jar(hello, "example", blueprint)
        # Swapped in whole: a sandbox starting meanwhile sees the old jars or the new.
        old = work / "old-lib"
        with contextlib.suppress(FileNotFoundError):
            LIB.rename(old)
        lib.rename(LIB)
        os.replace(blueprint, BLUEPRINT)


def blueprint_files() -> dict[str, bytes]:
    """The Java blueprint's files (``example/Hello.class``), empty when it cannot be built."""
    if ensure_built() is None:
        return {}
    with zipfile.ZipFile(BLUEPRINT) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.endswith(".class")}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    built = ensure_built()
    if built is None:
        print("java runtime: not built (no javac or no Jackson on this host)", file=sys.stderr)
    else:
        print(f"java runtime ready: {built}")
