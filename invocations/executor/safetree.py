"""Write and copy tenant-supplied trees without ever following a link inside them.

Function code and layers are extracted (and layers merged) as root into the code cache, and
the cached trees are hard-linked into standby sandboxes. Everything below the target root is
tenant-made: a package may hold links, and one layer's link may sit exactly where a later
layer's entry expects a directory. Path-string operations would follow such links out of the
cache (layer A ``a/up -> ..`` plus layer B ``a/up/a/up/z -> ../../../..`` and ``z/FILE``
writes FILE anywhere on the host). So every path component is opened relative to its parent's
file descriptor with ``O_NOFOLLOW``: a link is only ever created, read or unlinked, never
followed. Links stay links in the tree; the runtime follows them inside its sandbox, where they
cannot reach the host. Where a later entry needs a directory and finds a link (or a file), the
link is replaced by a directory, and a directory a later entry replaces is removed through
descriptors too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import zipfile
from collections.abc import Iterator

# No legitimate package nests this deep; bounding it bounds recursion and open descriptors.
MAX_DEPTH = 128
_LINK_TARGET_LIMIT = 4096
_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeTree(ValueError):
    """The archive or tree cannot be written safely (too deep, too large, malformed)."""


def entry_parts(name: str) -> list[str]:
    """A zip entry's path components; empty when the name is unusable (absolute, ``..``)."""
    if "\x00" in name:
        return []
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        return []
    return parts


@contextlib.contextmanager
def open_root(path: str) -> Iterator[int]:
    """A descriptor for ``path``, a directory the platform made (its last component must
    not be a link)."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _open_dir(name: str, dir_fd: int) -> int:
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def remove(name: str, dir_fd: int, *, depth: int = 0) -> None:
    """Remove ``name`` under ``dir_fd`` (a whole tree if it is a directory); links are
    unlinked, never followed. Missing is fine."""
    status = _lstat(name, dir_fd)
    if status is None:
        return
    if not stat.S_ISDIR(status.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    if depth > MAX_DEPTH:
        raise UnsafeTree("tree too deep to remove")
    fd = _open_dir(name, dir_fd)
    try:
        for child in os.listdir(fd):
            remove(child, fd, depth=depth + 1)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def ensure_dir(name: str, dir_fd: int) -> int:
    """Open directory ``name`` under ``dir_fd``, making it, and replacing a link or file
    found there. The caller closes the descriptor."""
    status = _lstat(name, dir_fd)
    if status is not None and not stat.S_ISDIR(status.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        status = None
    if status is None:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
    # O_NOFOLLOW: if anything swapped a link in meanwhile, this fails instead of following.
    fd = _open_dir(name, dir_fd)
    os.fchmod(fd, 0o755)
    return fd


def _walk_to(root_fd: int, parts: list[str]) -> int:
    """A new descriptor for the directory ``parts`` under ``root_fd``, making what is missing."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            child = ensure_dir(part, fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def walk_to(root_fd: int, parts: list[str]) -> int:
    """A new descriptor for the directory ``parts`` under ``root_fd``, made where missing
    (a link or file in the way is replaced by a directory, never followed)."""
    return _walk_to(root_fd, parts)


def _is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _file_mode(info: zipfile.ZipInfo) -> int:
    # Only the executable bit survives: no setuid/setgid/sticky, nothing group/world-writable.
    executable = info.create_system == 3 and (info.external_attr >> 16) & 0o111
    return 0o755 if executable else 0o644


def extract(archive: zipfile.ZipFile, root_fd: int, *, limit: int) -> int:
    """Extract ``archive`` over the tree at ``root_fd`` (a later archive's entries replace an
    earlier one's). Writes at most ``limit`` bytes of file content; returns how many."""
    written = 0
    for info in archive.infolist():
        parts = entry_parts(info.filename)
        if not parts:
            continue
        if len(parts) > MAX_DEPTH:
            raise UnsafeTree(f"entry '{info.filename}' is nested too deeply")
        if info.is_dir() and not _is_link(info):
            os.close(_walk_to(root_fd, parts))
            continue
        parent = _walk_to(root_fd, parts[:-1])
        try:
            name = parts[-1]
            remove(name, parent)
            if _is_link(info):
                if info.file_size > _LINK_TARGET_LIMIT:
                    raise UnsafeTree(f"link '{info.filename}' is too long")
                target = archive.read(info).decode("utf-8", "replace")
                if target and "\x00" not in target:
                    os.symlink(target, name, dir_fd=parent)
                continue
            written += _write_file(archive, info, name, parent, limit - written)
        finally:
            os.close(parent)
    os.fchmod(root_fd, 0o755)
    return written


def _write_file(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, dir_fd: int, budget: int
) -> int:
    mode = _file_mode(info)
    fd = os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=dir_fd)
    written = 0
    try:
        with archive.open(info) as source:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > budget or written > info.file_size:
                    raise UnsafeTree(f"entry '{info.filename}' is larger than declared")
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)  # the umask may have narrowed it
    finally:
        os.close(fd)
    return written


def mirror(source: str, target: str) -> None:
    """Reproduce the tree at ``source`` inside the existing directory ``target``: hard links
    for files (copies across file systems), links recreated as links, directories made.
    Nothing is followed on either side; other file types are skipped."""
    with open_root(source) as source_fd, open_root(target) as target_fd:
        os.fchmod(target_fd, 0o755)
        _mirror(source_fd, target_fd, 0)


def mirror_fd(source: str, target_fd: int) -> None:
    """``mirror`` into the directory open at ``target_fd``."""
    os.fchmod(target_fd, 0o755)
    with open_root(source) as source_fd:
        _mirror(source_fd, target_fd, 0)


def _mirror(source_fd: int, target_fd: int, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnsafeTree("tree too deep to mirror")
    for name in os.listdir(source_fd):
        status = _lstat(name, source_fd)
        if status is None:
            continue
        if stat.S_ISDIR(status.st_mode):
            child_source = _open_dir(name, source_fd)
            try:
                child_target = ensure_dir(name, target_fd)
                try:
                    _mirror(child_source, child_target, depth + 1)
                finally:
                    os.close(child_target)
            finally:
                os.close(child_source)
        elif stat.S_ISLNK(status.st_mode):
            remove(name, target_fd)
            os.symlink(os.readlink(name, dir_fd=source_fd), name, dir_fd=target_fd)
        elif stat.S_ISREG(status.st_mode):
            remove(name, target_fd)
            _link_or_copy(name, source_fd, target_fd, status)


def _link_or_copy(name: str, source_fd: int, target_fd: int, status: os.stat_result) -> None:
    try:
        os.link(name, name, src_dir_fd=source_fd, dst_dir_fd=target_fd, follow_symlinks=False)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    mode = 0o755 if status.st_mode & 0o111 else 0o644
    reader = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=source_fd)
    try:
        writer = os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=target_fd)
        try:
            while chunk := os.read(reader, _CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(writer, view) :]
            os.fchmod(writer, mode)
        finally:
            os.close(writer)
    finally:
        os.close(reader)
