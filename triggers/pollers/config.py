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
    batch_size = mapping.batch_size or SQS_DEFAULT_BATCH
    concurrency = (mapping.scaling_config or {}).get("MaximumConcurrency")
    if not isinstance(concurrency, int) or concurrency < 1:
        concurrency = settings.FUNCTORY_SQS_MAX_CONCURRENCY
    broker = None
    if source_kind(mapping.event_source_arn) is SourceKind.MQ:
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


def _criteria(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
