"""A deployment package as editable text files (the console's code editor), and back.

Packages the editor cannot hold (too large unzipped, or with binary files) are described
with the reason instead, so the page can offer a download.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from awsapi.errors import InvalidParameterValue

EDITOR_LIMIT = 3 * 1024 * 1024
MAX_FILES = 500
REGULAR = 0o644
EXECUTABLE = 0o755


@dataclass(frozen=True)
class EditableFile:
    path: str
    content: str
    mode: int = REGULAR


@dataclass
class EditablePackage:
    files: list[EditableFile] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    # Why the editor cannot show this package, or "" when it can.
    reason: str = ""


def read(data: bytes) -> EditablePackage:
    """The text files of a (validated) zip, or the reason the editor cannot hold them."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        total = sum(info.file_size for info in infos)
        if total > EDITOR_LIMIT:
            return EditablePackage(
                reason=f"The deployment package is {total:,} bytes unzipped, larger than the "
                f"editor's limit of {EDITOR_LIMIT:,} bytes."
            )
        if len(infos) > MAX_FILES:
            return EditablePackage(
                reason=f"The deployment package has {len(infos)} entries; the editor shows at "
                f"most {MAX_FILES}."
            )
        package = EditablePackage()
        for info in infos:
            name = info.filename
            if info.is_dir():
                package.folders.append(name.rstrip("/"))
                continue
            raw = archive.read(info)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = "\x00"
            if "\x00" in text:
                return EditablePackage(
                    reason=f"The deployment package contains a binary file ({name}), which the "
                    "editor cannot show."
                )
            mode = (info.external_attr >> 16) & 0o777
            executable = info.create_system == 3 and bool(mode & stat.S_IXUSR)
            package.files.append(EditableFile(name, text, EXECUTABLE if executable else REGULAR))
        return package


def check_path(path: str) -> str:
    parts = path.split("/")
    if (
        not path
        or len(path) > 512
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidParameterValue(f"Invalid file path: {path!r}")
    return path


def build(files: Mapping[str, tuple[str | bytes, int]], folders: list[str] | None = None) -> bytes:
    """A deployment package from ``{path: (content, mode)}``; modes survive for the sandbox."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in sorted(set(folders or [])):
            info = zipfile.ZipInfo(folder.rstrip("/") + "/", date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o040755 << 16) | 0x10
            archive.writestr(info, b"")
        for path, (content, mode) in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o100000 | (mode & 0o777)) << 16
            archive.writestr(info, content)
    return buffer.getvalue()
