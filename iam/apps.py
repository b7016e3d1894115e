from __future__ import annotations

from django.apps import AppConfig


class IamConfig(AppConfig):
    name = "iam"
    verbose_name = "Accounts, users and access keys"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from iam.keycache import access_keys
        from iam.models import AccessKey, Role, TemporaryCredential, User

        # A changed or removed key or user must not be honoured from the cache.
        for model in (AccessKey, User):
            post_save.connect(access_keys.clear, sender=model, dispatch_uid=f"keys-{model}-s")
            post_delete.connect(access_keys.clear, sender=model, dispatch_uid=f"keys-{model}-d")
        # Removed sessions (or their role) too; new ones need no clearing: nothing cached
        # them yet.
        for removed in (TemporaryCredential, Role):
            post_delete.connect(access_keys.clear, sender=removed, dispatch_uid=f"keys-{removed}-d")
