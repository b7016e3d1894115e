from __future__ import annotations

from django.apps import AppConfig


class IamConfig(AppConfig):
    name = "iam"
    verbose_name = "Accounts, users and access keys"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from iam.keycache import access_keys
        from iam.models import AccessKey, Role, User

        # A changed or removed key or user must not be honoured from the cache.
        for model in (AccessKey, User):
            post_save.connect(access_keys.clear, sender=model, dispatch_uid=f"keys-{model}-s")
            post_delete.connect(access_keys.clear, sender=model, dispatch_uid=f"keys-{model}-d")
        # A removed role ends its sessions at once. Sessions themselves are not watched: new
        # ones were never cached, expired ones are refused by their expiry wherever cached,
        # and STS removing a caller's expired rows must not flush every key (a tenant could
        # otherwise empty the hot path's cache at will).
        post_delete.connect(access_keys.clear, sender=Role, dispatch_uid="keys-role-d")

        from iam.access import revisions

        revisions.connect()
