"""What a poller needs to know of its mapping: a frozen snapshot, read in one query.

A running poller keeps its snapshot until the mapping's ``generation`` changes; then the
runtime reads a new one and hands it over (the next batch uses it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from functions import arns
from iam.models import Account
from triggers.brokers import Broker, broker_for
from triggers.filtering import FilterSet, compile_filter_criteria, record_view
from triggers.models import EventSourceMapping
from triggers.patterns import PatternError
from triggers.sources import SourceKind, parse_arn, source_kind

# The largest batch an SQS mapping takes (the API enforces it; a snapshot trusts no row).
SQS_MAX_BATCH = 10_000
SQS_DEFAULT_BATCH = 10
# AWS's documented ceiling for ScalingConfig.MaximumConcurrency.
MAX_CONCURRENCY = 1000
STREAM_DEFAULT_BATCH = 100
STREAM_MAX_PARALLELIZATION = 10


def source_region(event_source_arn: str) -> str:
    parsed = parse_arn(event_source_arn)
    return parsed.region if parsed is not None and parsed.region else arns.region()


def source_account(event_source_arn: str) -> str:
    parsed = parse_arn(event_source_arn)
    return parsed.account if parsed is not None else ""


@dataclass(frozen=True)
class MappingConfig:
    uuid: str
    generation: int
    account: Account
    function_name: str
    qualifier: str | None
    event_source_arn: str
    batch_size: int
    batching_window_s: int
    # None: no FilterCriteria (every record passes).
    filters: FilterSet | None
    report_batch_item_failures: bool
    maximum_concurrency: int
    # MetricsConfig has "EventCount": the mapping's event counts are published.
    event_count_metrics: bool = False
    # Amazon MQ (self-hosted brokers): the queue (subject, topic filter) and RabbitMQ's
    # virtual host of the mapping, and the registered broker its ARN names.
    queue: str = ""
    virtual_host: str = "/"
    broker: Broker | None = None
    # Streams (Kinesis, DynamoDB Streams); the defaults are AWS's.
    # TRIM_HORIZON, LATEST or AT_TIMESTAMP (then starting_position_timestamp, epoch seconds).
    starting_position: str = "LATEST"
    starting_position_timestamp: float | None = None
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = False
    # -1: forever (both).
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    # DestinationConfig.OnFailure's ARN, or "".
    on_failure: str = ""
    tumbling_window_s: int = 0
    # The function's execution role (a stream record's invokeIdentityArn).
    role_arn: str = ""

    @property
    def kind(self) -> SourceKind | None:
        return source_kind(self.event_source_arn)

    @property
    def region(self) -> str:
        return source_region(self.event_source_arn)

    def passes(self, record: dict[str, Any]) -> bool:
        """Whether a record (in the event's shape) is delivered under FilterCriteria."""
        if self.filters is None:
            return True
        kind = self.kind
        return self.filters.matches(record_view(record, kind.filter_source if kind else ""))


class ConfigProblem(Exception):
    """A mapping the poller can't act on as stored (shown as its LastProcessingResult)."""


def compile_filters(criteria: dict[str, Any]) -> FilterSet | None:
    """FilterCriteria, compiled. The API validated the patterns; one that no longer
    compiles stops the poller rather than drop (delete) records on a pattern it can't read."""
    if not (criteria.get("Filters") or []):
        return None
    try:
        return compile_filter_criteria(criteria)
    except (PatternError, TypeError, AttributeError) as exc:
        raise ConfigProblem(f"PROBLEM: Invalid filter criteria: {exc}") from exc


def mapping_config(mapping: EventSourceMapping) -> MappingConfig:
    """The snapshot of one mapping (``mapping.function`` and its account loaded); raises
    ConfigProblem for one that can't be polled as stored."""
    function = mapping.function
    kind = source_kind(mapping.event_source_arn)
    stream = kind is not None and kind.is_stream
    batch_size = mapping.batch_size or (STREAM_DEFAULT_BATCH if stream else SQS_DEFAULT_BATCH)
    concurrency = (mapping.scaling_config or {}).get("MaximumConcurrency")
    if not isinstance(concurrency, int) or concurrency < 1:
        concurrency = settings.FUNCTORY_SQS_MAX_CONCURRENCY
    broker = None
    if kind is SourceKind.MQ:
        broker = broker_for(mapping.event_source_arn, function.account_id)
        if broker is None:
            raise ConfigProblem(
                f"PROBLEM: The broker {mapping.event_source_arn} is not registered for this "
                "account."
            )
    return MappingConfig(
        uuid=str(mapping.uuid),
        generation=mapping.generation,
        account=function.account,
        function_name=function.name,
        qualifier=mapping.qualifier or None,
        event_source_arn=mapping.event_source_arn,
        batch_size=max(1, min(batch_size, SQS_MAX_BATCH)),
        batching_window_s=max(0, min(mapping.maximum_batching_window_in_seconds or 0, 300)),
        filters=compile_filters(_criteria(mapping.filter_criteria)),
        report_batch_item_failures="ReportBatchItemFailures"
        in (mapping.function_response_types or []),
        maximum_concurrency=max(1, min(concurrency, MAX_CONCURRENCY)),
        event_count_metrics=event_count_enabled(mapping.metrics_config),
        queue=str((mapping.queues or [""])[0]),
        virtual_host=_virtual_host(mapping.source_access_configurations),
        broker=broker,
        starting_position=mapping.starting_position or "LATEST",
        starting_position_timestamp=(
            mapping.starting_position_timestamp.timestamp()
            if mapping.starting_position_timestamp is not None
            else None
        ),
        parallelization_factor=max(
            1, min(mapping.parallelization_factor or 1, STREAM_MAX_PARALLELIZATION)
        ),
        bisect_batch_on_function_error=bool(mapping.bisect_batch_on_function_error),
        maximum_retry_attempts=_forever_or_count(mapping.maximum_retry_attempts),
        maximum_record_age_s=_forever_or_count(mapping.maximum_record_age_in_seconds),
        on_failure=str(
            ((mapping.destination_config or {}).get("OnFailure") or {}).get("Destination") or ""
        ),
        tumbling_window_s=mapping.tumbling_window_in_seconds or 0,
        role_arn=_role(mapping) if stream else "",
    )


def event_count_enabled(metrics_config: Any) -> bool:
    """Whether a stored MetricsConfig asks for the event count metrics."""
    if not isinstance(metrics_config, dict):
        return False
    metrics = metrics_config.get("Metrics")
    return isinstance(metrics, list) and "EventCount" in metrics


def _virtual_host(configurations: Any) -> str:
    for configuration in configurations or []:
        if isinstance(configuration, dict) and configuration.get("Type") == "VIRTUAL_HOST":
            return str(configuration.get("URI") or "/")
    return "/"


def _role(mapping: EventSourceMapping) -> str:
    """The execution role of $LATEST (what a stream record's invokeIdentityArn names)."""
    role = mapping.function.versions.filter(number=0).values_list("role", flat=True).first()
    return role or ""


def _forever_or_count(value: int | None) -> int:
    return -1 if value is None or value < 0 else value


def _criteria(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
