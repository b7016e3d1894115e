from __future__ import annotations

from collections.abc import Mapping

from django.apps import AppConfig


def _log_group_tags(account_id: str, rest: str) -> Mapping[str, str] | None:
    """A log group's tags for ``aws:ResourceTag/…``; ``rest`` is ``NAME:log-stream:…``
    (group names hold no colon)."""
    from monitoring.models import LogGroup

    tags = (
        LogGroup.objects.filter(account_id=account_id, name=rest.split(":", 1)[0])
        .values_list("tags", flat=True)
        .first()
    )
    return tags or None


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from iam.access import resources
        from monitoring import revocation
        from monitoring.metrics.alarms import selectors

        revocation.connect()
        resources.register_tags("logs:log-group", _log_group_tags)
        # aws:ResourceTag/<key> of alarms, for the policies that ask.
        resources.register_tags("cloudwatch:alarm", selectors.alarm_tags)
