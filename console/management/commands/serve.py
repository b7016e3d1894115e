"""``serve``: run the whole embedded profile in the foreground.

Applies migrations, creates a first admin user with an access key when the instance has
no users (printing the key once), then serves the console and APIs with uvicorn on
``HOST``/``PORT``.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from console import services
from console.models import User


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

        self.stdout.write(f"Functory listening on http://{options['host']}:{options['port']}")
        self.stdout.flush()
        uvicorn.run(
            "console.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            log_level=os.environ.get("UVICORN_LOG_LEVEL", "warning"),
            lifespan="off",
        )

    def _bootstrap_admin(self) -> None:
        with transaction.atomic():
            if User.objects.exists():
                return
            password = os.environ.get("FUNCTORY_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            account = services.account_get_or_create(os.environ.get("FUNCTORY_ADMIN_ACCOUNT"))
            user = services.user_create(
                username="admin", account=account, password=password, is_admin=True
            )
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
