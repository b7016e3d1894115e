from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Functory console and accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from console.keycache import access_keys
        from console.models import AccessKey, User

        # A changed or removed key or user must not be honoured from the cache.
        for model in (AccessKey, User):
            post_save.connect(access_keys.clear, sender=model, dispatch_uid=f"keys-{model}-s")
            post_delete.connect(access_keys.clear, sender=model, dispatch_uid=f"keys-{model}-d")
