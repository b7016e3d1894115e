"""``createuser NAME [--admin] [--password P] [--account ID] --access-key``.

Prints one JSON object ``{"AccountId", "UserName", "AccessKeyId", "SecretAccessKey"}``;
tooling depends on exactly this contract.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from iam import services


class Command(BaseCommand):
    help = "Create a user (and its account if needed), optionally with an access key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--admin", action="store_true")
        parser.add_argument("--password")
        parser.add_argument("--account", help="12-digit account id (created if missing)")
        parser.add_argument("--access-key", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        account_id = options["account"]
        try:
            with transaction.atomic():
                account = services.account_get_or_create(account_id)
                user = services.user_create(
                    username=options["name"],
                    account=account,
                    password=options["password"],
                    is_admin=options["admin"],
                )
                result: dict[str, str] = {"AccountId": account.id, "UserName": user.username}
                if options["access_key"]:
                    key = services.access_key_create(user=user)
                    result["AccessKeyId"] = key.access_key_id
                    result["SecretAccessKey"] = key.secret_access_key
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(json.dumps(result))
