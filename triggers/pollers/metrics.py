"""What pollers report to the metrics: the iterator age of what they deliver, and the
event source mapping's event counts (AWS's event source mapping metrics, under the
``EventSourceMappingUUID`` dimension).

Every poller calls these; how the counts are stored and shown is the monitoring app's.
"""

from __future__ import annotations

from monitoring.metrics.recorder import recorder, series_keys
from triggers.pollers.config import MappingConfig

NAMESPACE = "AWS/Lambda"
DIMENSION = "EventSourceMappingUUID"


def iterator_age(config: MappingConfig, age_ms: float) -> None:
    """The age of the last record of a batch just delivered (``IteratorAge``, milliseconds):
    how far behind the stream's newest record the mapping reads."""
    keys = series_keys(config.account.id, config.function_name, config.qualifier)
    recorder.iterator_age(keys, max(0.0, age_ms))


def events(
    config: MappingConfig,
    *,
    polled: int = 0,
    filtered_out: int = 0,
    invoked: int = 0,
    failed_invoke: int = 0,
    dropped: int = 0,
    deleted: int = 0,
    on_failure_delivered: int = 0,
) -> None:
    """Counts of records, as AWS's event source mapping metrics count them:
    ``PolledEventCount`` (read from the source), ``FilteredOutEventCount`` (dropped by
    FilterCriteria), ``InvokedEventCount`` (delivered to the function; retries count again),
    ``FailedInvokeEventCount`` (in an invocation that failed), ``DroppedEventCount`` (given
    up: too old, out of retries), ``DeletedEventCount`` (SQS: deleted after success),
    ``OnFailureDestinationDeliveredEventCount`` (sent to the OnFailure destination)."""
    # As on AWS, only a mapping whose MetricsConfig lists "EventCount" publishes them.
    if not config.event_count_metrics:
        return
    recorder.counts(
        config.account.id,
        NAMESPACE,
        DIMENSION,
        config.uuid,
        {
            "PolledEventCount": polled,
            "FilteredOutEventCount": filtered_out,
            "InvokedEventCount": invoked,
            "FailedInvokeEventCount": failed_invoke,
            "DroppedEventCount": dropped,
            "DeletedEventCount": deleted,
            "OnFailureDestinationDeliveredEventCount": on_failure_delivered,
        },
    )
