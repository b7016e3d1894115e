"""The Invoke API (the hot path): an async view straight onto the environment pool.

No Celery and no thread hop on a warm call: the signature check and the function lookup
are served from per-process caches, and the pool runs on the server's own event loop.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from awsapi import internal
from awsapi.apiview import ApiResponse, body_too_large
from awsapi.errors import AWSError, InvalidParameterValue, new_request_id, rest_json_error
from awsapi.validation import validate
from iam import authentication
from iam.authentication import ApiRequest, lambda_api
from iam.models import Account
from invocations import acceptance, selectors, services
from invocations.models import AsyncInvocation
from monitoring.ingest import ingestor

logger = logging.getLogger(__name__)


def _params(request: HttpRequest, function_name: str) -> dict[str, Any]:
    params: dict[str, Any] = {"FunctionName": function_name}
    for member, header in (
        ("InvocationType", "X-Amz-Invocation-Type"),
        ("LogType", "X-Amz-Log-Type"),
        ("ClientContext", "X-Amz-Client-Context"),
    ):
        value = request.headers.get(header)
        if value is not None:
            params[member] = value
    if "Qualifier" in request.GET:
        params["Qualifier"] = request.GET["Qualifier"]
    validate("lambda", "Invoke", params)
    return params


@csrf_exempt
async def invoke(request: HttpRequest, function_name: str) -> HttpResponse:
    request_id = new_request_id()
    try:
        if request.method != "POST":
            raise AWSError("Unknown operation", code="UnknownOperationException", status=404)
        if body_too_large(request, services.MAX_PAYLOAD_BYTES):
            raise services.payload_too_large()
        body = request.body
        identity = await authentication.verify_async(request, body, service="lambda")
        params = _params(request, function_name)
        payload = services.check_payload(body)
        client_context = services.decode_client_context(params.get("ClientContext"))
        account = identity.access_key.user.account
        target = await services.invoke_target(account, function_name, params.get("Qualifier"))
        invocation_type = params.get("InvocationType", "RequestResponse")
        if invocation_type == "DryRun":
            response = HttpResponse(status=204)
        elif invocation_type == "Event":
            acceptance.check_event_payload(body)
            await acceptance.event_accept(
                target, request_id=request_id, payload=payload, client_context=client_context
            )
            response = HttpResponse(status=202)
        else:
            done = await services.invoke_sync(
                target, request_id=request_id, payload=payload, client_context=client_context
            )
            response = HttpResponse(done.result.payload, content_type="application/json")
            response["X-Amz-Executed-Version"] = done.executed_version
            if done.result.function_error:
                response["X-Amz-Function-Error"] = done.result.function_error
            if params.get("LogType") == "Tail":
                response["X-Amz-Log-Result"] = base64.b64encode(done.log_tail.encode()).decode()
        response["x-amzn-RequestId"] = request_id
        return response
    except AWSError as error:
        return rest_json_error(error, request_id)
    except Exception:
        logger.exception("Unhandled error in Invoke (request %s)", request_id)
        return rest_json_error(AWSError("An internal error occurred."), request_id)


@csrf_exempt
async def invoke_async(request: HttpRequest, function_name: str) -> HttpResponse:
    """InvokeAsync (deprecated): an Event invoke answered with ``{"Status": 202}``."""
    request_id = new_request_id()
    try:
        if request.method != "POST":
            raise AWSError("Unknown operation", code="UnknownOperationException", status=404)
        if body_too_large(request, services.MAX_PAYLOAD_BYTES):
            raise services.payload_too_large()
        body = request.body
        identity = await authentication.verify_async(request, body, service="lambda")
        validate("lambda", "InvokeAsync", {"FunctionName": function_name, "InvokeArgs": b""})
        payload = services.check_payload(body)
        acceptance.check_event_payload(body)
        account = identity.access_key.user.account
        target = await services.invoke_target(account, function_name, None)
        await acceptance.event_accept(target, request_id=request_id, payload=payload)
        response = HttpResponse(b'{"Status": 202}', status=202, content_type="application/json")
        response["x-amzn-RequestId"] = request_id
        return response
    except AWSError as error:
        return rest_json_error(error, request_id)
    except Exception:
        logger.exception("Unhandled error in InvokeAsync (request %s)", request_id)
        return rest_json_error(AWSError("An internal error occurred."), request_id)


@csrf_exempt
async def internal_invoke(request: HttpRequest) -> HttpResponse:
    """One attempt of an asynchronous invocation for this server's own worker (the embedded
    profile's single executor, see :mod:`invocations.remote`); signed, never public."""
    body = request.body
    if request.method != "POST" or not internal.signed(request):
        return HttpResponse(status=403)
    attempt = json.loads(body)
    try:
        account = await Account.objects.aget(pk=attempt["AccountId"])
        target = await services.invoke_target(
            account, attempt["FunctionName"], attempt["Qualifier"]
        )
        done = await services.invoke_sync(
            target,
            request_id=attempt["RequestId"],
            payload=base64.b64decode(attempt["Payload"]),
            client_context=attempt["ClientContext"],
        )
    except Account.DoesNotExist:
        missing = {"code": "ResourceNotFoundException", "message": "The account does not exist."}
        return JsonResponse(missing, status=404)
    except AWSError as error:
        return JsonResponse({"code": error.code, "message": error.message}, status=error.status)
    # The attempt's log lines are stored before it is answered (and so before it is done).
    await sync_to_async(ingestor.flush, thread_sensitive=False)()
    return JsonResponse(
        {
            "Payload": base64.b64encode(done.result.payload).decode(),
            "FunctionError": done.result.function_error,
            "ExecutedVersion": done.executed_version,
        }
    )


def _async_invocation_json(row: AsyncInvocation) -> dict[str, Any]:
    return {
        "RequestId": row.request_id,
        "FunctionName": row.function_name,
        "Qualifier": row.qualifier or None,
        "Status": row.status,
        "Attempts": row.attempts,
        "FunctionErrors": row.function_errors,
        "ExecutedVersion": row.executed_version or None,
        "LastError": row.last_error or None,
        "Created": row.created.isoformat(),
        "NextAttemptTime": row.next_attempt_at.isoformat(),
        "Finished": row.finished.isoformat() if row.finished else None,
        # Why it ended (Success, RetriesExhausted, EventAgeExceeded) and its records: those
        # still to send (DLQ / destinations) and those that could not be delivered.
        "Condition": row.condition or None,
        "PendingDeliveries": [{"Kind": d["kind"], "TargetArn": d["arn"]} for d in row.deliveries],
        "FailedDeliveries": [
            {"Kind": d["kind"], "TargetArn": d["arn"], "Error": d["error"]}
            for d in row.delivery_errors
        ],
    }


@lambda_api("ListAsyncInvocations")
def list_async_invocations(req: ApiRequest) -> ApiResponse:
    """Functory's own: an account's asynchronous invocations (``Status``, ``FunctionName``,
    ``MaxItems`` filters), newest first."""
    status = req.http.GET.get("Status")
    if status is not None and status not in AsyncInvocation.Status.values:
        raise InvalidParameterValue(
            f"Status must be one of: {', '.join(AsyncInvocation.Status.values)}"
        )
    try:
        limit = int(req.http.GET.get("MaxItems", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise InvalidParameterValue("MaxItems must be between 1 and 1000.")
    rows = selectors.async_invocations_for_account(
        req.account, status=status, function_name=req.http.GET.get("FunctionName")
    )[:limit]
    return ApiResponse({"AsyncInvocations": [_async_invocation_json(row) for row in rows]})
