"""What Functory needs on disk before Django starts, created in one step: ``prepare()``.

Importing the settings only computes values (a tool, a test or a second process can read
them without touching the disk); each entry point calls ``prepare()`` before Django reads
its settings: ``manage.py``, the ASGI module (uvicorn, daphne), the Celery app when it is
first configured (worker, beat), and the test settings. No Django import here, for that
reason; the settings take their paths from these functions so both agree.

The secret key: ``DJANGO_SECRET_KEY``, else a random key generated once per data dir by
``prepare()``. Settings read that file and never create it: imported before ``prepare()``
ran they get an empty key, which Django refuses at its first use with a clear error
("The SECRET_KEY setting must not be empty") instead of signing with a made-up one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FILESYSTEM_BROKER = "filesystem://"


def data_dir() -> Path:
    return Path(os.environ.get("FUNCTORY_DATA_DIR", BASE_DIR / "data")).resolve()


def static_root() -> Path:
    return data_dir() / "static"


def broker_url() -> str:
    """The Celery broker: ``CELERY_BROKER_URL``, else Redis, else the embedded folders."""
    redis_url = os.environ.get("REDIS_URL", "")
    return os.environ.get("CELERY_BROKER_URL", "") or redis_url or FILESYSTEM_BROKER


def broker_dir() -> Path:
    """The embedded broker's folders (used when ``broker_url()`` is the filesystem one)."""
    return data_dir() / "broker"


def secret_key_file() -> Path:
    return data_dir() / "secret_key"


def secret_key() -> str:
    """``DJANGO_SECRET_KEY``, else the data dir's key file; "" while there is none yet."""
    configured = os.environ.get("DJANGO_SECRET_KEY")
    if configured:
        return configured
    try:
        return secret_key_file().read_text().strip()
    except FileNotFoundError:
        return ""


def prepare() -> None:
    """Create the data dir, the secret key file and the embedded broker's folders.

    Idempotent and safe for processes starting side by side (the server and its worker).
    """
    data = data_dir()
    data.mkdir(parents=True, exist_ok=True)
    # WhiteNoise warns about a STATIC_ROOT that does not exist.
    static_root().mkdir(exist_ok=True)
    if not os.environ.get("DJANGO_SECRET_KEY"):
        _create_secret_key(secret_key_file())
    if broker_url() == FILESYSTEM_BROKER:
        # control too (kombu would make it on demand): all three exist before `serve` hands
        # them to its worker's user.
        for folder in ("out", "processed", "control"):
            (broker_dir() / folder).mkdir(parents=True, exist_ok=True)


def _create_secret_key(path: Path) -> None:
    """A random key, written under another name and linked into place: a process starting
    at the same moment reads the whole key or finds none, never half of one."""
    if path.exists():
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
        # link() fails on an existing name: the first process's key wins.
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        partial.unlink()
