"""Writes for event source mappings: create, update, delete, with Lambda's per-source rules
and states.

States as a client sees them: a write answers with the transition it started (``Creating``,
``Enabling``, ``Disabling``, ``Updating``, ``Deleting``) and the mapping then settles
(``Enabled``/``Disabled``, or is gone). Settling is :func:`settle`; by default it runs when
the write commits (no poller has to confirm anything yet), and a poller runtime may take it
over through :data:`settle_hook`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from awsapi.errors import AWSError, InvalidParameterValue, ResourceConflict, ResourceNotFound
from functions import arns
from functions.models import Function
from functions.selectors import function_resolve
from iam.models import Account
from triggers.brokers import Engine, broker_for, queue_problem
from triggers.filtering import compile_filter_criteria
from triggers.models import EventSourceMapping
from triggers.patterns import PatternError
from triggers.sources import (
    SourceKind,
    batch_limits,
    is_fifo_queue,
    mapping_kind,
    parse_arn,
    source_kind,
)

FUNCTION_MISSING = "Function does not exist"

# Settings only some kinds of source take: the kinds, by request member.
_STREAMS = frozenset({SourceKind.KINESIS, SourceKind.DYNAMODB})
_KAFKA = frozenset({SourceKind.KAFKA, SourceKind.SELF_MANAGED_KAFKA})
_SUPPORTED_BY: dict[str, frozenset[SourceKind]] = {
    "ParallelizationFactor": _STREAMS,
    "BisectBatchOnFunctionError": _STREAMS,
    "MaximumRetryAttempts": _STREAMS,
    "MaximumRecordAgeInSeconds": _STREAMS,
    "TumblingWindowInSeconds": _STREAMS,
    "DestinationConfig": _STREAMS | _KAFKA,
    "FunctionResponseTypes": _STREAMS | {SourceKind.SQS},
    "ScalingConfig": frozenset({SourceKind.SQS}),
    "FilterCriteria": frozenset(SourceKind) - {SourceKind.DOCUMENTDB},
    "Queues": frozenset({SourceKind.MQ}),
    "Topics": _KAFKA,
    "SourceAccessConfigurations": _KAFKA | {SourceKind.MQ, SourceKind.DOCUMENTDB},
    "AmazonManagedKafkaEventSourceConfig": frozenset({SourceKind.KAFKA}),
    "SelfManagedKafkaEventSourceConfig": frozenset({SourceKind.SELF_MANAGED_KAFKA}),
    "DocumentDBEventSourceConfig": frozenset({SourceKind.DOCUMENTDB}),
    "ProvisionedPollerConfig": _KAFKA | {SourceKind.SQS},
}

# Request member -> model field, for the settings stored as given.
_PLAIN_FIELDS = {
    "BatchSize": "batch_size",
    "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
    "ParallelizationFactor": "parallelization_factor",
    "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
    "MaximumRetryAttempts": "maximum_retry_attempts",
    "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
    "TumblingWindowInSeconds": "tumbling_window_in_seconds",
    "FunctionResponseTypes": "function_response_types",
    "ScalingConfig": "scaling_config",
    "SourceAccessConfigurations": "source_access_configurations",
    "AmazonManagedKafkaEventSourceConfig": "amazon_managed_kafka_event_source_config",
    "SelfManagedKafkaEventSourceConfig": "self_managed_kafka_event_source_config",
    "DocumentDBEventSourceConfig": "document_db_event_source_config",
    "KMSKeyArn": "kms_key_arn",
    "MetricsConfig": "metrics_config",
    "LoggingConfig": "logging_config",
    "ProvisionedPollerConfig": "provisioned_poller_config",
}
# Only CreateEventSourceMapping takes these.
_CREATE_ONLY_FIELDS = {"Queues": "queues", "Topics": "topics", "Tags": "tags"}


@dataclass(frozen=True)
class Target:
    """The function (and version or alias) a ``FunctionName`` names."""

    function: Function
    qualifier: str


def resolve_target(account: Account, function_name: str) -> Target:
    """The caller's function, version or alias; anything else (another account's function,
    a missing version or alias) is "Function does not exist", as Lambda answers."""
    try:
        resolved = function_resolve(account, function_name, follow_alias=False)
    except ResourceNotFound:
        raise InvalidParameterValue(FUNCTION_MISSING) from None
    return Target(resolved.function, resolved.qualifier or "")


def _unsupported(member: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Unsupported {member} parameter for given event source mapping type."
    )


def _kind_of_request(params: dict[str, Any]) -> SourceKind:
    arn = params.get("EventSourceArn")
    self_managed = params.get("SelfManagedEventSource")
    if arn and self_managed:
        raise InvalidParameterValue(
            "EventSourceArn and SelfManagedEventSource cannot both be specified."
        )
    if self_managed:
        if not (self_managed.get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS"):
            raise InvalidParameterValue("Required 'KAFKA_BOOTSTRAP_SERVERS' endpoints are missing.")
        if not params.get("SourceAccessConfigurations"):
            raise InvalidParameterValue(
                "Required 'sourceAccessConfigurations' parameter is missing."
            )
        return SourceKind.SELF_MANAGED_KAFKA
    kind = source_kind(arn) if arn else None
    if kind is None:
        raise InvalidParameterValue("Unrecognized event source.")
    return kind


def _check_supported(kind: SourceKind, params: dict[str, Any]) -> None:
    for member, kinds in _SUPPORTED_BY.items():
        if params.get(member) is not None and kind not in kinds:
            # An empty value clears a setting; clearing one that cannot be set is harmless.
            if params[member] in ({}, []):
                continue
            raise _unsupported(member)
    destination = params.get("DestinationConfig") or {}
    if (destination.get("OnSuccess") or {}).get("Destination"):
        raise _unsupported("DestinationConfig")


def _starting_position(kind: SourceKind, params: dict[str, Any], arn: str) -> dict[str, Any]:
    position = params.get("StartingPosition")
    timestamp = params.get("StartingPositionTimestamp")
    if not kind.takes_starting_position:
        if position is not None:
            raise InvalidParameterValue(
                f"StartingPosition is not valid for {kind.label} event sources."
            )
        if timestamp is not None:
            raise InvalidParameterValue(
                f"StartingPositionTimestamp is not valid for {kind.label} event sources."
            )
        return {}
    if position is None:
        raise InvalidParameterValue(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null."
        )
    if position == "AT_TIMESTAMP" and kind is SourceKind.DYNAMODB:
        raise InvalidParameterValue(f"Unsupported starting position for arn type: {arn}")
    if position == "AT_TIMESTAMP" and timestamp is None:
        raise InvalidParameterValue("Need to specify a timestamp")
    if position != "AT_TIMESTAMP" and timestamp is not None:
        raise InvalidParameterValue(
            "StartingPositionTimestamp can only be specified with StartingPosition AT_TIMESTAMP."
        )
    return {
        "starting_position": position,
        "starting_position_timestamp": _timestamp(timestamp) if timestamp is not None else None,
    }


def _timestamp(value: Any) -> dt.datetime:
    """StartingPositionTimestamp as the SDKs send it: epoch seconds (REST-JSON's default)
    or, from hand-written calls, ISO 8601."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise InvalidParameterValue("Invalid StartingPositionTimestamp.")


def _check_filter_criteria(criteria: Any) -> None:
    try:
        compile_filter_criteria(criteria)
    except PatternError as exc:
        raise InvalidParameterValue(
            f"Invalid filter pattern definition. Reason: {exc.message}"
        ) from None


def _apply(mapping: EventSourceMapping, params: dict[str, Any], *, creating: bool) -> None:
    """Copy the request's settings onto the mapping (an empty value clears a setting)."""
    fields = dict(_PLAIN_FIELDS)
    if creating:
        fields.update(_CREATE_ONLY_FIELDS)
    for member, field in fields.items():
        if member in params and params[member] is not None:
            setattr(mapping, field, params[member])
    if params.get("FilterCriteria") is not None:
        criteria = params["FilterCriteria"]
        mapping.filter_criteria = criteria if criteria.get("Filters") else {}
    if params.get("DestinationConfig") is not None:
        on_failure = (params["DestinationConfig"].get("OnFailure") or {}).get("Destination")
        mapping.destination_config = (
            {"OnFailure": {"Destination": on_failure}} if on_failure else {}
        )


def _apply_defaults(mapping: EventSourceMapping, kind: SourceKind) -> None:
    """What Lambda fills in for a setting the caller left out, per source type."""
    fifo = kind is SourceKind.SQS and is_fifo_queue(mapping.event_source_arn)
    if mapping.batch_size is None:
        mapping.batch_size = batch_limits(kind, fifo=fifo).default_batch_size
    if mapping.maximum_batching_window_in_seconds is None and kind is not SourceKind.DOCUMENTDB:
        mapping.maximum_batching_window_in_seconds = 0
    if kind.is_stream:
        defaults: dict[str, Any] = {
            "parallelization_factor": 1,
            "bisect_batch_on_function_error": False,
            "maximum_retry_attempts": -1,
            "maximum_record_age_in_seconds": -1,
            "tumbling_window_in_seconds": 0,
        }
        for field, value in defaults.items():
            if getattr(mapping, field) is None:
                setattr(mapping, field, value)
    if (kind.is_stream or kind.is_kafka) and not mapping.destination_config:
        mapping.destination_config = {"OnFailure": {}}


def _check_combination(mapping: EventSourceMapping, kind: SourceKind) -> None:
    """Rules across settings, on the values in effect after the change."""
    fifo = kind is SourceKind.SQS and is_fifo_queue(mapping.event_source_arn)
    limits = batch_limits(kind, fifo=fifo)
    batch_size = mapping.batch_size or limits.default_batch_size
    window = mapping.maximum_batching_window_in_seconds or 0
    if batch_size > limits.max_batch_size:
        kind_name = "FIFO queue" if fifo else f"{kind.label} event source"
        raise InvalidParameterValue(
            f"BatchSize must be between 1 and {limits.max_batch_size} for a {kind_name}."
        )
    if kind is SourceKind.SQS:
        if fifo and window > 0:
            raise InvalidParameterValue(
                "MaximumBatchingWindowInSeconds is not supported by Amazon SQS FIFO event sources."
            )
        if batch_size > 10 and window == 0:
            raise InvalidParameterValue(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size "
                "is greater than 10"
            )
    age = mapping.maximum_record_age_in_seconds
    if age is not None and age != -1 and age < 60:
        raise InvalidParameterValue(
            "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800."
        )
    destination = (mapping.destination_config.get("OnFailure") or {}).get("Destination")
    if destination and kind.is_stream:
        service = destination.split(":")[2] if destination.count(":") >= 5 else ""
        if service not in ("sqs", "sns", "s3"):
            raise InvalidParameterValue(
                "The provided destination config DestinationType is invalid. Only SQS, SNS and "
                "S3 destinations are supported."
            )
    if kind is SourceKind.MQ:
        _check_mq(mapping)
    if kind.is_kafka and not mapping.topics:
        raise InvalidParameterValue("Required 'topics' parameter is missing.")


_MQ_ACCESS_TYPES = ("BASIC_AUTH", "VIRTUAL_HOST")


def _virtual_host_changes(mapping: EventSourceMapping, params: dict[str, Any]) -> bool:
    """AWS takes VIRTUAL_HOST at Create only; an Update may repeat it unchanged."""
    given = params.get("SourceAccessConfigurations")
    if given is None:
        return False
    return _virtual_host(given) != _virtual_host(mapping.source_access_configurations)


def _virtual_host(configurations: Any) -> str | None:
    for configuration in configurations or []:
        if isinstance(configuration, dict) and configuration.get("Type") == "VIRTUAL_HOST":
            return str(configuration.get("URI"))
    return None


def _check_mq(mapping: EventSourceMapping) -> None:
    """An Amazon MQ mapping: one queue, BASIC_AUTH (and for RabbitMQ an optional
    VIRTUAL_HOST) once each, and a broker the operator registered for the caller's account
    (``triggers/brokers.py``: the only hosts a mapping can reach)."""
    if not mapping.queues:
        raise InvalidParameterValue("Required 'queues' parameter is missing.")
    if len(mapping.queues) != 1 or not str(mapping.queues[0]).strip():
        raise InvalidParameterValue("Queues must name exactly one queue.")
    seen: set[str] = set()
    for configuration in mapping.source_access_configurations:
        kind = configuration.get("Type")
        if kind not in _MQ_ACCESS_TYPES:
            raise InvalidParameterValue(
                f"Unsupported source access configuration type {kind} for Amazon MQ event "
                "sources. Use BASIC_AUTH and, for RabbitMQ, VIRTUAL_HOST."
            )
        if kind in seen:
            raise InvalidParameterValue(f"Duplicate {kind} source access configuration.")
        if not configuration.get("URI"):
            raise InvalidParameterValue(f"The {kind} source access configuration needs a URI.")
        seen.add(kind)
    if "BASIC_AUTH" not in seen:
        raise InvalidParameterValue("Required 'BASIC_AUTH' source access configuration is missing.")
    parsed = parse_arn(mapping.event_source_arn)
    if parsed is None or parsed.account != mapping.function.account_id:
        # As on AWS: Lambda reads no Amazon MQ broker of another account.
        raise InvalidParameterValue(
            "Cross-account Amazon MQ event sources are not supported: the broker must be in "
            "the function's account."
        )
    broker = broker_for(mapping.event_source_arn, mapping.function.account_id)
    if broker is None:
        raise InvalidParameterValue(
            f"The broker {mapping.event_source_arn} is not registered for this account. "
            "Brokers are registered by the platform's operator (FUNCTORY_MQ_BROKERS)."
        )
    if "VIRTUAL_HOST" in seen and broker.engine is not Engine.RABBITMQ:
        raise InvalidParameterValue("VIRTUAL_HOST is only supported for RabbitMQ brokers.")
    problem = queue_problem(broker.engine, str(mapping.queues[0]))
    if problem is not None:
        raise InvalidParameterValue(problem)


def _duplicate_check(mapping: EventSourceMapping, kind: SourceKind, target: Target) -> None:
    """One mapping per source and function ARN (per topic for Kafka), as Lambda allows."""
    others = EventSourceMapping.objects.filter(
        function=target.function, qualifier=target.qualifier
    ).exclude(pk=mapping.pk)
    name = target.function.name + (f":{target.qualifier}" if target.qualifier else "")
    servers = _bootstrap_servers(mapping)
    if kind is SourceKind.SELF_MANAGED_KAFKA:
        candidates = [
            other
            for other in others.filter(event_source_arn="")
            if servers & _bootstrap_servers(other)
        ]
    else:
        candidates = list(others.filter(event_source_arn=mapping.event_source_arn))
    for other in candidates:
        if kind.is_kafka:
            if not set(other.topics) & set(mapping.topics):
                continue
            source = mapping.event_source_arn or ",".join(sorted(servers))
            raise ResourceConflict(
                f'An event source mapping with event source ("{source}"), function '
                f'("{_function_arn(target)}"), topics ("{",".join(mapping.topics)}") already '
                f"exists. Please update or delete the existing mapping with UUID {other.uuid}"
            )
        if kind is SourceKind.SQS:
            raise ResourceConflict(
                f'An event source mapping with SQS arn (" {mapping.event_source_arn} ") and '
                f'function (" {name} ") already exists. Please update or delete the existing '
                f"mapping with UUID {other.uuid}"
            )
        raise ResourceConflict(
            f'The event source arn (" {mapping.event_source_arn} ") and function (" {name} ") '
            "provided mapping already exists. Please update or delete the existing mapping "
            f"with UUID {other.uuid}"
        )


def _bootstrap_servers(mapping: EventSourceMapping) -> set[str]:
    endpoints = (mapping.self_managed_event_source or {}).get("Endpoints") or {}
    return set(endpoints.get("KAFKA_BOOTSTRAP_SERVERS") or [])


def _function_arn(target: Target) -> str:
    return arns.function_arn(target.function.account_id, target.function.name, target.qualifier)


def _locked_function(target: Target) -> Function:
    # Creates and retargets of one function run one at a time: the duplicate check holds.
    return Function.objects.select_for_update().get(pk=target.function.pk)


def mapping_create(*, account: Account, params: dict[str, Any]) -> EventSourceMapping:
    """CreateEventSourceMapping: answered in state ``Creating``; settles to ``Enabled`` (or
    ``Disabled`` when ``Enabled`` is false)."""
    kind = _kind_of_request(params)
    _check_supported(kind, params)
    target = resolve_target(account, params["FunctionName"])
    arn = params.get("EventSourceArn") or ""
    position = _starting_position(kind, params, arn)
    if params.get("FilterCriteria") is not None:
        _check_filter_criteria(params["FilterCriteria"])
    mapping = EventSourceMapping(
        function=target.function,
        qualifier=target.qualifier,
        event_source_arn=arn,
        self_managed_event_source=params.get("SelfManagedEventSource") or {},
        enabled=params.get("Enabled", True) is not False,
        state=EventSourceMapping.CREATING,
        last_modified=timezone.now(),
        **position,
    )
    _apply(mapping, params, creating=True)
    _apply_defaults(mapping, kind)
    _check_combination(mapping, kind)
    with transaction.atomic():
        mapping.function = _locked_function(target)
        _duplicate_check(mapping, kind, target)
        mapping.save()
        _after_commit(mapping)
    return mapping


def _in_use() -> AWSError:
    return AWSError(
        "Cannot update the event source mapping because it is in use.",
        code="ResourceInUseException",
        status=400,
    )


def mapping_update(*, mapping: EventSourceMapping, params: dict[str, Any]) -> EventSourceMapping:
    """UpdateEventSourceMapping: answered in ``Enabling``/``Disabling`` when ``Enabled``
    changes, else ``Updating``; settles as Create does."""
    kind = mapping_kind(mapping.event_source_arn, mapping.self_managed_event_source)
    if kind is None:  # a mapping stored before its source kind was known: nothing to check
        raise InvalidParameterValue("Unrecognized event source.")
    _check_supported(kind, params)
    if params.get("FilterCriteria") is not None:
        _check_filter_criteria(params["FilterCriteria"])
    if kind is SourceKind.MQ and _virtual_host_changes(mapping, params):
        raise InvalidParameterValue(
            "VIRTUAL_HOST cannot be specified in an UpdateEventSourceMapping call."
        )
    target = Target(mapping.function, mapping.qualifier)
    if params.get("FunctionName"):
        target = resolve_target(mapping.function.account, params["FunctionName"])
    with transaction.atomic():
        _locked_function(target)
        current = EventSourceMapping.objects.select_for_update().get(pk=mapping.pk)
        if current.state == EventSourceMapping.DELETING:
            raise _in_use()
        current.function, current.qualifier = target.function, target.qualifier
        _apply(current, params, creating=False)
        _apply_defaults(current, kind)
        _check_combination(current, kind)
        _duplicate_check(current, kind, target)
        enabled = params.get("Enabled")
        if enabled is not None and enabled != current.enabled:
            current.state = EventSourceMapping.ENABLING if enabled else EventSourceMapping.DISABLING
            current.enabled = bool(enabled)
        else:
            current.state = EventSourceMapping.UPDATING
        current.state_transition_reason = "USER_INITIATED"
        current.last_modified = timezone.now()
        current.generation += 1
        current.save()
        _after_commit(current)
    return current


def mapping_delete(*, mapping: EventSourceMapping) -> EventSourceMapping:
    """DeleteEventSourceMapping: answered in ``Deleting``; then the mapping is gone."""
    with transaction.atomic():
        current = EventSourceMapping.objects.select_for_update().filter(pk=mapping.pk).first()
        if current is None:
            raise ResourceNotFound("The resource you requested does not exist.")
        if current.state == EventSourceMapping.DELETING:
            raise _in_use()
        current.state = EventSourceMapping.DELETING
        current.state_transition_reason = "USER_INITIATED"
        current.enabled = False
        current.generation += 1
        current.save(update_fields=["state", "state_transition_reason", "enabled", "generation"])
        _after_commit(current)
    return current


# --- settling ---------------------------------------------------------------------------


def settle(mapping_id: int, generation: int) -> None:
    """Finish the transition a write started, unless another write has come since: a
    ``Deleting`` mapping is removed, any other takes ``Enabled`` or ``Disabled``."""
    with transaction.atomic():
        mapping = (
            EventSourceMapping.objects.select_for_update()
            .filter(pk=mapping_id, generation=generation)
            .first()
        )
        if mapping is None:
            return
        if mapping.state == EventSourceMapping.DELETING:
            mapping.delete()
            return
        final = EventSourceMapping.ENABLED if mapping.enabled else EventSourceMapping.DISABLED
        if mapping.state != final:
            mapping.state = final
            mapping.save(update_fields=["state"])


# Called (mapping id, generation) once a write has committed. The default settles at once;
# a poller runtime that must acknowledge transitions (stop delivering before "Disabled")
# replaces it and calls :func:`settle` itself.
settle_hook: Callable[[int, int], None] = settle


def _after_commit(mapping: EventSourceMapping) -> None:
    mapping_id, generation = mapping.pk, mapping.generation
    transaction.on_commit(lambda: settle_hook(mapping_id, generation))


def set_last_processing_result(mapping_id: int, result: str) -> None:
    """For pollers: record ``LastProcessingResult`` (e.g. ``OK``, ``PROBLEM: ...``)."""
    EventSourceMapping.objects.filter(pk=mapping_id).update(last_processing_result=result[:1024])
