"""The console's metrics API: JSON series for charts, read with the console session."""

from __future__ import annotations

import datetime as dt
import logging

from django.http import HttpRequest, JsonResponse

from awsapi.errors import AWSError
from iam.models import User
from monitoring.metrics import selectors
from monitoring.metrics.recorder import recorder

logger = logging.getLogger(__name__)


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metrics(request: HttpRequest) -> JsonResponse:
    """``GET ?function=&qualifier=&metric=&stat=&period=&start=&end=`` (ISO 8601 times)."""
    if request.method != "GET":
        return _error("MethodNotAllowed", "Use GET.", 405)
    user = request.user
    if not isinstance(user, User):
        return _error("NotAuthenticated", "Sign in to the console first.", 401)
    try:
        query = selectors.metric_query_parse(request.GET)
        try:
            # What this process recorded but has not flushed yet, so reads see own writes.
            recorder.flush()
        except Exception:
            logger.exception("flushing metric points before a query failed")
        series = selectors.metric_series(user.account, query)
    except AWSError as error:
        return _error(error.code, error.message, error.status)
    return JsonResponse(
        {
            "function": query.function_name,
            "qualifier": query.qualifier,
            "metric": query.metric,
            "stat": query.stat,
            "unit": query.unit,
            "period": query.period,
            "resolution": query.resolution,
            "timestamps": [_iso(ts) for ts in series.timestamps],
            "values": series.values,
        }
    )
