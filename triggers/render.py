"""Event source mappings rendered as the Lambda API's ``EventSourceMappingConfiguration``."""

from __future__ import annotations

from typing import Any

from functions import arns
from triggers.models import EventSourceMapping
from triggers.sources import SourceKind, mapping_kind


def mapping_arn(mapping: EventSourceMapping) -> str:
    return (
        f"arn:aws:lambda:{arns.region()}:{mapping.function.account_id}:"
        f"event-source-mapping:{mapping.uuid}"
    )


def function_arn(mapping: EventSourceMapping) -> str:
    function = mapping.function
    return arns.function_arn(function.account_id, function.name, mapping.qualifier or None)


def mapping_configuration(
    mapping: EventSourceMapping, *, state: str | None = None
) -> dict[str, Any]:
    """The configuration as AWS shows it: members that do not apply to the source type are
    absent; ``state`` overrides the stored one (a write answers with the transition it
    started, e.g. ``Creating``, even if it has settled since)."""
    kind = mapping_kind(mapping.event_source_arn, mapping.self_managed_event_source)
    body: dict[str, Any] = {"UUID": str(mapping.uuid)}
    if mapping.starting_position:
        body["StartingPosition"] = mapping.starting_position
    if mapping.starting_position_timestamp is not None:
        body["StartingPositionTimestamp"] = mapping.starting_position_timestamp.timestamp()
    if mapping.batch_size is not None:
        body["BatchSize"] = mapping.batch_size
    if mapping.maximum_batching_window_in_seconds is not None:
        body["MaximumBatchingWindowInSeconds"] = mapping.maximum_batching_window_in_seconds
    if mapping.parallelization_factor is not None:
        body["ParallelizationFactor"] = mapping.parallelization_factor
    if mapping.event_source_arn:
        body["EventSourceArn"] = mapping.event_source_arn
    if mapping.filter_criteria:
        body["FilterCriteria"] = mapping.filter_criteria
    body["FunctionArn"] = function_arn(mapping)
    body["LastModified"] = mapping.last_modified.timestamp()
    # SQS mappings show no result until a poller has one; the others always do.
    shows_result = kind is not SourceKind.SQS
    if shows_result or mapping.last_processing_result != mapping.NO_RECORDS_PROCESSED:
        body["LastProcessingResult"] = mapping.last_processing_result
    body["State"] = state or mapping.state
    body["StateTransitionReason"] = mapping.state_transition_reason
    optional: list[tuple[str, Any]] = [
        ("DestinationConfig", mapping.destination_config),
        ("Topics", mapping.topics),
        ("Queues", mapping.queues),
        ("SourceAccessConfigurations", mapping.source_access_configurations),
        ("SelfManagedEventSource", mapping.self_managed_event_source),
        ("MaximumRecordAgeInSeconds", mapping.maximum_record_age_in_seconds),
        ("BisectBatchOnFunctionError", mapping.bisect_batch_on_function_error),
        ("MaximumRetryAttempts", mapping.maximum_retry_attempts),
        ("TumblingWindowInSeconds", mapping.tumbling_window_in_seconds),
        ("AmazonManagedKafkaEventSourceConfig", mapping.amazon_managed_kafka_event_source_config),
        ("SelfManagedKafkaEventSourceConfig", mapping.self_managed_kafka_event_source_config),
        ("DocumentDBEventSourceConfig", mapping.document_db_event_source_config),
        ("ScalingConfig", mapping.scaling_config),
        ("KMSKeyArn", mapping.kms_key_arn),
        ("MetricsConfig", mapping.metrics_config),
        ("LoggingConfig", mapping.logging_config),
        ("ProvisionedPollerConfig", mapping.provisioned_poller_config),
    ]
    for name, value in optional:
        if value is not None and value not in ({}, [], ""):
            body[name] = value
    if kind in (SourceKind.SQS, SourceKind.KINESIS, SourceKind.DYNAMODB):
        body["FunctionResponseTypes"] = list(mapping.function_response_types)
    body["EventSourceMappingArn"] = mapping_arn(mapping)
    return body
