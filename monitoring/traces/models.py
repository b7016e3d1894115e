"""X-Ray trace segments, as the platform and functions' SDKs sent them (one row a document)."""

from __future__ import annotations

from django.db import models

from iam.models import Account


class TraceSegment(models.Model):
    """One segment document: a segment, or a subsegment sent on its own (``subsegment``),
    kept as received; traces and their summaries are assembled from these when read."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=35)
    segment_id = models.CharField(max_length=16)
    parent_id = models.CharField(max_length=16, blank=True)
    subsegment = models.BooleanField(default=False)
    name = models.CharField(max_length=200)
    origin = models.CharField(max_length=64, blank=True)
    start_time = models.FloatField()
    end_time = models.FloatField(null=True)
    error = models.BooleanField(default=False)
    fault = models.BooleanField(default=False)
    throttle = models.BooleanField(default=False)
    document = models.TextField()
    # The Lambda request id the platform's segments name (aws.request_id): the console finds
    # an invocation's trace by it.
    request_id = models.CharField(max_length=64, blank=True)
    received = models.FloatField()  # epoch seconds: retention counts from here

    class Meta:
        indexes = [
            models.Index(fields=["account", "trace_id"], name="trace_segment_trace"),
            models.Index(fields=["account", "start_time"], name="trace_segment_start"),
            models.Index(fields=["received"], name="trace_segment_received"),
            models.Index(fields=["account", "request_id"], name="trace_segment_request"),
        ]

    def __str__(self) -> str:
        return f"{self.trace_id}/{self.segment_id}"
