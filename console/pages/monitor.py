"""Console: the Monitor tab — charts (from the metrics API), live logs and recent invocations.

The charts read ``/_functory/api/metrics`` and the logs panel the live-tail WebSocket; the
recent-invocations table is rebuilt from the log group's START/REPORT lines here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.pages._request import ConsoleRequest
from console.permissions import Action, require
from functions import selectors
from functions.models import Function
from iam.models import User
from monitoring import invocation_logs
from monitoring.traces import selectors as trace_selectors
from platformapi.views import SignedInRequest
from triggers import selectors as triggers
from triggers.pollers.config import event_count_enabled

# The per-source counts chart draws one series per mapping; past this many it is unreadable.
MAX_CHARTED_MAPPINGS = 8


def log_group_of(function: Function) -> str:
    """The log group the function writes to (its logging config, else the default)."""
    config = selectors.latest_version(function).logging_config or {}
    return str(config.get("LogGroup") or f"/aws/lambda/{function.name}")


def _function(user: User, name: str) -> Function:
    return selectors.function_get_for_account(user.account, name)


class ReportOutput(serializers.Serializer[Any]):
    request_id = serializers.CharField()
    duration_ms = serializers.FloatField(allow_null=True)
    billed_ms = serializers.FloatField(allow_null=True)
    memory_mb = serializers.FloatField(allow_null=True)
    max_memory_mb = serializers.FloatField(allow_null=True)
    init_duration_ms = serializers.FloatField(allow_null=True)


class InvocationSummaryOutput(serializers.Serializer[Any]):
    request_id = serializers.CharField()
    timestamp = serializers.IntegerField(help_text="Milliseconds since the epoch.")
    stream = serializers.CharField(help_text="The log stream it ran in.")
    duration_ms = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    report = ReportOutput(help_text="The figures of its REPORT line.")


class RecentInvocationsOutput(serializers.Serializer[Any]):
    invocations = InvocationSummaryOutput(many=True)


class LogLineOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    timestamp = serializers.IntegerField(help_text="Milliseconds since the epoch.")
    message = serializers.CharField(allow_blank=True)


class InvocationOutput(serializers.Serializer[Any]):
    request_id = serializers.CharField()
    lines = LogLineOutput(many=True, help_text="From its START to its REPORT line.")


class RecentInvocationsView(APIView):
    @extend_schema(responses=RecentInvocationsOutput)
    def get(self, request: SignedInRequest, name: str) -> Response:
        """The newest invocations (request id, time, duration, status), newest first."""
        user = request.user
        function = _function(user, name)
        group = log_group_of(function)
        require(request, Action.READ_LOGS, logGroupName=group)
        # A custom group may be shared: only this function's streams count.
        shared = group != f"/aws/lambda/{function.name}"
        found = invocation_logs.recent_invocations(
            user.account, group, function_name=function.name if shared else None
        )
        return Response({"invocations": found})


class InvocationView(APIView):
    @extend_schema(operation_id="functions_monitor_invocation_retrieve", responses=InvocationOutput)
    def get(self, request: SignedInRequest, name: str, request_id: str) -> Response:
        """The log lines of one invocation (none when it is not in the log group)."""
        user = request.user
        function = _function(user, name)
        group = log_group_of(function)
        require(request, Action.READ_LOGS, logGroupName=group)
        lines = invocation_logs.invocation_lines(user.account, group, request_id)
        return Response({"request_id": request_id, "lines": lines})


class TraceRowOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    origin = serializers.CharField(allow_blank=True)
    depth = serializers.IntegerField()
    offset_ms = serializers.FloatField(help_text="From the trace's start.")
    duration_ms = serializers.FloatField(allow_null=True)
    error = serializers.BooleanField()
    fault = serializers.BooleanField()
    throttle = serializers.BooleanField()


class InvocationTraceOutput(serializers.Serializer[Any]):
    request_id = serializers.CharField()
    trace_id = serializers.CharField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)
    rows = TraceRowOutput(many=True, help_text="Segments and subsegments, depth first.")


class InvocationTraceView(APIView):
    @extend_schema(responses=InvocationTraceOutput)
    def get(self, request: SignedInRequest, name: str, request_id: str) -> Response:
        """The X-Ray trace of one invocation as a timeline (none when it was not traced)."""
        user = request.user
        _function(user, name)
        require(request, Action.READ_TRACES)
        trace_id = trace_selectors.trace_id_for_request(user.account.id, request_id)
        traces = trace_selectors.traces_get(user.account.id, [trace_id]) if trace_id else []
        if not traces:
            return Response(
                {"request_id": request_id, "trace_id": None, "duration_ms": None, "rows": []}
            )
        (trace,) = traces
        return Response(
            {
                "request_id": request_id,
                "trace_id": trace.id,
                "duration_ms": round(trace.duration * 1000, 3),
                "rows": trace_selectors.timeline(trace),
            }
        )


urlpatterns = [
    path(
        "functions/<str:name>/monitor/invocations",
        RecentInvocationsView.as_view(),
        name="monitor-invocations",
    ),
    path(
        "functions/<str:name>/monitor/invocations/<str:request_id>",
        InvocationView.as_view(),
        name="monitor-invocation",
    ),
    path(
        "functions/<str:name>/monitor/invocations/<str:request_id>/trace",
        InvocationTraceView.as_view(),
        name="monitor-invocation-trace",
    ),
]


def charted_mappings(function: Function) -> list[dict[str, Any]]:
    """The function's event source mappings the per-source counts chart shows: UUID, a
    short label (the source's name, and the qualifier) and whether it publishes counts."""
    charted = []
    for mapping in triggers.mappings_of_function(function)[:MAX_CHARTED_MAPPINGS]:
        arn = mapping.event_source_arn
        label = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if arn else "self-managed"
        if mapping.qualifier:
            label += f" ({mapping.qualifier})"
        charted.append(
            {
                "uuid": str(mapping.uuid),
                "label": label,
                "counts": event_count_enabled(mapping.metrics_config),
            }
        )
    return charted


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    return {
        "monitor_mappings": charted_mappings(function),
        "monitor_log_group": log_group_of(function),
        # The account-level list, narrowed to this function.
        "monitor_async_url": reverse("async-invocations")
        + "?"
        + urlencode({"function": function.name}),
    }
