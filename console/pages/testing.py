"""Console: the Test tab — saved test events, event templates, and the Test button.

The Test button runs through the same path as the Invoke API (``invoke_target`` then
``invoke_sync``), so a console test is an ordinary synchronous invocation: same routing,
concurrency accounting, metrics and logs.
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi import strictjson
from awsapi.errors import ResourceNotFound, new_request_id
from console.pages._request import ConsoleRequest
from console.permissions import Action, require
from functions import event_templates, selectors
from functions.models import Function, TestEvent
from functions.services import saved_events
from iam.models import User
from invocations import services as invocations
from monitoring.invocation_logs import report_parse
from platformapi.views import AsyncAPIView, SignedInRequest


class TestEventInput(serializers.Serializer[Any]):
    """A saved event; its name, size and the per-user limits are checked by the service."""

    name = serializers.CharField(required=False, default="", allow_blank=True)
    payload = serializers.JSONField(required=False, default=dict)
    shared = serializers.BooleanField(required=False, default=False)


class TestEventOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    payload = serializers.JSONField()
    shared = serializers.BooleanField()
    owner = serializers.CharField(help_text="The user who saved it.")
    mine = serializers.BooleanField(help_text="Whether the caller saved it.")


class TestEventListOutput(serializers.Serializer[Any]):
    events = TestEventOutput(many=True)


def event_json(event: TestEvent, user: User) -> dict[str, Any]:
    return {
        "id": event.pk,
        "name": event.name,
        "payload": event.payload,
        "shared": event.shared,
        "owner": event.owner.username,
        "mine": event.owner_id == user.pk,
    }


def _function(user: User, name: str) -> Function:
    return selectors.function_get_for_account(user.account, name)


def _event_input(request: SignedInRequest) -> dict[str, Any]:
    data = TestEventInput(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def _require_save(request: SignedInRequest, function: Function, *, shared: bool) -> None:
    """Saving (or deleting) a private test event needs what running it needs; a shareable
    one, which everyone testing the function sees, needs UpdateFunctionConfiguration."""
    require(request, Action.SAVE_TEST_EVENT, FunctionName=function.name)
    if shared:
        require(request, Action.SHARE_TEST_EVENT, FunctionName=function.name)


class EventsView(APIView):
    @extend_schema(responses=TestEventListOutput)
    def get(self, request: SignedInRequest, name: str) -> Response:
        """The saved events this user may use: their own and the shared ones."""
        user = request.user
        function = _function(user, name)
        require(request, Action.VIEW_FUNCTION, FunctionName=function.name)
        events = selectors.test_events_list(user, function)
        return Response({"events": [event_json(e, user) for e in events]})

    @extend_schema(request=TestEventInput, responses={201: TestEventOutput})
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Save a new event."""
        user = request.user
        function = _function(user, name)
        values = _event_input(request)
        _require_save(request, function, shared=values["shared"])
        event = saved_events.test_event_create(user=user, function=function, **values)
        return Response(event_json(event, user), status=201)


class EventDetailView(APIView):
    @extend_schema(request=TestEventInput, responses=TestEventOutput)
    def put(self, request: SignedInRequest, name: str, event_id: int) -> Response:
        """Change an event (its owner; anyone for a shared event)."""
        user = request.user
        function = _function(user, name)
        event = selectors.test_event_get_for_user(user, function, event_id)
        values = _event_input(request)
        _require_save(request, function, shared=values["shared"] or event.shared)
        event = saved_events.test_event_update(user=user, event=event, **values)
        return Response(event_json(event, user))

    @extend_schema(responses={204: None})
    def delete(self, request: SignedInRequest, name: str, event_id: int) -> Response:
        user = request.user
        function = _function(user, name)
        event = selectors.test_event_get_for_user(user, function, event_id)
        _require_save(request, function, shared=event.shared)
        saved_events.test_event_delete(event=event)
        return Response(status=204)


class TemplateOutput(serializers.Serializer[Any]):
    key = serializers.CharField()
    payload = serializers.JSONField()


class TemplateView(APIView):
    @extend_schema(responses=TemplateOutput)
    def get(self, request: SignedInRequest, name: str, key: str) -> Response:
        """An event template's payload (the templates are listed on the page)."""
        function = _function(request.user, name)
        require(request, Action.VIEW_FUNCTION, FunctionName=function.name)
        payload = event_templates.template_payload(key)
        if payload is None:
            raise ResourceNotFound(f"Event template not found: {key}")
        return Response({"key": key, "payload": payload})


def _result(request_id: str, done: invocations.SyncInvocation) -> dict[str, Any]:
    result = done.result
    try:
        response: Any = (
            strictjson.loads(result.payload, max_depth=strictjson.PAYLOAD_MAX_DEPTH)
            if result.payload
            else None
        )
    except strictjson.JSONError:
        response = result.payload.decode("utf-8", "replace")
    summary: dict[str, Any] = {
        "request_id": request_id,
        "duration_ms": round(result.duration_ms, 2),
        "billed_ms": result.billed_ms,
        "memory_mb": None,
        "max_memory_mb": result.max_memory_mb,
        "init_duration_ms": (
            round(result.init_duration_ms, 2) if result.init_duration_ms is not None else None
        ),
    }
    # The REPORT line is what the user sees in the logs; prefer its figures when present.
    for line in reversed(result.log_lines):
        report = report_parse(line)
        if report is not None and report.request_id == request_id:
            summary.update(
                {k: v for k, v in vars(report).items() if v is not None and k != "request_id"}
            )
            break
    return {
        "status": "failed" if result.function_error else "succeeded",
        "error_type": result.error_type,
        "response": response,
        "executed_version": done.executed_version,
        "log": "".join(f"{line}\n" for line in result.log_lines),
        "summary": summary,
    }


class InvokeInput(serializers.Serializer[Any]):
    payload = serializers.JSONField(required=False, default=dict, help_text="The event.")


class InvokeSummaryOutput(serializers.Serializer[Any]):
    request_id = serializers.CharField()
    duration_ms = serializers.FloatField()
    billed_ms = serializers.IntegerField()
    memory_mb = serializers.IntegerField(allow_null=True)
    max_memory_mb = serializers.IntegerField(allow_null=True)
    init_duration_ms = serializers.FloatField(allow_null=True)


class InvokeOutput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    error_type = serializers.CharField(allow_null=True)
    response = serializers.JSONField(allow_null=True, help_text="The function's result.")
    executed_version = serializers.CharField()
    log = serializers.CharField(allow_blank=True)
    summary = InvokeSummaryOutput()


class InvokeView(AsyncAPIView):
    @extend_schema(request=InvokeInput, responses=InvokeOutput)
    async def post(self, request: SignedInRequest, name: str) -> Response:
        """One synchronous invocation of $LATEST, through the Invoke path."""
        data = InvokeInput(data=request.data)
        await sync_to_async(data.is_valid)(raise_exception=True)
        payload = invocations.check_payload(json.dumps(data.validated_data["payload"]).encode())
        user = request.user
        function = await sync_to_async(_function)(user, name)
        await sync_to_async(require)(request, Action.TEST, FunctionName=function.name)
        account = await sync_to_async(lambda: user.account)()
        request_id = new_request_id()
        target = await invocations.invoke_target(account, function.name, None)
        done = await invocations.invoke_sync(target, request_id=request_id, payload=payload)
        return Response(_result(request_id, done))


urlpatterns = [
    path("functions/<str:name>/test/events", EventsView.as_view(), name="test-events"),
    path(
        "functions/<str:name>/test/events/<int:event_id>",
        EventDetailView.as_view(),
        name="test-event-detail",
    ),
    path(
        "functions/<str:name>/test/templates/<str:key>",
        TemplateView.as_view(),
        name="test-template",
    ),
    path("functions/<str:name>/test/invoke", InvokeView.as_view(), name="test-invoke"),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    user = request.user
    return {
        "test_templates": event_templates.template_list(),
        "test_events": [event_json(e, user) for e in selectors.test_events_list(user, function)],
        "test_limits": {
            "private": saved_events.MAX_PRIVATE,
            "shared": saved_events.MAX_SHARED,
        },
    }
