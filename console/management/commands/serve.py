"""``serve``: run the whole embedded profile in the foreground.

Applies migrations, creates a first admin user with an access key when the instance has
no users (printing the key once), then serves the console and APIs with uvicorn on
``HOST``/``PORT``. It prints one line per component it starts, then the first admin's
credentials and the URL last, where the eye lands.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from console import startup
from console.celery_worker import worker_command
from console.supervisor import Supervisor, worker_state_file
from console.worker_user import (
    WorkerUser,
    blocked_folder,
    hold_wal_files,
    needed_paths,
    share_data_dir,
    worker_user,
)
from iam import services
from iam.models import User


class Command(BaseCommand):
    help = "Migrate, bootstrap the first admin, and serve Functory (console + APIs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1"))
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        credentials = self._bootstrap_admin()
        import uvicorn

        host, port, workers = options["host"], options["port"], options["workers"]
        processes = "process" if workers == 1 else "processes"
        self._say(f"server: uvicorn on {host}:{port}, {workers} {processes}")
        # Where functions reach this server's public API (invocations/executor/egress.py);
        # the worker, started below, inherits it.
        os.environ.setdefault("FUNCTORY_FUNCTION_API_ADDRESS", f"{_local(host)}:{port}")
        worker = self._start_worker(host, port)
        if credentials:
            self._say(credentials)
        self._say(f"Functory listening on http://{host}:{port}")
        try:
            uvicorn.run(
                "console.asgi:application",
                host=host,
                port=port,
                workers=workers,
                log_level=os.environ.get("UVICORN_LOG_LEVEL", "warning"),
                # The lifespan starts and stops the event source pollers (console/asgi.py).
                lifespan="on",
                # uvicorn's httptools protocol, with bounds on a request's head.
                http="console.http_protocol:BoundedHttpToolsProtocol",
            )
        finally:
            if worker is not None:
                worker.stop()

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _start_worker(self, host: str, port: int) -> Supervisor | None:
        """The embedded profile's Celery worker (with beat), on the serverless broker,
        supervised: restarted with back-off whenever it dies, its state on ``/healthz``.

        The scaled profile runs its workers as separate services instead.
        """
        if not settings.FUNCTORY_EMBEDDED_WORKER:
            self._say("worker, beat: not started here (FUNCTORY_EMBEDDED_WORKER is off)")
            return None
        user = self._worker_user()
        supervisor = Supervisor(
            "worker",
            lambda: self._worker_process(host, port, user),
            worker_state_file(),
        )
        supervisor.start()
        who = f"as {user.name}" if user is not None else "as this user"
        self._say(f"worker: Celery, supervised, {who}")
        self._say("beat: in the worker's process")
        return supervisor

    def _worker_user(self) -> WorkerUser | None:
        """Who the worker runs as when this server runs as root: a user without privileges
        (console/worker_user.py), unless that user cannot reach the code or the data dir,
        which is said (Celery then warns about running as root, rightly)."""
        try:
            user = worker_user()
        except KeyError as exc:
            raise CommandError(
                f"FUNCTORY_WORKER_USER={os.environ.get('FUNCTORY_WORKER_USER')!r}: no such user"
            ) from exc
        if user is None:
            return None
        data_dir = Path(settings.DATA_DIR)
        blocked = blocked_folder(user, needed_paths(Path(settings.BASE_DIR), data_dir))
        if blocked is not None:
            self.stderr.write(
                f"worker: runs as root, since {user.name} cannot enter {blocked} "
                "(set FUNCTORY_WORKER_USER, or move the code or FUNCTORY_DATA_DIR)"
            )
            return None
        database = settings.DATABASES["default"]
        sqlite = database["ENGINE"] == "django.db.backends.sqlite3"
        filesystem_broker = settings.CELERY_BROKER_URL == startup.FILESYSTEM_BROKER
        share_data_dir(
            user,
            data_dir,
            database=Path(database["NAME"]) if sqlite else None,
            broker=startup.broker_dir() if filesystem_broker else None,
            beat=_beat_dir(),
        )
        if sqlite:
            # For this process's life (the worker's too: it dies with this process).
            self._wal_holder = hold_wal_files(Path(database["NAME"]))
        return user

    def _worker_process(
        self, host: str, port: int, user: WorkerUser | None
    ) -> subprocess.Popen[bytes]:
        schedule = _beat_dir() / "celerybeat-schedule"
        environment = {
            **os.environ,
            "FUNCTORY_LIVE_FORWARD_URL": f"http://{_local(host)}:{port}/_functory/internal/live",
            "FUNCTORY_EXECUTOR_URL": f"http://{_local(host)}:{port}/_functory/internal/invoke",
        }
        return subprocess.Popen(
            worker_command(
                schedule,
                loglevel=os.environ.get("CELERY_LOG_LEVEL", "warning"),
                concurrency=int(os.environ.get("CELERY_CONCURRENCY", "1")),
                quiet=True,
            ),
            cwd=settings.BASE_DIR,
            # The worker's live log lines reach browsers through this server process, and its
            # asynchronous invocations run in this server's executor (one pool, one count).
            env=environment,
            # Credentials change before preexec_fn runs (which matters: a change of uid
            # clears the parent-death signal).
            user=user.uid if user is not None else None,
            group=user.gid if user is not None else None,
            extra_groups=[] if user is not None else None,
            preexec_fn=_die_with_parent,
        )

    def _bootstrap_admin(self) -> str:
        """Create the first admin when there is no user; what to print about it (once)."""
        with transaction.atomic():
            if User.objects.exists():
                return ""
            password = os.environ.get("FUNCTORY_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            account = services.account_get_or_create(os.environ.get("FUNCTORY_ADMIN_ACCOUNT"))
            try:
                user = services.user_create(
                    username="admin", account=account, password=password, is_admin=True
                )
            except ValidationError as exc:
                raise CommandError(
                    "FUNCTORY_ADMIN_PASSWORD is refused: " + " ".join(exc.messages)
                ) from exc
            key = services.access_key_create(user=user)
        return "Created the first admin user. This is shown once; keep it safe:\n" + json.dumps(
            {
                "AccountId": account.id,
                "UserName": user.username,
                "Password": password,
                "AccessKeyId": key.access_key_id,
                "SecretAccessKey": key.secret_access_key,
            },
            indent=2,
        )


def _beat_dir() -> Path:
    """Beat's schedule files: a folder of their own, which the worker may own."""
    folder = Path(settings.DATA_DIR) / "beat"
    folder.mkdir(exist_ok=True)
    return folder


def _die_with_parent() -> None:
    """In the worker child: receive SIGTERM when the server process dies, however it dies."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _local(host: str) -> str:
    """An address of this server reachable from the same machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
