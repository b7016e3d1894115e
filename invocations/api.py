"""The Invoke API (the hot path): an async view straight onto the environment pool.

No Celery and no thread hop on a warm call: the signature check and the function lookup
are served from per-process caches, and the pool runs on the server's own event loop.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from console import sigv4
from console.errors import (
    AWSError,
    InvalidParameterValue,
    InvalidRequestContent,
    new_request_id,
    rest_json_error,
)
from console.validation import validate
from invocations import runner, selectors
from invocations.executor.catalog import RuntimeUnavailable
from invocations.executor.environment import tail
from invocations.executor.spec import InvokeRequest

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_CLIENT_CONTEXT_BYTES = 3583


def _header_params(request: HttpRequest, function_name: str) -> dict[str, Any]:
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
    return params


def _client_context(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_CLIENT_CONTEXT_BYTES:
        raise InvalidParameterValue(
            f"Client context must be less than or equal to {MAX_CLIENT_CONTEXT_BYTES} bytes."
        )
    try:
        decoded = base64.b64decode(value, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object."
        ) from exc
    return decoded


def _check_payload(body: bytes) -> bytes:
    if len(body) > MAX_PAYLOAD_BYTES:
        raise AWSError(
            f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction "
            "operation",
            code="RequestTooLargeException",
            status=413,
        )
    if not body.strip():
        return b"{}"
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from exc
    return body


async def _target(
    account: Any, function_name: str, qualifier: str | None
) -> selectors.InvokeTarget:
    cached = selectors.invoke_target_cached(account.id, function_name, qualifier)
    if cached is not None:
        return cached
    resolve = sync_to_async(selectors.invoke_target_resolve, thread_sensitive=False)
    target: selectors.InvokeTarget = await resolve(account, function_name, qualifier)
    return target


@csrf_exempt
async def invoke(request: HttpRequest, function_name: str) -> HttpResponse:
    request_id = new_request_id()
    try:
        if request.method != "POST":
            raise AWSError("Unknown operation", code="UnknownOperationException", status=404)
        body = request.body
        identity = await sigv4.verify_async(request, body)
        params = _header_params(request, function_name)
        validate("lambda", "Invoke", params)
        payload = _check_payload(body)
        client_context = _client_context(params.get("ClientContext"))
        account = identity.access_key.user.account
        target = await _target(account, function_name, params.get("Qualifier"))
        invocation_type = params.get("InvocationType", "RequestResponse")
        if invocation_type == "DryRun":
            response = HttpResponse(status=204)
            response["x-amzn-RequestId"] = request_id
            return response
        if invocation_type == "Event":
            raise InvalidParameterValue(
                "Asynchronous invocation (InvocationType Event) is not available on this "
                "server yet."
            )
        chosen = target.choose()
        try:
            result = await runner.pool().invoke(
                chosen.spec,
                InvokeRequest(
                    request_id=request_id,
                    payload=payload,
                    invoked_arn=target.invoked_arn,
                    client_context=client_context,
                    tail_logs=params.get("LogType") == "Tail",
                ),
            )
        except RuntimeUnavailable as exc:
            raise AWSError(str(exc), code="InvalidRuntimeException", status=502) from exc
        response = HttpResponse(result.payload, status=200, content_type="application/json")
        response["X-Amz-Executed-Version"] = chosen.version
        if result.function_error:
            response["X-Amz-Function-Error"] = result.function_error
        if params.get("LogType") == "Tail":
            response["X-Amz-Log-Result"] = base64.b64encode(
                tail(result.log_lines).encode()
            ).decode()
        response["x-amzn-RequestId"] = request_id
        return response
    except AWSError as error:
        return rest_json_error(error, request_id)
    except Exception:
        logger.exception("Unhandled error in Invoke (request %s)", request_id)
        return rest_json_error(AWSError("An internal error occurred."), request_id)
