"""The CloudWatch metrics API's views: one per wire form, sharing everything after parsing.

SigV4 for service ``monitoring``; every call is authorized through ``iam.access`` as the
``cloudwatch:<Operation>`` action (CloudWatch's IAM prefix differs from its signing name).
A role's session acts in the role's account, so a function publishes metrics with its
execution role's credentials into its own account.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from awsapi import observe
from awsapi.errors import AWSError, new_request_id
from iam import access, authentication
from iam.models import TemporaryCredential
from monitoring.metrics.cloudwatch import alarms, data, listing, put, statistics, wire
from monitoring.metrics.recorder import recorder

logger = logging.getLogger(__name__)

TARGET_PREFIX = wire.TARGET_PREFIX
# CloudWatch's limit on a request's size (PutMetricData's, the largest request), and on
# what a gzip body (botocore compresses PutMetricData bodies over 10 KB) may expand to.
MAX_BODY_BYTES = 1024 * 1024
MAX_EXPANDED_BYTES = 4 * MAX_BODY_BYTES

Handler = Callable[[str, dict[str, Any], float], dict[str, Any]]
OPERATIONS: dict[str, Handler] = {
    "GetMetricStatistics": statistics.get_metric_statistics,
    "GetMetricData": data.get_metric_data,
    "ListMetrics": listing.list_metrics,
    "PutMetricData": put.put_metric_data,
    "PutMetricAlarm": alarms.put_metric_alarm,
    "DescribeAlarms": alarms.describe_alarms,
    "DescribeAlarmsForMetric": alarms.describe_alarms_for_metric,
    "DeleteAlarms": alarms.delete_alarms,
    "SetAlarmState": alarms.set_alarm_state,
    "DescribeAlarmHistory": alarms.describe_alarm_history,
    "EnableAlarmActions": alarms.enable_alarm_actions,
    "DisableAlarmActions": alarms.disable_alarm_actions,
    "TagResource": alarms.tag_resource,
    "UntagResource": alarms.untag_resource,
    "ListTagsForResource": alarms.list_tags_for_resource,
}
# Reads see what this process recorded but has not flushed yet.
_READS = {"GetMetricStatistics", "GetMetricData", "ListMetrics"}


@csrf_exempt
def dispatch(request: HttpRequest) -> HttpResponse:
    """``POST /`` with ``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``."""
    operation = request.headers.get("X-Amz-Target", "").partition(".")[2]
    return _serve(request, operation, wire.Form.JSON)


@csrf_exempt
def dispatch_rpc_v2(request: HttpRequest, operation: str) -> HttpResponse:
    """``POST /service/GraniteServiceVersion20100801/operation/<Operation>`` (RPC v2 CBOR)."""
    return _serve(request, operation, wire.Form.CBOR)


def _serve(request: HttpRequest, operation: str, form: wire.Form) -> HttpResponse:
    request_id = new_request_id()
    identity: object | None = None
    try:
        handler = OPERATIONS.get(operation)
        if handler is None or request.method != "POST":
            raise AWSError(
                f"Unknown operation {operation[:128]}", code="UnknownOperationException", status=400
            )
        if form is wire.Form.CBOR and request.headers.get("smithy-protocol") != "rpc-v2-cbor":
            raise AWSError(
                "The smithy-protocol header must be rpc-v2-cbor.",
                code="SerializationException",
                status=400,
            )
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            raise _too_large(declared)
        body = request.body
        if len(body) > MAX_BODY_BYTES:
            raise _too_large(str(len(body)))
        signed = authentication.verify(request, body, service="monitoring")
        identity = signed
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding == "gzip":
            body = wire.gunzip(body, MAX_EXPANDED_BYTES)
        elif encoding not in ("", "identity"):
            raise AWSError(
                f"Unsupported Content-Encoding {encoding[:32]}",
                code="SerializationException",
                status=400,
            )
        params = wire.parse(body, form)
        if operation in _READS:
            try:
                recorder.flush()
            except Exception:
                logger.exception("flushing metric points before a query failed")
        key = signed.access_key
        access.authorize(key, key.user, signed.region, request, "monitoring", operation, params)
        # A role's session acts in the role's account (which may be another than its user's).
        account_id = key.account_id if isinstance(key, TemporaryCredential) else key.user.account_id
        answer = handler(account_id, params, dt.datetime.now(dt.UTC).timestamp())
    except AWSError as error:
        _observed(request, request_id, operation, identity, error=error)
        return wire.error_answer(error, form, request_id)
    except Exception:
        logger.exception("Unhandled error in CloudWatch %s (request %s)", operation, request_id)
        failure = AWSError("An internal error occurred.", code="InternalServiceFault", status=500)
        _observed(request, request_id, operation, identity, error=failure)
        return wire.error_answer(failure, form, request_id)
    _observed(request, request_id, operation, identity)
    return wire.answer(answer, form, request_id)


def _too_large(size: str) -> AWSError:
    return AWSError(
        f"Request size {size[:20]} exceeded {MAX_BODY_BYTES} bytes",
        code="RequestEntityTooLarge",
        status=413,
    )


def _observed(
    request: HttpRequest,
    request_id: str,
    operation: str,
    identity: object | None,
    error: AWSError | None = None,
) -> None:
    """Tell the audit trail (``awsapi.observe``); CloudWatch's calls record no answer."""
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
