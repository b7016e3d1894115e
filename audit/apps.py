from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Every AWS API shell reports to awsapi.observe; console sign-ins come as Django's
        # auth signals. Registered here so that awsapi and iam know nothing of this app.
        from audit import capture
        from awsapi import observe

        observe.register(capture.api_call)
        capture.connect_sign_in_signals()
