from __future__ import annotations

from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"

    def ready(self) -> None:
        from triggers import logs_subscriptions

        # Subscription filters of log groups deliver through Invoke's asynchronous path.
        logs_subscriptions.install()
