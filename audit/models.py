"""Audit events: one row per recorded API call or console action, CloudTrail-style."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """A recorded call. ``record`` is the whole event as CloudTrail's JSON (LookupEvents'
    ``CloudTrailEvent``); the other columns repeat what the lookups filter on.

    ``account_id`` is the recipient account (``recipientAccountId``): the account whose
    admins may read the event; empty when no account could be told (an unknown access key,
    an unknown user name at sign-in): such events are for the operator only. ``count`` is
    above 1 for an aggregated row of unauthenticated calls (see ``audit.recorder``).
    """

    event_id = models.UUIDField(unique=True)
    event_time = models.DateTimeField()
    account_id = models.CharField(max_length=12, blank=True)
    event_source = models.CharField(max_length=64)
    event_name = models.CharField(max_length=128)
    read_only = models.BooleanField()
    username = models.CharField(max_length=200, blank=True)
    access_key_id = models.CharField(max_length=128, blank=True)
    resource_type = models.CharField(max_length=64, blank=True)
    resource_name = models.CharField(max_length=256, blank=True)
    error_code = models.CharField(max_length=128, blank=True)
    # Refused for who the caller is (authentication or authorization), not for the input.
    denied = models.BooleanField(default=False)
    source_ip = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField(default=1)
    record = models.TextField()

    class Meta:
        indexes = [
            # Newest first within an account: LookupEvents without attributes, the page.
            models.Index(fields=["account_id", "-event_time", "-id"], name="audit_account_time"),
            models.Index(
                fields=["account_id", "event_name", "-event_time"], name="audit_event_name"
            ),
            models.Index(fields=["account_id", "username", "-event_time"], name="audit_username"),
            models.Index(
                fields=["account_id", "access_key_id", "-event_time"], name="audit_access_key"
            ),
            models.Index(
                fields=["account_id", "resource_name", "-event_time"], name="audit_resource"
            ),
            models.Index(fields=["account_id", "event_source", "-event_time"], name="audit_source"),
            # Retention deletes by age across accounts.
            models.Index(fields=["event_time"], name="audit_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_source} {self.event_name} {self.event_time:%Y-%m-%dT%H:%M:%SZ}"
