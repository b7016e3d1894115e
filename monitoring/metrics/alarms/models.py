"""A metric alarm and its history (CloudWatch's ``MetricAlarm`` and ``AlarmHistoryItem``).

``config`` holds the alarm's definition as PutMetricAlarm validated it, in the API's member
names, so DescribeAlarms answers it as given. ``version`` grows with every change of state
or definition: a state change is a conditional UPDATE on it, so two evaluators (or an
evaluator and SetAlarmState) never both move the alarm from one state. ``evaluated_at``
(epoch seconds) orders the once-a-minute evaluation and is claimed the same way.
"""

from __future__ import annotations

from django.db import models

from iam.models import Account


class MetricAlarm(models.Model):
    class State(models.TextChoices):
        OK = "OK"
        ALARM = "ALARM"
        INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    # For DescribeAlarmsForMetric: the single metric's namespace and name ("" for math).
    namespace = models.CharField(max_length=255, blank=True)
    metric_name = models.CharField(max_length=255, blank=True)
    config = models.JSONField(default=dict)
    tags = models.JSONField(default=dict)
    actions_enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.INSUFFICIENT_DATA)
    state_reason = models.TextField(default="Unchecked: Initial alarm creation")
    state_reason_data = models.TextField(blank=True)
    state_updated = models.FloatField()  # epoch seconds
    state_transitioned = models.FloatField()
    configuration_updated = models.FloatField()
    evaluated_at = models.FloatField(default=0.0)
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="metric_alarm_unique_name")
        ]
        indexes = [
            models.Index(fields=["evaluated_at"], name="metric_alarm_evaluated"),
            models.Index(
                fields=["account", "namespace", "metric_name"], name="metric_alarm_metric"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.name}"


class AlarmHistory(models.Model):
    class ItemType(models.TextChoices):
        CONFIGURATION_UPDATE = "ConfigurationUpdate"
        STATE_UPDATE = "StateUpdate"
        ACTION = "Action"

    # By name, not a foreign key: an alarm's history outlives it, as on AWS.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    alarm_name = models.CharField(max_length=255)
    timestamp = models.FloatField()  # epoch seconds
    item_type = models.CharField(max_length=32, choices=ItemType.choices)
    summary = models.CharField(max_length=255)
    data = models.TextField(blank=True)  # HistoryData: a JSON document

    class Meta:
        indexes = [
            models.Index(fields=["account", "alarm_name", "timestamp"], name="alarm_history_name"),
            models.Index(fields=["account", "timestamp"], name="alarm_history_time"),
            models.Index(fields=["timestamp"], name="alarm_history_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.alarm_name}@{self.timestamp}: {self.summary}"
