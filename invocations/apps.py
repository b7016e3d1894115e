from __future__ import annotations

from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"
