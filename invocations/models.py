"""Asynchronous invocations (InvocationType Event, InvokeAsync), kept until they are done.

A row is the event and its state; Celery only carries its id. A worker claims the row with
a conditional UPDATE that sets a lease (``claimed_until``); a killed worker's lease expires
and the sweeper hands the event out again, so an accepted event runs at least once.
"""

from __future__ import annotations

from django.db import models

from iam.models import Account


class AsyncInvocation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        RETRYING = "retrying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="async_invocations")
    # The function's name and the qualifier as invoked ('' when unqualified).
    function_name = models.CharField(max_length=64)
    qualifier = models.CharField(max_length=128, blank=True)
    payload = models.BinaryField()
    client_context = models.TextField(blank=True)
    # The X-Ray trace header the event was accepted with (``Root=...;Parent=...;Sampled=...``):
    # its attempts continue that trace.
    trace_header = models.CharField(max_length=256, blank=True, default="")
    request_id = models.CharField(max_length=36, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Every run of the function (also those that ended in a system error) ...
    attempts = models.PositiveIntegerField(default=0)
    # ... and those that ended in a function error (these count against MaximumRetryAttempts).
    function_errors = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    executed_version = models.CharField(max_length=16, blank=True)
    # The last attempt's outcome, as the dead-letter message and destination record give it:
    # the HTTP status (200 for a function error), the function error type and its response.
    error_code = models.PositiveSmallIntegerField(null=True, blank=True)
    function_error = models.CharField(max_length=64, blank=True)
    response_payload = models.BinaryField(null=True, blank=True)
    # Why the event ended: Success, RetriesExhausted or EventAgeExceeded (AWS's conditions).
    condition = models.CharField(max_length=24, blank=True)
    # Records still to send once the event ended ([{"kind": "dlq"|"destination", "arn"}]);
    # ``delivery_pending`` marks them for the sweeper while ``claimed_until`` leases them.
    deliveries = models.JSONField(default=list, blank=True)
    delivery_pending = models.BooleanField(default=False)
    delivery_errors = models.JSONField(default=list, blank=True)
    created = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="async_inv_due"),
            models.Index(fields=["account", "status"], name="async_inv_account_status"),
            models.Index(fields=["delivery_pending", "claimed_until"], name="async_inv_delivery"),
            models.Index(fields=["finished"], name="async_inv_finished"),
        ]
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.status})"
