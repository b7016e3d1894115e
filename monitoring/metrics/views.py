"""The console's metrics API: JSON series for charts, read with the console session."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.metrics import selectors
from monitoring.metrics.recorder import recorder
from platformapi.permissions import Action, require
from platformapi.views import SignedInRequest

logger = logging.getLogger(__name__)

_METRIC_CHOICE = f"metric must be one of {', '.join(selectors.METRICS)}."


class MetricQueryInput(serializers.Serializer[Any]):
    """The query string; values are checked by ``selectors.metric_query_parse``."""

    metric = serializers.ChoiceField(
        choices=selectors.METRICS,
        error_messages={"required": _METRIC_CHOICE, "invalid_choice": _METRIC_CHOICE},
    )
    function = serializers.CharField(required=False, help_text="Name or ARN; else the account.")
    qualifier = serializers.CharField(required=False, help_text="A version or alias.")
    mapping = serializers.CharField(
        required=False, help_text="An event source mapping's UUID, for its event counts."
    )
    stat = serializers.CharField(required=False, help_text="Sum, Average, ..., or pNN.")
    period = serializers.CharField(required=False, help_text="Seconds, a multiple of 60.")
    start = serializers.CharField(required=False, help_text="ISO 8601; default an hour ago.")
    end = serializers.CharField(required=False, help_text="ISO 8601; default now.")


class MetricSeriesOutput(serializers.Serializer[Any]):
    function = serializers.CharField(allow_null=True)
    qualifier = serializers.CharField(allow_null=True)
    mapping = serializers.CharField(allow_null=True)
    metric = serializers.CharField()
    stat = serializers.CharField()
    unit = serializers.CharField()
    period = serializers.IntegerField()
    resolution = serializers.IntegerField()
    timestamps = serializers.ListField(child=serializers.CharField())
    values = serializers.ListField(child=serializers.FloatField(allow_null=True))


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MetricsView(APIView):
    @extend_schema(parameters=[MetricQueryInput], responses=MetricSeriesOutput)
    def get(self, request: SignedInRequest) -> Response:
        """One metric's series, aligned to its period (the console's charts)."""
        params = MetricQueryInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = selectors.metric_query_parse(params.validated_data)
        require(request, Action.READ_METRICS)
        try:
            # What this process recorded but has not flushed yet, so reads see own writes.
            recorder.flush()
        except Exception:
            logger.exception("flushing metric points before a query failed")
        series = selectors.metric_series(request.user.account, query)
        return Response(
            {
                "function": query.function_name,
                "qualifier": query.qualifier,
                "mapping": query.mapping,
                "metric": query.metric,
                "stat": query.stat,
                "unit": query.unit,
                "period": query.period,
                "resolution": query.resolution,
                "timestamps": [_iso(ts) for ts in series.timestamps],
                "values": series.values,
            }
        )
