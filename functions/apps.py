from __future__ import annotations

from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"

    def ready(self) -> None:
        from functions import resource_policies

        resource_policies.connect()
