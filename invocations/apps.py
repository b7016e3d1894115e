from __future__ import annotations

from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"

    def ready(self) -> None:
        from invocations import signals

        signals.connect()
