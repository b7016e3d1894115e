"""Event source mappings, rules and schedules (see the app's docstring)."""

from __future__ import annotations

import uuid

from django.db import models

from iam.models import Account

# -- EventBridge rules, targets and schedules (owned by the events work) --------------------


class Rule(models.Model):
    """An EventBridge rule on an account's default event bus: a schedule or an event
    pattern, and up to five targets."""

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="event_rules")
    name = models.CharField(max_length=64)
    event_bus_name = models.CharField(max_length=256, default="default")
    description = models.CharField(max_length=512, blank=True)
    schedule_expression = models.CharField(max_length=256, blank=True)
    event_pattern = models.TextField(blank=True)
    state = models.CharField(max_length=64, default=ENABLED)
    role_arn = models.CharField(max_length=1600, blank=True)
    # When the rule got its schedule expression: where a rate() counts from.
    schedule_anchor = models.DateTimeField(null=True, blank=True)
    # The next firing the scheduler owes (None: no schedule, disabled, or never again).
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "event_bus_name", "name"], name="rule_unique_name"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Target(models.Model):
    """One target of a rule (a Lambda function here), with how its input is shaped."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="targets")
    target_id = models.CharField(max_length=64)
    arn = models.CharField(max_length=1600)
    input = models.TextField(blank=True)
    input_path = models.CharField(max_length=256, blank=True)
    # {"InputPathsMap": {...}, "InputTemplate": "..."} as PutTargets gave it, or {}.
    input_transformer = models.JSONField(default=dict, blank=True)
    # The target as PutTargets sent it, members we only store included (ListTargetsByRule).
    spec = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "target_id"], name="target_unique_id")
        ]
        ordering = ["created", "id"]


class ScheduledFiring(models.Model):
    """One firing of a scheduled rule: its unique (rule, time) row is the claim that makes
    every scheduler process across all hosts fire each occurrence at most once."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    scheduled_for = models.DateTimeField()
    event_id = models.UUIDField(default=uuid.uuid4)
    fired_at = models.DateTimeField()
    # How many targets got the event, and how many were refused (permission, gone).
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "scheduled_for"], name="firing_unique_occurrence"
            )
        ]
