"""Event source mappings, rules and schedules (see the app's docstring)."""

from __future__ import annotations

import uuid

from django.db import models

from functions.models import Function
from iam.models import Account

# ---------------------------------------------------------------------------------------
# Event source mappings (owned by the event-source-mapping API; pollers read and update
# ``state``/``state_transition_reason``/``last_processing_result`` through its services).
# ---------------------------------------------------------------------------------------


class EventSourceMapping(models.Model):
    """One mapping of an event source (a queue, a stream, a broker's queues or topics) to a
    function, version or alias: the 2015-03-31 API's ``EventSourceMappingConfiguration``.

    It belongs to its function's account (there is no account column: every lookup goes
    through the function). Scalar settings the caller left unset are ``None`` and render
    as absent or as the source type's default; nested structures are kept as the API took
    them (JSON), ``{}``/``[]`` when unset.

    ``enabled`` is what the caller asked for; ``state`` is what a client sees while the
    platform gets there (``Creating``/``Enabling``/``Updating``/``Disabling``/``Deleting``
    are transitions, ``Enabled``/``Disabled`` settle). A poller delivers only while
    ``enabled`` is true and the state is neither ``Disabled`` nor ``Deleting``.
    """

    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"
    STATES = (CREATING, ENABLING, ENABLED, DISABLING, DISABLED, UPDATING, DELETING)

    NO_RECORDS_PROCESSED = "No records processed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    function = models.ForeignKey(
        Function, on_delete=models.CASCADE, related_name="event_source_mappings"
    )
    # A published version number or an alias name; '' for the unqualified function.
    qualifier = models.CharField(max_length=128, blank=True)
    # '' for a self-managed source (SelfManagedEventSource names its endpoints instead).
    event_source_arn = models.CharField(max_length=1024, blank=True, db_index=True)

    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=16, default=CREATING, db_index=True)
    state_transition_reason = models.CharField(max_length=256, default="USER_INITIATED")
    last_processing_result = models.CharField(max_length=1024, default=NO_RECORDS_PROCESSED)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField()
    # Bumped on every change of settings, so a running poller can notice and reload.
    generation = models.PositiveIntegerField(default=0)

    # Batching, common to all sources.
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    maximum_batching_window_in_seconds = models.PositiveIntegerField(null=True, blank=True)
    # {"Filters": [{"Pattern": "<json text>"}, ...]}
    filter_criteria = models.JSONField(default=dict)
    # ["ReportBatchItemFailures"] or []
    function_response_types = models.JSONField(default=list)
    # {"MaximumConcurrency": n} (SQS)
    scaling_config = models.JSONField(default=dict)

    # Streams (Kinesis, DynamoDB Streams) and Kafka.
    # TRIM_HORIZON, LATEST, AT_TIMESTAMP, or '' where the source takes none (SQS).
    starting_position = models.CharField(max_length=16, blank=True)
    starting_position_timestamp = models.DateTimeField(null=True, blank=True)
    parallelization_factor = models.PositiveSmallIntegerField(null=True, blank=True)
    bisect_batch_on_function_error = models.BooleanField(null=True, blank=True)
    # -1 means forever (both), as the API has it.
    maximum_retry_attempts = models.IntegerField(null=True, blank=True)
    maximum_record_age_in_seconds = models.IntegerField(null=True, blank=True)
    # {"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}}
    destination_config = models.JSONField(default=dict)
    tumbling_window_in_seconds = models.PositiveIntegerField(null=True, blank=True)

    # Brokers: Amazon MQ / RabbitMQ queues, Kafka topics, self-hosted endpoints.
    queues = models.JSONField(default=list)
    topics = models.JSONField(default=list)
    # {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [...]}} (or this platform's RabbitMQ/MQTT/NATS
    # endpoints; see the triggers documentation)
    self_managed_event_source = models.JSONField(default=dict)
    # [{"Type": "BASIC_AUTH" | "VIRTUAL_HOST" | ..., "URI": "..."}]
    source_access_configurations = models.JSONField(default=list)
    amazon_managed_kafka_event_source_config = models.JSONField(default=dict)
    self_managed_kafka_event_source_config = models.JSONField(default=dict)
    document_db_event_source_config = models.JSONField(default=dict)

    # Accepted and returned as AWS does; not acted on by this platform (yet).
    kms_key_arn = models.CharField(max_length=2048, blank=True)
    metrics_config = models.JSONField(default=dict)
    logging_config = models.JSONField(default=dict)
    provisioned_poller_config = models.JSONField(default=dict)
    tags = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.uuid} {self.event_source_arn or 'self-managed'} -> {self.function}"

    @property
    def delivering(self) -> bool:
        """Whether a poller should deliver records for this mapping now."""
        return self.enabled and self.state not in (self.DISABLED, self.DISABLING, self.DELETING)


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


# ---------------------------------------------------------------------------------------
# Leases (owned by the poller runtime; the scheduler may use them too): which server
# process runs a mapping's poller (or fires a rule), until when. See triggers/leases.py.
# ---------------------------------------------------------------------------------------


class Lease(models.Model):
    """One holder at a time for ``key`` (``esm:<uuid>`` for a mapping's poller) across every
    host sharing the database: held until ``expires`` unless renewed. ``token`` grows with
    every change of holder, so a holder can tell it was replaced even by itself."""

    key = models.CharField(max_length=200, unique=True)
    owner = models.CharField(max_length=200, blank=True)
    expires = models.DateTimeField(db_index=True)
    token = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key} held by {self.owner or 'nobody'} until {self.expires}"


# ---------------------------------------------------------------------------------------
# Stream checkpoints (owned by the stream pollers, triggers/pollers/streams.py): how far a
# mapping has read each shard of its Kinesis stream or DynamoDB stream.
# ---------------------------------------------------------------------------------------


class StreamCheckpoint(models.Model):
    """The last record of one shard a mapping is done with (delivered, filtered out, or
    given up), so a poller on any host resumes right after it. ``finished``: the shard was
    closed (split or merged) and read to its end, so its children may be read."""

    mapping = models.ForeignKey(
        EventSourceMapping, on_delete=models.CASCADE, related_name="stream_checkpoints"
    )
    shard_id = models.CharField(max_length=128)
    # '' until a record is done; Kinesis numbers run to 56 digits (compared as integers).
    sequence_number = models.CharField(max_length=128, blank=True)
    # The parent shard(s) as the stream listed them ("a" or "a,b" for a merge).
    parent_shard_ids = models.CharField(max_length=300, blank=True)
    finished = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mapping", "shard_id"], name="stream_checkpoint_unique_shard"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.shard_id}@{self.sequence_number or '-'}{' (finished)' if self.finished else ''}"
        )
