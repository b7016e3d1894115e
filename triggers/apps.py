from __future__ import annotations

from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"

    def ready(self) -> None:
        # CloudWatch alarms (in monitoring, below) run their Lambda actions through this.
        from triggers import alarm_actions

        alarm_actions.install()
