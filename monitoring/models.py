"""Log groups, streams and events (CloudWatch Logs' data model)."""

from __future__ import annotations

from django.db import models

from iam.models import Account
from monitoring.metrics.alarms.models import MetricAlarm  # noqa: F401  (registers the alarms)
from monitoring.metrics.models import MetricPoint  # noqa: F401  (registers the metrics model)
from monitoring.traces.models import TraceSegment  # noqa: F401  (registers the traces model)


class LogGroup(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="log_groups")
    name = models.CharField(max_length=512)
    created = models.BigIntegerField()  # epoch ms, as the Logs API reports it
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="log_group_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class LogStream(models.Model):
    group = models.ForeignKey(LogGroup, on_delete=models.CASCADE, related_name="streams")
    name = models.CharField(max_length=512)
    created = models.BigIntegerField()
    first_event = models.BigIntegerField(null=True, blank=True)
    last_event = models.BigIntegerField(null=True, blank=True)
    last_ingestion = models.BigIntegerField(null=True, blank=True)
    stored_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="log_stream_unique_name")
        ]
        indexes = [models.Index(fields=["group", "-last_event"], name="stream_last_event")]

    def __str__(self) -> str:
        return self.name


class LogEvent(models.Model):
    """One log line. ``group`` is denormalised so group-wide scans need no join."""

    group = models.ForeignKey(LogGroup, on_delete=models.CASCADE, related_name="+")
    stream = models.ForeignKey(LogStream, on_delete=models.CASCADE, related_name="events")
    timestamp = models.BigIntegerField()
    ingestion_time = models.BigIntegerField()
    message = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["group", "timestamp", "id"], name="event_group_time"),
            models.Index(fields=["stream", "timestamp", "id"], name="event_stream_time"),
        ]

    def __str__(self) -> str:
        return self.message[:80]


class LogSearchBlock(models.Model):
    """Up to a few dozen consecutive events of one stored batch, their messages joined: the
    unit the text search index (SQLite FTS5 trigram / PostgreSQL pg_trgm, see
    ``monitoring.search``) points at. Indexing blocks instead of events keeps ingest cheap;
    a search reads only the events of the blocks whose text matches."""

    group = models.ForeignKey(LogGroup, on_delete=models.CASCADE, related_name="+")
    stream = models.ForeignKey(LogStream, on_delete=models.CASCADE, related_name="+")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    min_timestamp = models.BigIntegerField()
    max_timestamp = models.BigIntegerField()
    text = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["group", "max_timestamp"], name="search_block_group")]

    def __str__(self) -> str:
        return f"{self.first_id}..{self.last_id}"


class LogFilter(models.Model):
    """A metric filter or a subscription filter of a log group.

    One table for both kinds so the ingest path loads every filter of a group in one query
    (:mod:`monitoring.log_filters`). ``spec`` holds what the kind needs: the metric
    transformations, or the destination ARN, role ARN and distribution.
    """

    class Kind(models.TextChoices):
        METRIC = "metric"
        SUBSCRIPTION = "subscription"

    group = models.ForeignKey(LogGroup, on_delete=models.CASCADE, related_name="filters")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=512)
    pattern = models.CharField(max_length=1024, blank=True)
    spec = models.JSONField(default=dict)
    created = models.BigIntegerField()  # epoch ms

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "kind", "name"], name="log_filter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class LogQuery(models.Model):
    """A Logs Insights query (StartQuery): its request, where it stands and, once finished,
    its rendered results. Kept in the database so any web process answers GetQueryResults
    and StopQuery for a query another process runs."""

    SCHEDULED, RUNNING, COMPLETE = "Scheduled", "Running", "Complete"
    FAILED, CANCELLED, TIMEOUT = "Failed", "Cancelled", "Timeout"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    query_id = models.CharField(max_length=64, unique=True)
    query_string = models.TextField()
    group_ids = models.JSONField(default=list)
    group_names = models.JSONField(default=list)
    start_time = models.BigIntegerField()  # epoch seconds, as the request gave them
    end_time = models.BigIntegerField()
    limit = models.PositiveIntegerField()
    status = models.CharField(max_length=16, default=SCHEDULED)
    created = models.BigIntegerField()  # epoch ms
    deadline = models.BigIntegerField()  # epoch ms: still running then means timed out
    finished = models.BigIntegerField(null=True, blank=True)
    results = models.JSONField(default=list)
    records_matched = models.BigIntegerField(default=0)
    records_scanned = models.BigIntegerField(default=0)
    bytes_scanned = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["account", "status"], name="log_query_account_status"),
            models.Index(fields=["created"], name="log_query_created"),
        ]

    def __str__(self) -> str:
        return self.query_id
