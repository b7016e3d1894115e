"""Routes of the X-Ray API (REST-JSON; with and without a trailing slash)."""

from __future__ import annotations

from django.urls import re_path

from monitoring.traces import api

urlpatterns = [
    re_path(r"^TraceSummaries/?$", api.get_trace_summaries, name="xray-trace-summaries"),
    re_path(r"^Traces/?$", api.batch_get_traces, name="xray-traces"),
    re_path(r"^TraceSegments/?$", api.put_trace_segments, name="xray-trace-segments"),
]
