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
from awsapi.apiview import ApiResponse
from awsapi.errors import AWSError, InvalidParameterValue
from awsapi.validation import validate
from iam.authentication import ApiRequest, lambda_api, lambda_api_async
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


# Invoke's size limit is its payload's, and AWS's message names it 'InvokeFunction'.
@lambda_api_async(
    "Invoke",
    max_body=services.MAX_PAYLOAD_BYTES,
    limit_operation="InvokeFunction",
    methods=("POST",),
)
async def invoke(req: ApiRequest, function_name: str) -> ApiResponse:
    params = _params(req.http, function_name)
    payload = services.check_payload(req.body)
    client_context = services.decode_client_context(params.get("ClientContext"))
    target = await services.invoke_target(req.account, function_name, params.get("Qualifier"))
    invocation_type = params.get("InvocationType", "RequestResponse")
    if invocation_type == "DryRun":
        return ApiResponse(None, status=204)
    if invocation_type == "Event":
        acceptance.check_event_payload(req.body)
        await acceptance.event_accept(
            target, request_id=req.request_id, payload=payload, client_context=client_context
        )
        return ApiResponse(None, status=202)
    done = await services.invoke_sync(
        target, request_id=req.request_id, payload=payload, client_context=client_context
    )
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": done.executed_version}
    if done.result.function_error:
        headers["X-Amz-Function-Error"] = done.result.function_error
    if params.get("LogType") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(done.log_tail.encode()).decode()
    return ApiResponse(done.result.payload, headers=headers)


# InvokeAsync's limit and message are Invoke's.
@lambda_api_async(
    "InvokeAsync",
    max_body=services.MAX_PAYLOAD_BYTES,
    limit_operation="InvokeFunction",
    methods=("POST",),
)
async def invoke_async(req: ApiRequest, function_name: str) -> ApiResponse:
    """InvokeAsync (deprecated): an Event invoke answered with ``{"Status": 202}``."""
    validate("lambda", "InvokeAsync", {"FunctionName": function_name, "InvokeArgs": b""})
    payload = services.check_payload(req.body)
    acceptance.check_event_payload(req.body)
    target = await services.invoke_target(req.account, function_name, None)
    await acceptance.event_accept(target, request_id=req.request_id, payload=payload)
    return ApiResponse(b'{"Status": 202}', status=202, headers={"Content-Type": "application/json"})


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
