"""CloudWatch ``GetMetricStatistics`` for namespaces ``AWS/Lambda`` and ``AWS/Events``.

CloudWatch's model offers smithy-rpc-v2-cbor, JSON 1.0 and query; botocore (and so the AWS
CLI) prefers JSON 1.0 among them: ``POST /`` with ``X-Amz-Target:
GraniteServiceVersion20100801.<Operation>``, SigV4 for service ``monitoring``, timestamps as
epoch seconds. The service is query-compatible, so errors carry ``x-amzn-query-error`` with
the query protocol's error code, which is what clients report.

Dimensions follow Lambda's: none (account-wide), ``FunctionName``, and ``Resource``
(``name`` or ``name:qualifier``); an event source mapping's event counts under
``EventSourceMappingUUID``. EventBridge's rule metrics answer under ``RuleName`` (or none,
the account's rules together). Counters are published as one value of 1 per event, as
Lambda does, so their Average, Minimum and Maximum are 1 and SampleCount equals Sum.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from awsapi import observe, strictjson
from awsapi.errors import AWSError, new_request_id
from iam import access, authentication
from iam.models import TemporaryCredential
from monitoring.metrics import selectors
from monitoring.metrics.points import Point
from monitoring.metrics.recorder import recorder
from monitoring.metrics.services import MINUTE

logger = logging.getLogger(__name__)

TARGET_PREFIX = "GraniteServiceVersion20100801"
CONTENT_TYPE = "application/x-amz-json-1.0"
QUERY_CODES = {
    "InvalidParameterValueException": "InvalidParameterValue",
    "MissingRequiredParameterException": "MissingParameter",
    "InvalidParameterCombinationException": "InvalidParameterCombination",
    "InternalServiceFault": "InternalServiceError",
    "ThrottlingException": "Throttling",
}
_EXTENDED = re.compile(r"^p(\d{1,3}(?:\.\d+)?)$")


def _error(code: str, message: str, status: int = 400) -> AWSError:
    return AWSError(message, code=code, status=status)


def _invalid(message: str) -> AWSError:
    return _error("InvalidParameterValueException", message)


def _json_response(body: dict[str, Any], request_id: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    response["x-amzn-RequestId"] = request_id
    return response


def _error_response(error: AWSError, request_id: str) -> HttpResponse:
    response = _json_response(
        {"__type": error.code, "message": error.message}, request_id, error.status
    )
    response["x-amzn-ErrorType"] = error.code
    query_code = QUERY_CODES.get(error.code)
    if query_code is not None:
        fault = "Sender" if error.status < 500 else "Receiver"
        response["x-amzn-query-error"] = f"{query_code};{fault}"
    return response


def _epoch(value: Any, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    raise _invalid(f"The parameter {name} must be a timestamp.")


def _named(dimensions: Any) -> dict[str, str]:
    if not isinstance(dimensions, list):
        raise _invalid("The parameter Dimensions must be a list.")
    named: dict[str, str] = {}
    for dimension in dimensions:
        if not isinstance(dimension, dict) or not {"Name", "Value"} <= dimension.keys():
            raise _error(
                "MissingRequiredParameterException", "A dimension needs a Name and a Value."
            )
        named[str(dimension["Name"])] = str(dimension["Value"])
    return named


def _series(named: dict[str, str]) -> tuple[str, str] | None:
    """(function name, qualifier) of Lambda's dimensions; None when no such series exists."""
    if not named:
        return "", ""
    if named.keys() == {"FunctionName"}:
        return named["FunctionName"], ""
    if named.keys() <= {"FunctionName", "Resource"} and "Resource" in named:
        function_name, _, qualifier = named["Resource"].partition(":")
        if named.get("FunctionName", function_name) != function_name:
            return None
        return function_name, qualifier
    return None


def _counter_series(namespace: str, metric: str, named: dict[str, str]) -> tuple[str, str] | None:
    """(dimension, value) of a series kept as counters (event source mappings' and rules'
    metrics); None for any other metric or dimensions."""
    if namespace == "AWS/Lambda" and metric in selectors.MAPPING_METRICS:
        dimension = selectors.MAPPING_DIMENSION
    elif namespace == selectors.EVENTS_NAMESPACE and metric in selectors.RULE_METRICS:
        if not named:
            return "", ""  # the account's rules together
        dimension = selectors.RULE_DIMENSION
    else:
        return None
    if named.keys() != {dimension}:
        return None
    return dimension, named[dimension]


def _counter_statistics(count: int, wanted: list[str]) -> dict[str, float]:
    """Counters are published as one value of 1 per event, as Lambda's are."""
    values: dict[str, float] = {}
    for stat in wanted:
        if stat in ("Sum", "SampleCount"):
            values[stat] = float(count)
        elif count:
            values[stat] = 1.0
    return values


def _statistics(metric: str, point: Point, wanted: list[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for stat in wanted:
        if metric in selectors.COUNTERS:
            count = selectors.stat_value(point, metric, "Sum") or 0.0
            value: float | None = {
                "Sum": count,
                "SampleCount": count,
            }.get(stat, 1.0 if count else None)
        elif metric == "ConcurrentExecutions":
            value = point.concurrency_max if stat in ("Maximum", "Average", "Minimum") else 1.0
        else:
            value = selectors.stat_value(point, metric, stat)
        if value is not None:
            values[stat] = float(value)
    return values


def get_metric_statistics(
    account_id: str, params: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The operation itself: datapoints of one Lambda metric in one account."""
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    for name in ("Namespace", "MetricName", "StartTime", "EndTime", "Period"):
        if name not in params:
            raise _error("MissingRequiredParameterException", f"The parameter {name} is required.")
    start, end = _epoch(params["StartTime"], "StartTime"), _epoch(params["EndTime"], "EndTime")
    period = params["Period"]
    if not isinstance(period, int) or period < 1:
        raise _invalid("The parameter Period must be a positive integer.")
    if period % MINUTE:
        raise _invalid("The parameter Period must be a multiple of 60.")
    statistics = list(params.get("Statistics") or [])
    extended = list(params.get("ExtendedStatistics") or [])
    if bool(statistics) == bool(extended):
        raise _error(
            "InvalidParameterCombinationException",
            "Must specify either Statistics or ExtendedStatistics, but not both.",
        )
    for stat in statistics:
        if stat not in selectors.BASIC_STATS:
            raise _invalid(f"The parameter Statistics contains an invalid value: {stat}.")
    for stat in extended:
        match = _EXTENDED.match(stat)
        if match is None or not 0 <= float(match.group(1)) <= 100:
            raise _invalid(f"The parameter ExtendedStatistics contains an invalid value: {stat}.")
    if start >= end:
        raise _invalid("The parameter StartTime must be less than the parameter EndTime.")
    resolution = selectors.resolution_for(start, now)
    aligned = int(start) // resolution * resolution
    requested = math.ceil((end - aligned) / period)
    if requested > selectors.MAX_DATAPOINTS:
        raise _error(
            "InvalidParameterCombinationException",
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{selectors.MAX_DATAPOINTS:,}. You may reduce the datapoints requested by "
            "increasing Period, or decreasing the time range.",
        )
    metric = str(params["MetricName"])
    named = _named(params.get("Dimensions", []))
    result: dict[str, Any] = {"Label": metric, "Datapoints": []}
    namespace = str(params["Namespace"])
    counter = _counter_series(namespace, metric, named)
    if counter is not None:
        if period % resolution or (extended and not statistics):
            return result
        counts = selectors.counters_read(
            account_id,
            namespace,
            counter[0],
            counter[1],
            metric,
            resolution,
            aligned,
            math.ceil(end),
            period,
        )
        for timestamp, count in sorted(counts.items()):
            if count:
                counted: dict[str, Any] = {"Timestamp": timestamp, "Unit": "Count"}
                counted.update(_counter_statistics(count, statistics))
                result["Datapoints"].append(counted)
        return result
    series = _series(named)
    # Other namespaces, metrics we do not keep, and periods finer than the data still kept
    # answer no datapoints, as CloudWatch does.
    if (
        namespace != "AWS/Lambda"
        or metric not in selectors.METRICS
        or metric in selectors.MAPPING_METRICS
        or series is None
        or period % resolution
    ):
        return result
    # Periods start at StartTime (rounded to the resolution), as CloudWatch aligns them.
    periods = selectors.points_read(
        account_id,
        series[0],
        series[1],
        resolution,
        aligned,
        math.ceil(end),
        period,
        with_sketch=bool(extended),
    )
    unit = "Milliseconds" if metric in selectors.DISTRIBUTIONS else "Count"
    for timestamp, point in sorted(periods.items()):
        datapoint: dict[str, Any] = {
            "Timestamp": timestamp,
            "Unit": unit,
        }
        datapoint.update(_statistics(metric, point, statistics))
        if extended and metric == "Duration":
            percentiles = {stat: selectors.stat_value(point, metric, stat) for stat in extended}
            known = {stat: value for stat, value in percentiles.items() if value is not None}
            if known:
                datapoint["ExtendedStatistics"] = known
        if len(datapoint) > 2:
            result["Datapoints"].append(datapoint)
    return result


OPERATIONS = {"GetMetricStatistics": get_metric_statistics}


@csrf_exempt
def dispatch(request: HttpRequest) -> HttpResponse:
    """``POST /`` with ``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``."""
    request_id = new_request_id()
    operation = request.headers.get("X-Amz-Target", "").partition(".")[2]
    identity: object | None = None
    try:
        handler = OPERATIONS.get(operation)
        if handler is None or request.method != "POST":
            raise _error("UnknownOperationException", f"Unknown operation {operation}")
        body = request.body
        signed = authentication.verify(request, body, service="monitoring")
        identity = signed
        try:
            params = strictjson.loads(body) if body.strip() else {}
        except strictjson.JSONError as exc:
            raise _error("SerializationException", f"Malformed JSON body: {exc}") from exc
        if not isinstance(params, dict):
            raise _error("SerializationException", "The request body must be a JSON object.")
        try:
            # What this process recorded but has not flushed yet, so reads see own writes.
            recorder.flush()
        except Exception:
            logger.exception("flushing metric points before a query failed")
        key = signed.access_key
        access.authorize(key, key.user, signed.region, request, "monitoring", operation, params)
        # A role's session acts in the role's account (which may be another than its user's).
        account_id = key.account_id if isinstance(key, TemporaryCredential) else key.user.account_id
        answer = handler(account_id, params)
    except AWSError as error:
        _observed(request, request_id, operation, identity, error=error)
        return _error_response(error, request_id)
    except Exception:
        logger.exception("Unhandled error in CloudWatch %s (request %s)", operation, request_id)
        failure = _error("InternalServiceFault", "An internal error occurred.", 500)
        _observed(request, request_id, operation, identity, error=failure)
        return _error_response(failure, request_id)
    _observed(request, request_id, operation, identity)
    return _json_response(answer, request_id)


def _observed(
    request: HttpRequest,
    request_id: str,
    operation: str,
    identity: object | None,
    error: AWSError | None = None,
) -> None:
    """Tell the audit trail (``awsapi.observe``); CloudWatch's reads record no answer."""
    if observe.active():
        observe.notify(
            observe.ApiCall(
                service="monitoring",
                operation=operation,
                http=request,
                request_id=request_id,
                caller=identity,
                status=error.status if error is not None else 200,
                error=error,
            )
        )
