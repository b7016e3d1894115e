from __future__ import annotations

from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"

    def ready(self) -> None:
        # The tasks register themselves on import; services queue them by name.
        from invocations import signals, tasks  # noqa: F401

        signals.connect()
