"""CloudWatch's metrics API: GetMetricStatistics, GetMetricData, ListMetrics, PutMetricData
and the metric alarm operations (``alarms``), in AWS JSON 1.0 (``POST /`` with
``X-Amz-Target``) and Smithy RPC v2 CBOR (``POST
/service/GraniteServiceVersion20100801/operation/<Op>``). Views in ``api``, the wire forms
in ``wire``, one module per operation; the logic lives in ``monitoring.metrics``'s
selectors and services (``reading``, ``metric_data``, ``custom_services``, ``alarms``)."""

from __future__ import annotations

from monitoring.metrics.cloudwatch.api import (
    OPERATIONS,
    TARGET_PREFIX,
    dispatch,
    dispatch_rpc_v2,
)
from monitoring.metrics.cloudwatch.statistics import get_metric_statistics

__all__ = ["OPERATIONS", "TARGET_PREFIX", "dispatch", "dispatch_rpc_v2", "get_metric_statistics"]
