"""A container image's file system, unpacked from its layers, for the sandbox backend.

The image is tenant-made: its layers are tar archives that may hold links to host paths,
``..`` in member names, device nodes, setuid programs, and whiteouts that point anywhere.
They are applied in order into a directory the platform made, as ``safetree`` writes code
packages: every path component is opened relative to its parent's descriptor with
``O_NOFOLLOW``, so a link in the tree is only ever created or removed, never followed.

- a member name with ``..`` (or a NUL) refuses the whole image; a leading ``/`` is dropped
  (the name is taken inside the root);
- symbolic links are kept as they are: the sandbox's root *is* this tree, so an absolute
  target such as ``/etc/shadow`` resolves inside the image, never on the host;
- hard links must name a regular file already in the tree (found without following links);
- device nodes, FIFOs and sockets are dropped; files keep only their executable bit
  (no setuid, setgid or sticky bit, nothing group- or world-writable), directories are 0755;
- whiteouts (``.wh.<name>``) remove what lower layers made, and an opaque directory
  (``.wh..wh..opq``) hides all of a lower layer's entries in it, as the OCI image spec says;
- file content, entries and the saved archive are bounded (``Limits``).

The unpacked root is cached per image digest (``<cache>/<hex>``, renamed into place when
whole); an image refused once is remembered as refused, with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from invocations.executor import safetree

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 20
_LINK_TARGET_LIMIT = 4096
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Mount points the sandbox needs in the root (made real: a link there would be followed by
# bubblewrap while it builds the sandbox, before the root is its root).
MOUNT_DIRS = ("proc", "dev", "tmp", "etc", ".functory")
# ld.so.preload and nsswitch.conf are the platform's too: the kit's setpriv still runs as
# root inside the image's tree, and glibc's loader reads the first (a library to load into
# every program), its NSS the second (modules to load to look up the uid).
MOUNT_FILES = (
    "etc/passwd",
    "etc/group",
    "etc/resolv.conf",
    "etc/hosts",
    "etc/ld.so.preload",
    "etc/nsswitch.conf",
)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class UnsafeImage(safetree.UnsafeTree):
    """The image cannot be unpacked safely; the message says why."""


@dataclass(frozen=True)
class Limits:
    # AWS's limit on an image function's image is 10 GB, uncompressed.
    max_bytes: int = int(os.environ.get("FUNCTORY_IMAGE_MAX_BYTES", str(10 * 1024**3)))
    # Far above real images (tens of thousands of files), low enough to bound the memory
    # a layer's index takes while it is read.
    max_entries: int = int(os.environ.get("FUNCTORY_IMAGE_MAX_ENTRIES", "500000"))


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes = 0
        self.entries = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise UnsafeImage(f"the image has more than {self.limits.max_entries} entries")

    def add(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise UnsafeImage(f"the image is larger than {self.limits.max_bytes} bytes unpacked")


def member_parts(name: str) -> list[str]:
    """A layer member's path components inside the root; ``..`` refuses the image."""
    if "\x00" in name:
        raise UnsafeImage("a layer entry's name holds a NUL byte")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeImage(f"layer entry '{name[:200]}' leaves the image's root")
    if len(parts) > safetree.MAX_DEPTH:
        raise UnsafeImage(f"layer entry '{name[:200]}' is nested too deeply")
    return parts


def _open_existing(root_fd: int, parts: list[str]) -> int | None:
    """A descriptor for the directory ``parts``, or None if any component is missing or is
    not a directory (a link is never followed)."""
    fd = os.dup(root_fd)
    for part in parts:
        try:
            child = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = child
    return fd


@contextlib.contextmanager
def _dir(root_fd: int, parts: list[str], *, make: bool) -> Iterator[int | None]:
    fd = safetree.walk_to(root_fd, parts) if make else _open_existing(root_fd, parts)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _clear(dir_fd: int) -> None:
    for child in os.listdir(dir_fd):
        safetree.remove(child, dir_fd)


def apply_layer(layer: tarfile.TarFile, root_fd: int, budget: _Budget) -> None:
    """Apply one layer over the tree at ``root_fd``."""
    # Counted while the index is read: a layer of millions of headers stops at the limit
    # instead of filling the executor's memory.
    members: list[tarfile.TarInfo] = []
    for member in layer:
        budget.entry()
        members.append(member)
    # An opaque directory hides the lower layers' entries only: cleared before this
    # layer's own entries in it are written, wherever the marker sits in the archive.
    for member in members:
        parts = member_parts(member.name)
        if parts and parts[-1] == OPAQUE:
            with _dir(root_fd, parts[:-1], make=False) as fd:
                if fd is not None:
                    _clear(fd)
    for member in members:
        parts = member_parts(member.name)
        if not parts or parts[-1] == OPAQUE:
            continue
        name = parts[-1]
        if name.startswith(WHITEOUT):
            with _dir(root_fd, parts[:-1], make=False) as fd:
                hidden = name[len(WHITEOUT) :]
                if fd is not None and hidden not in ("", ".", ".."):
                    safetree.remove(hidden, fd)
            continue
        if member.isdir():
            with _dir(root_fd, parts, make=True):
                pass
            continue
        if not (member.isreg() or member.issym() or member.islnk()):
            continue  # device nodes, FIFOs, sockets: nothing a function needs
        with _dir(root_fd, parts[:-1], make=True) as parent:
            assert parent is not None
            safetree.remove(name, parent)
            if member.issym():
                target = member.linkname
                if len(target) > _LINK_TARGET_LIMIT:
                    raise UnsafeImage(f"link '{member.name[:200]}' is too long")
                if target and "\x00" not in target:
                    os.symlink(target, name, dir_fd=parent)
            elif member.islnk():
                _hard_link(root_fd, member.linkname, name, parent)
            else:
                _write(layer, member, name, parent, budget)
    os.fchmod(root_fd, 0o755)


def _hard_link(root_fd: int, target: str, name: str, parent: int) -> None:
    parts = member_parts(target)
    if not parts:
        return
    with _dir(root_fd, parts[:-1], make=False) as source:
        if source is None:
            return
        try:
            status = os.stat(parts[-1], dir_fd=source, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISREG(status.st_mode):
            os.link(parts[-1], name, src_dir_fd=source, dst_dir_fd=parent, follow_symlinks=False)


def _write(
    layer: tarfile.TarFile, member: tarfile.TarInfo, name: str, parent: int, budget: _Budget
) -> None:
    # Only the executable bit survives: no setuid, setgid or sticky bit.
    mode = 0o755 if member.mode & 0o111 else 0o644
    budget.add(member.size)
    source = layer.extractfile(member)
    fd = os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=parent)
    try:
        written = 0
        if source is not None:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > member.size:
                    raise UnsafeImage(f"entry '{member.name[:200]}' is larger than declared")
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def prepare_mount_points(root_fd: int) -> None:
    """Make the sandbox's mount points real directories and files of the tree."""
    os.fchmod(root_fd, 0o755)  # the root itself: an image without layers above its base
    for name in MOUNT_DIRS:
        with _dir(root_fd, [name], make=True):
            pass
    for path in MOUNT_FILES:
        *dirs, name = path.split("/")
        with _dir(root_fd, dirs, make=True) as parent:
            assert parent is not None
            status = None
            with contextlib.suppress(FileNotFoundError):
                status = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if status is not None and stat.S_ISREG(status.st_mode):
                continue
            safetree.remove(name, parent)
            os.close(os.open(name, _NEW_FILE_FLAGS, 0o644, dir_fd=parent))


def saved_layers(outer: tarfile.TarFile) -> tuple[list[str], list[str]]:
    """The layer members of a ``docker save`` archive, lowest first, and the chain id of
    each layer (the OCI image spec's: the digest of it and of every layer below it)."""
    try:
        manifest = json.loads(_member_bytes(outer, "manifest.json"))
        paths = [str(path) for path in manifest[0]["Layers"]]
        config = json.loads(_member_bytes(outer, str(manifest[0]["Config"])))
        diff_ids = [str(digest) for digest in config["rootfs"]["diff_ids"]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UnsafeImage("the saved image's manifest cannot be read") from exc
    if len(paths) != len(diff_ids):
        raise UnsafeImage("the saved image's manifest and configuration disagree")
    chains: list[str] = []
    for diff_id in diff_ids:
        chain = diff_id if not chains else f"{chains[-1]} {diff_id}"
        chains.append(hashlib.sha256(chain.encode()).hexdigest())
    return paths, chains


def _member_bytes(outer: tarfile.TarFile, name: str) -> bytes:
    member_parts(name)
    try:
        source = outer.extractfile(name)
    except KeyError as exc:
        raise UnsafeImage(f"the saved image lacks {name[:200]}") from exc
    if source is None:
        raise UnsafeImage(f"the saved image's {name[:200]} is not a file")
    return source.read(1 << 22)


def apply_saved(outer: tarfile.TarFile, paths: list[str], root_fd: int, budget: _Budget) -> None:
    """Apply the layers ``paths`` of a saved image over the tree at ``root_fd``, in order."""
    for path in paths:
        member_parts(path)
        try:
            source = outer.extractfile(path)
        except KeyError as exc:
            raise UnsafeImage(f"the saved image lacks its layer {path[:200]}") from exc
        if source is None:
            raise UnsafeImage(f"the saved image's layer {path[:200]} is not a file")
        try:
            with tarfile.open(fileobj=source, mode="r:*") as layer:
                apply_layer(layer, root_fd, budget)
        except tarfile.TarError as exc:
            raise UnsafeImage(f"layer {path[:200]} is not a readable tar archive") from exc


def unpack_saved(archive: Path, root_fd: int, limits: Limits) -> None:
    """Apply every layer of a ``docker save`` archive over the tree at ``root_fd``."""
    with tarfile.open(archive, mode="r:") as outer:
        paths, _ = saved_layers(outer)
        apply_saved(outer, paths, root_fd, _Budget(limits))
    prepare_mount_points(root_fd)


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


SaveImage = Callable[[str], Iterable[bytes]]


def root_for(image_id: str, cache: Path, save: SaveImage, limits: Limits | None = None) -> str:
    """The unpacked root of image ``image_id`` (``sha256:<hex>``), unpacked on first use
    from the chunks ``save`` yields (``docker save``). Raises UnsafeImage for a refused
    image, now or on an earlier attempt.

    Images built on one base share its unpacking: the lowest layer is unpacked once as a
    chain root (``<cache>/chains/<chain id>``), and an image's root starts as hard links
    of the longest chain root below it (nothing writes into a file of a tree: a later
    layer's entry replaces a file, it never rewrites it)."""
    limits = limits or Limits()
    hex_id = image_id.removeprefix("sha256:")
    if len(hex_id) != 64 or any(ch not in "0123456789abcdef" for ch in hex_id):
        raise UnsafeImage(f"'{image_id[:100]}' is not an image digest")
    final = cache / hex_id
    refused = cache / f"{hex_id}.refused"
    with _lock(hex_id):
        if final.is_dir():
            return str(final)
        if refused.exists():
            raise UnsafeImage(refused.read_text()[:1000])
        (cache / "chains").mkdir(parents=True, exist_ok=True)
        os.chmod(cache, 0o711)
        archive = cache / f".save-{uuid.uuid4().hex}.tar"
        try:
            _save_to(archive, save(image_id), limits)
            with tarfile.open(archive, mode="r:") as outer:
                paths, chains = saved_layers(outer)
                budget = _Budget(limits)
                below = next(
                    (k for k in range(len(chains), 0, -1) if _chain_root(cache, chains[k - 1])),
                    0,
                )
                if below == 0 and paths:
                    _build(
                        cache / "chains" / chains[0],
                        lambda fd: apply_saved(outer, paths[:1], fd, budget),
                    )
                    below = 1

                def fill(fd: int) -> None:
                    if below:
                        safetree.mirror_fd(str(cache / "chains" / chains[below - 1]), fd)
                    apply_saved(outer, paths[below:], fd, budget)
                    prepare_mount_points(fd)

                _build(final, fill)
        except UnsafeImage as exc:
            refused.write_text(str(exc))
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                archive.unlink()
    return str(final)


def _rename_unless_made(staging: Path, final: Path) -> None:
    """Rename ``staging`` into place; another process that made ``final`` first wins."""
    try:
        os.rename(staging, final)
    except OSError:
        if not final.is_dir():
            raise


def _chain_root(cache: Path, chain: str) -> bool:
    return (cache / "chains" / chain).is_dir()


def _build(final: Path, fill: Callable[[int], None]) -> None:
    """Make the tree ``final`` by ``fill`` in a staging directory renamed into place."""
    with _lock(f"build:{final}"):
        if final.is_dir():
            return
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
        try:
            with safetree.open_root(str(staging)) as staging_fd:
                fill(staging_fd)
            _rename_unless_made(staging, final)
        finally:
            if staging.exists():
                with (
                    contextlib.suppress(OSError),
                    safetree.open_root(str(staging.parent)) as parent,
                ):
                    safetree.remove(staging.name, parent)


def _save_to(path: Path, chunks: Iterable[bytes], limits: Limits) -> None:
    # The archive holds the layers once, as stored: bounded by the unpacked limit too.
    written = 0
    fd = os.open(path, _NEW_FILE_FLAGS, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            written += len(chunk)
            if written > limits.max_bytes:
                raise UnsafeImage(f"the image is larger than {limits.max_bytes} bytes")
            out.write(chunk)


# The platform's own programs inside an image's sandbox, at /.functory: an image may have
# no shell and no setpriv, so the host's are brought with their loader and libraries and
# run through that loader (``KIT_LOADER --library-path /.functory/lib PROGRAM``); what they
# exec then runs on the image's own libraries.
KIT_MOUNT = "/.functory"
KIT_PROGRAMS = ("/usr/bin/setpriv", "/usr/bin/bash")
_kit_lock = threading.Lock()


def kit_prefix(program: str) -> list[str]:
    """The argv prefix that runs the kit's ``program`` (``setpriv``, ``bash``) inside."""
    return [f"{KIT_MOUNT}/ld.so", "--library-path", f"{KIT_MOUNT}/lib", f"{KIT_MOUNT}/{program}"]


# Loader variables (LD_PRELOAD …) a function or its image set are never in the environment
# of a program that runs as root (bwrap, setpriv): the sandbox hands them over under this
# prefix, and the launch script, as the function's uid, gives them back.
HELD_PREFIX = "_FUNCTORY_HELD_"

# Run by the kit's bash in the image's environment, before the image's own program: the
# working directory and the entrypoint are checked as AWS checks them, and a missing one is
# reported to the Runtime API as AWS's init error (Runtime.InvalidWorkingDirectory,
# Runtime.InvalidEntrypoint), not as a bare exit. Arguments: the working directory, then
# the argv (entrypoint and command).
LAUNCH_SCRIPT = r"""
for v in "${!_FUNCTORY_HELD_@}"; do export "${v#_FUNCTORY_HELD_}=${!v}"; unset "$v"; done
report() {
  local LC_ALL=C message=${2//\\/\\\\}
  message=${message//\"/\\\"}
  local body="{\"errorMessage\":\"$message\",\"errorType\":\"$1\"}"
  local head="POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: 127.0.0.1\r\n"
  head+="Lambda-Runtime-Function-Error-Type: $1\r\nContent-Type: application/json\r\n"
  head+="Content-Length: ${#body}\r\nConnection: close\r\n\r\n"
  if exec 3<>/dev/tcp/127.0.0.1/9001; then
    printf '%b%s' "$head" "$body" >&3
    read -r -t 5 _ <&3
  fi
  echo "$2" >&2
  exit 1
}
missing="no such file or directory"
cd -- "$1" 2>/dev/null || report Runtime.InvalidWorkingDirectory "Error: chdir $1: $missing"
shift
[ "$#" -gt 0 ] || report Runtime.InvalidEntrypoint "Error: no entrypoint and no command"
command -v -- "$1" >/dev/null || report Runtime.InvalidEntrypoint "Error: fork/exec $1: $missing"
exec "$@"
"""


def launch_argv(workdir: str, command: tuple[str, ...] | list[str]) -> list[str]:
    """The argv that starts an image's program through ``LAUNCH_SCRIPT``."""
    return [*kit_prefix("bash"), "-c", LAUNCH_SCRIPT, "functory-launch", workdir, *command]


def _libraries(program: str) -> tuple[str, list[str]]:
    output = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    loader, libraries = "", []
    for line in output.splitlines():
        words = line.split()
        if "=>" in words and len(words) >= 3 and words[2].startswith("/"):
            libraries.append(words[2])
        elif words and words[0].startswith("/") and "ld-linux" in words[0]:
            loader = words[0]
    if not loader:
        raise OSError(f"no dynamic loader found for {program}")
    return loader, libraries


def kit_dir(state_dir: Path) -> str:
    """The kit's directory (made once per state directory)."""
    final = state_dir / "image-kit"
    with _kit_lock:
        if final.is_dir():
            return str(final)
        staging = Path(tempfile.mkdtemp(prefix=".image-kit-", dir=state_dir))
        try:
            (staging / "lib").mkdir()
            for program in KIT_PROGRAMS:
                loader, libraries = _libraries(program)
                shutil.copyfile(loader, staging / "ld.so")
                shutil.copyfile(program, staging / Path(program).name)
                for library in libraries:
                    shutil.copyfile(library, staging / "lib" / Path(library).name)
            for path in (staging / "ld.so", *(staging / Path(p).name for p in KIT_PROGRAMS)):
                os.chmod(path, 0o755)
            for path in (staging / "lib").iterdir():
                os.chmod(path, 0o644)
            os.chmod(staging / "lib", 0o755)
            os.chmod(staging, 0o755)
            _rename_unless_made(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone unless another kit won
    return str(final)
