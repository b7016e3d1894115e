from __future__ import annotations

from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"

    def ready(self) -> None:
        from triggers import alarm_actions, logs_subscriptions

        # Subscription filters of log groups deliver through Invoke's asynchronous path.
        logs_subscriptions.install()
        # CloudWatch alarms (in monitoring, below) run their Lambda actions through this.
        alarm_actions.install()
