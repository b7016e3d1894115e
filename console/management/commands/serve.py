"""``serve``: run the whole embedded profile in the foreground.

Applies migrations, creates a first admin user with an access key when the instance has
no users (printing the key once), then serves the console and APIs with uvicorn on
``HOST``/``PORT``.
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

from console.celery_worker import worker_command
from console.supervisor import Supervisor, worker_state_file
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
        self._bootstrap_admin()
        import uvicorn

        worker = self._start_worker(options["host"], options["port"])
        self.stdout.write(f"Functory listening on http://{options['host']}:{options['port']}")
        self.stdout.flush()
        try:
            uvicorn.run(
                "console.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                log_level=os.environ.get("UVICORN_LOG_LEVEL", "warning"),
                lifespan="off",
            )
        finally:
            if worker is not None:
                worker.stop()

    def _start_worker(self, host: str, port: int) -> Supervisor | None:
        """The embedded profile's Celery worker (with beat), on the serverless broker,
        supervised: restarted with back-off whenever it dies, its state on ``/healthz``.

        The scaled profile runs its workers as separate services instead.
        """
        if not settings.FUNCTORY_EMBEDDED_WORKER:
            return None
        supervisor = Supervisor(
            "worker",
            lambda: self._worker_process(host, port),
            worker_state_file(),
        )
        supervisor.start()
        return supervisor

    def _worker_process(self, host: str, port: int) -> subprocess.Popen[bytes]:
        schedule = Path(settings.DATA_DIR) / "celerybeat-schedule"
        return subprocess.Popen(
            worker_command(
                schedule,
                loglevel=os.environ.get("CELERY_LOG_LEVEL", "warning"),
                concurrency=int(os.environ.get("CELERY_CONCURRENCY", "1")),
            ),
            cwd=settings.BASE_DIR,
            # The worker's live log lines reach browsers through this server process, and its
            # asynchronous invocations run in this server's executor (one pool, one count).
            env={
                **os.environ,
                "FUNCTORY_LIVE_FORWARD_URL": f"http://{_local(host)}:{port}/_functory/internal/live",
                "FUNCTORY_EXECUTOR_URL": f"http://{_local(host)}:{port}/_functory/internal/invoke",
            },
            preexec_fn=_die_with_parent,
        )

    def _bootstrap_admin(self) -> None:
        with transaction.atomic():
            if User.objects.exists():
                return
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
        self.stdout.write(
            "Created the first admin user. This is shown once; keep it safe:\n"
            + json.dumps(
                {
                    "AccountId": account.id,
                    "UserName": user.username,
                    "Password": password,
                    "AccessKeyId": key.access_key_id,
                    "SecretAccessKey": key.secret_access_key,
                },
                indent=2,
            )
        )


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
