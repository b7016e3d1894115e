"""Stored metric points: one row per (account, function, qualifier, resolution, period start).

``function_name == ""`` is the account-wide series and ``qualifier == ""`` the whole
function (every version and alias); otherwise ``qualifier`` is the version or alias named
in the invocation (AWS's ``Resource`` dimension). Rows are written by additive upserts
(see ``services.points_store``), so several processes may flush into the same minute.
"""

from __future__ import annotations

from django.db import models

from iam.models import Account


class MetricPoint(models.Model):
    class Resolution(models.IntegerChoices):
        MINUTE = 60
        FIVE_MINUTES = 300
        HOUR = 3600

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    function_name = models.CharField(max_length=64, blank=True)
    qualifier = models.CharField(max_length=128, blank=True)
    resolution = models.PositiveIntegerField(choices=Resolution.choices)
    timestamp = models.BigIntegerField()  # epoch seconds, a multiple of ``resolution``

    invocations = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    throttles = models.BigIntegerField(default=0)
    cold_starts = models.BigIntegerField(default=0)
    dead_letter_errors = models.BigIntegerField(default=0)
    destination_delivery_failures = models.BigIntegerField(default=0)
    async_events_received = models.BigIntegerField(default=0)
    async_events_dropped = models.BigIntegerField(default=0)
    # Function URL requests, and those answered with a 4XX or 5XX status.
    url_requests = models.BigIntegerField(default=0)
    url_4xx = models.BigIntegerField(default=0)
    url_5xx = models.BigIntegerField(default=0)
    concurrency_max = models.IntegerField(default=0)

    # Milliseconds. ``duration_sketch`` is a QuantileSketch as JSON.
    duration_count = models.BigIntegerField(default=0)
    duration_sum = models.FloatField(default=0.0)
    duration_min = models.FloatField(null=True, blank=True)
    duration_max = models.FloatField(null=True, blank=True)
    duration_sketch = models.TextField(default="{}")

    init_count = models.BigIntegerField(default=0)
    init_sum = models.FloatField(default=0.0)
    init_min = models.FloatField(null=True, blank=True)
    init_max = models.FloatField(null=True, blank=True)

    iterator_age_count = models.BigIntegerField(default=0)
    iterator_age_sum = models.FloatField(default=0.0)
    iterator_age_min = models.FloatField(null=True, blank=True)
    iterator_age_max = models.FloatField(null=True, blank=True)

    async_event_age_count = models.BigIntegerField(default=0)
    async_event_age_sum = models.FloatField(default=0.0)
    async_event_age_min = models.FloatField(null=True, blank=True)
    async_event_age_max = models.FloatField(null=True, blank=True)

    url_latency_count = models.BigIntegerField(default=0)
    url_latency_sum = models.FloatField(default=0.0)
    url_latency_min = models.FloatField(null=True, blank=True)
    url_latency_max = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "function_name", "qualifier", "resolution", "timestamp"],
                name="metric_point_unique",
            )
        ]
        # Retention and rollups scan one resolution by time, across accounts.
        indexes = [models.Index(fields=["resolution", "timestamp"], name="metric_point_time")]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.function_name}:{self.qualifier}@{self.timestamp}"


class CounterPoint(models.Model):
    """One counter of a series other than a function's, in one period: an event source
    mapping's event counts (``AWS/Lambda``, dimension ``EventSourceMappingUUID``) and an
    EventBridge rule's (``AWS/Events``, dimension ``RuleName``). One row per metric keeps
    each new series a matter of names, not columns. Written by additive upserts as
    :class:`MetricPoint` is; rolled up and expired with it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    namespace = models.CharField(max_length=32)
    dimension = models.CharField(max_length=32)
    series = models.CharField(max_length=256)  # the dimension's value
    metric = models.CharField(max_length=64)
    resolution = models.PositiveIntegerField(choices=MetricPoint.Resolution.choices)
    timestamp = models.BigIntegerField()  # epoch seconds, a multiple of ``resolution``
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "account",
                    "namespace",
                    "dimension",
                    "series",
                    "metric",
                    "resolution",
                    "timestamp",
                ],
                name="counter_point_unique",
            )
        ]
        indexes = [models.Index(fields=["resolution", "timestamp"], name="counter_point_time")]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.namespace}/{self.series}/{self.metric}@{self.timestamp}"


class CustomMetric(models.Model):
    """One series of a custom namespace an account published with PutMetricData: a
    (namespace, metric name, dimension set). ``dimensions`` is canonical JSON (pairs sorted
    by name) and ``key`` its digest with the names, so a series is found by one indexed
    lookup. ``last_timestamp`` (the newest datapoint's minute) answers ListMetrics' two
    weeks and ``last_received`` (when data last arrived) its ``RecentlyActive``."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    namespace = models.CharField(max_length=255)
    metric_name = models.CharField(max_length=255)
    dimensions = models.TextField(default="[]")
    last_timestamp = models.BigIntegerField()
    last_received = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="custom_metric_unique")
        ]
        indexes = [
            models.Index(fields=["account", "namespace", "metric_name"], name="custom_metric_name"),
            models.Index(fields=["last_timestamp"], name="custom_metric_last"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.namespace}/{self.metric_name}{self.dimensions}"


class CustomPoint(models.Model):
    """What one custom series received in one period with one unit: count, sum, minimum,
    maximum and a quantile sketch (JSON) of the values it could sketch. ``sketched`` below
    ``sample_count`` means some samples came as statistic sets or were negative, and then
    no percentile is answered, as CloudWatch does. Written by additive upserts; rolled up
    and expired as :class:`MetricPoint` is."""

    series = models.ForeignKey(CustomMetric, on_delete=models.CASCADE, related_name="+")
    unit = models.CharField(max_length=32, default="None")
    resolution = models.PositiveIntegerField(choices=MetricPoint.Resolution.choices)
    timestamp = models.BigIntegerField()  # epoch seconds, a multiple of ``resolution``
    sample_count = models.FloatField(default=0.0)
    sum = models.FloatField(default=0.0)
    minimum = models.FloatField()
    maximum = models.FloatField()
    sketched = models.FloatField(default=0.0)
    sketch = models.TextField(default="{}")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["series", "unit", "resolution", "timestamp"], name="custom_point_unique"
            )
        ]
        indexes = [models.Index(fields=["resolution", "timestamp"], name="custom_point_time")]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.timestamp}/{self.resolution}"
