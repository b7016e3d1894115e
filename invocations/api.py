"""The Invoke API (the hot path): an async view straight onto the environment pool.

No Celery and no thread hop on a warm call: the signature check and the function lookup
are served from per-process caches, and the pool runs on the server's own event loop.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi import eventstream, internal
from awsapi.apiview import ApiResponse
from awsapi.errors import AWSError
from awsapi.validation import validate
from iam.authentication import ApiRequest, lambda_api_async
from iam.models import Account
from invocations import acceptance, eventloop, selectors, services
from invocations.models import AsyncInvocation
from monitoring.ingest import ingestor
from platformapi.authentication import ConsoleSessionAuthentication, SigV4Authentication
from platformapi.permissions import Action, require
from platformapi.views import SignedInRequest

logger = logging.getLogger(__name__)

# X-Ray's trace header, as API Gateway and the SDKs pass it to Invoke.
TRACE_HEADER = "X-Amzn-Trace-Id"


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
    target = await services.invoke_target(
        req.resource_account, function_name, params.get("Qualifier")
    )
    invocation_type = params.get("InvocationType", "RequestResponse")
    if invocation_type == "DryRun":
        return ApiResponse(None, status=204)
    if invocation_type == "Event":
        acceptance.check_event_payload(req.body)
        await acceptance.event_accept(
            target,
            request_id=req.request_id,
            payload=payload,
            client_context=client_context,
            trace_header=req.http.headers.get(TRACE_HEADER),
        )
        return ApiResponse(None, status=202)
    done = await services.invoke_sync(
        target,
        request_id=req.request_id,
        payload=payload,
        client_context=client_context,
        trace_header=req.http.headers.get(TRACE_HEADER),
    )
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": done.executed_version}
    if done.result.function_error:
        headers["X-Amz-Function-Error"] = done.result.function_error
    if params.get("LogType") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(done.log_tail.encode()).decode()
    return ApiResponse(done.result.payload, headers=headers)


@lambda_api_async(
    "InvokeWithResponseStream",
    max_body=services.MAX_PAYLOAD_BYTES,
    limit_operation="InvokeFunction",
    methods=("POST",),
)
async def invoke_with_response_stream(req: ApiRequest, function_name: str) -> ApiResponse:
    """The response as an event stream: a ``PayloadChunk`` per piece the function writes,
    sent as it is written, then ``InvokeComplete`` (errors and the log tail go there, the
    HTTP status being 200 by then)."""
    params: dict[str, Any] = {"FunctionName": function_name}
    for member, header in (
        ("InvocationType", "X-Amz-Invocation-Type"),
        ("LogType", "X-Amz-Log-Type"),
        ("ClientContext", "X-Amz-Client-Context"),
    ):
        value = req.http.headers.get(header)
        if value is not None:
            params[member] = value
    if "Qualifier" in req.http.GET:
        params["Qualifier"] = req.http.GET["Qualifier"]
    validate("lambda", "InvokeWithResponseStream", params)
    payload = services.check_payload(req.body)
    client_context = services.decode_client_context(params.get("ClientContext"))
    target = await services.invoke_target(
        req.resource_account, function_name, params.get("Qualifier")
    )
    if params.get("InvocationType") == "DryRun":
        return ApiResponse(None, status=204)
    running = await services.invoke_stream(
        target,
        request_id=req.request_id,
        payload=payload,
        client_context=client_context,
        trace_header=req.http.headers.get(TRACE_HEADER),
    )
    headers = {
        "Content-Type": "application/vnd.amazon.eventstream",
        "X-Amz-Executed-Version": running.executed_version,
    }
    return ApiResponse(
        _event_stream(running, tail=params.get("LogType") == "Tail"), headers=headers
    )


async def _event_stream(running: services.StreamInvocation, *, tail: bool) -> AsyncIterator[bytes]:
    try:
        async for piece in running:
            assert isinstance(piece, bytes)  # no prelude asked for
            yield eventstream.payload_chunk(piece)
    except AWSError as error:  # after the 200 went out: the error can only go here
        yield eventstream.invoke_complete(error.code, error.message)
        return
    outcome = running.outcome
    assert outcome is not None
    log_result = base64.b64encode(outcome.log_tail.encode()).decode() if tail else None
    yield eventstream.invoke_complete(outcome.error_type, outcome.error_message, log_result)


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
    target = await services.invoke_target(req.resource_account, function_name, None)
    await acceptance.event_accept(
        target,
        request_id=req.request_id,
        payload=payload,
        trace_header=req.http.headers.get(TRACE_HEADER),
    )
    return ApiResponse(b'{"Status": 202}', status=202, headers={"Content-Type": "application/json"})


@csrf_exempt
async def internal_invoke(request: HttpRequest) -> HttpResponse:
    """A batch of asynchronous attempts for this server's own worker (the embedded profile's
    single executor, see :mod:`invocations.remote`), run side by side (as many at a time as
    the worker would itself); signed, never public.
    Each attempt is answered with its result or its AWS error."""
    body = request.body
    if request.method != "POST" or not internal.signed(request):
        return HttpResponse(status=403)
    attempts: list[dict[str, Any]] = json.loads(body)["Attempts"]
    accounts: dict[str, Account | None] = {}
    for account_id in {attempt["AccountId"] for attempt in attempts}:
        accounts[account_id] = await Account.objects.filter(pk=account_id).afirst()
    outcomes = await eventloop.gather_limited(
        [_internal_attempt(accounts[attempt["AccountId"]], attempt) for attempt in attempts],
        settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    # The attempts' log lines are stored before they are answered (and so before they are done).
    await sync_to_async(ingestor.flush, thread_sensitive=False)()
    return JsonResponse({"Outcomes": outcomes})


async def _internal_attempt(account: Account | None, attempt: dict[str, Any]) -> dict[str, Any]:
    if account is None:
        missing = {"code": "ResourceNotFoundException", "message": "The account does not exist."}
        return {"Error": {**missing, "status": 404}}
    try:
        target = await services.invoke_target(
            account, attempt["FunctionName"], attempt["Qualifier"]
        )
        done = await services.invoke_sync(
            target,
            request_id=attempt["RequestId"],
            payload=base64.b64decode(attempt["Payload"]),
            client_context=attempt["ClientContext"],
            trace_header=attempt.get("TraceHeader") or None,
            queued=services.Queued(attempt["QueuedAt"], attempt["Attempt"])
            if attempt.get("QueuedAt") is not None
            else None,
        )
    except AWSError as error:
        return {"Error": {"code": error.code, "message": error.message, "status": error.status}}
    return {
        "Payload": base64.b64encode(done.result.payload).decode(),
        "FunctionError": done.result.function_error,
        "ExecutedVersion": done.executed_version,
    }


class AsyncInvocationsInput(serializers.Serializer[Any]):
    Status = serializers.ChoiceField(
        choices=AsyncInvocation.Status.values,
        required=False,
        error_messages={
            "invalid_choice": f"Status must be one of: {', '.join(AsyncInvocation.Status.values)}"
        },
    )
    FunctionName = serializers.CharField(required=False)
    MaxItems = serializers.IntegerField(
        required=False,
        default=50,
        min_value=1,
        max_value=1000,
        error_messages={
            key: "MaxItems must be between 1 and 1000."
            for key in ("invalid", "min_value", "max_value", "max_string_length")
        },
    )


class _Delivery(serializers.Serializer[Any]):
    Kind = serializers.CharField()
    TargetArn = serializers.CharField()


class _FailedDelivery(_Delivery):
    Error = serializers.CharField()


class AsyncInvocationOutput(serializers.Serializer[AsyncInvocation]):
    RequestId = serializers.CharField(source="request_id")
    FunctionName = serializers.CharField(source="function_name")
    Qualifier = serializers.CharField(source="qualifier", allow_null=True)
    Status = serializers.CharField(source="status")
    Attempts = serializers.IntegerField(source="attempts")
    FunctionErrors = serializers.IntegerField(source="function_errors")
    ExecutedVersion = serializers.CharField(source="executed_version", allow_null=True)
    LastError = serializers.CharField(source="last_error", allow_null=True)
    Created = serializers.DateTimeField(source="created")
    NextAttemptTime = serializers.DateTimeField(source="next_attempt_at")
    Finished = serializers.DateTimeField(source="finished", allow_null=True)
    # Why it ended (Success, RetriesExhausted, EventAgeExceeded) and its records: those
    # still to send (DLQ / destinations) and those that could not be delivered.
    Condition = serializers.CharField(source="condition", allow_null=True)
    PendingDeliveries = serializers.SerializerMethodField()
    FailedDeliveries = serializers.SerializerMethodField()

    def to_representation(self, row: AsyncInvocation) -> dict[str, Any]:
        data = super().to_representation(row)
        # Empty texts are "none" in the table; the API says null.
        for key in ("Qualifier", "ExecutedVersion", "LastError", "Condition"):
            data[key] = data[key] or None
        return data

    @extend_schema_field(_Delivery(many=True))
    def get_PendingDeliveries(self, row: AsyncInvocation) -> list[dict[str, str]]:
        return [{"Kind": d["kind"], "TargetArn": d["arn"]} for d in row.deliveries]

    @extend_schema_field(_FailedDelivery(many=True))
    def get_FailedDeliveries(self, row: AsyncInvocation) -> list[dict[str, str]]:
        return [
            {"Kind": d["kind"], "TargetArn": d["arn"], "Error": d["error"]}
            for d in row.delivery_errors
        ]


class AsyncInvocationsOutput(serializers.Serializer[Any]):
    AsyncInvocations = AsyncInvocationOutput(many=True)


class AsyncInvocationsView(APIView):
    """Functory's own: an account's asynchronous invocations, newest first. Signed with an
    access key (SigV4, service ``lambda``) or from a console session."""

    authentication_classes = [SigV4Authentication, ConsoleSessionAuthentication]

    @extend_schema(parameters=[AsyncInvocationsInput], responses=AsyncInvocationsOutput)
    def get(self, request: SignedInRequest) -> Response:
        params = AsyncInvocationsInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        require(request, Action.LIST_FUNCTIONS)
        rows = selectors.async_invocations_for_account(
            request.user.account,
            status=query.get("Status"),
            function_name=query.get("FunctionName"),
        )[: query["MaxItems"]]
        return Response(AsyncInvocationsOutput({"AsyncInvocations": rows}).data)
