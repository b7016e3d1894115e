from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from iam.access import resources
        from monitoring import revocation
        from monitoring.metrics.alarms import selectors

        revocation.connect()
        # aws:ResourceTag/<key> of alarms, for the policies that ask.
        resources.register_tags("cloudwatch:alarm", selectors.alarm_tags)
