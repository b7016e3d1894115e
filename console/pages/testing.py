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

from awsapi import strictjson
from awsapi.errors import AWSError, ResourceNotFound, new_request_id
from console.consoleapi import console_json, console_json_async, request_json
from console.pages._request import ConsoleRequest
from functions import event_templates, selectors
from functions.models import Function, TestEvent
from functions.services import saved_events
from iam.models import User
from invocations import services as invocations
from monitoring.invocation_logs import report_parse


def _method_not_allowed() -> AWSError:
    return AWSError("Method not allowed.", code="MethodNotAllowed", status=405)


def _user(request: ConsoleRequest) -> User:
    return request.user


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


@console_json
def events(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """GET: the events this user may use; POST ``{name, payload, shared}``: save a new one."""
    user = _user(request)
    function = _function(user, name)
    if request.method == "GET":
        return {"events": [event_json(e, user) for e in selectors.test_events_list(user, function)]}
    if request.method != "POST":
        raise _method_not_allowed()
    data = request_json(request)
    event = saved_events.test_event_create(
        user=user,
        function=function,
        name=data.get("name", ""),
        payload=data.get("payload", {}),
        shared=bool(data.get("shared", False)),
    )
    return event_json(event, user)


@console_json
def event_detail(request: ConsoleRequest, name: str, event_id: int) -> dict[str, Any] | None:
    """PUT ``{name, payload, shared}``: change an event; DELETE: delete it."""
    user = _user(request)
    event = selectors.test_event_get_for_user(user, _function(user, name), event_id)
    if request.method == "PUT":
        data = request_json(request)
        event = saved_events.test_event_update(
            user=user,
            event=event,
            name=data.get("name", ""),
            payload=data.get("payload", {}),
            shared=bool(data.get("shared", False)),
        )
        return event_json(event, user)
    if request.method == "DELETE":
        saved_events.test_event_delete(event=event)
        return None
    raise _method_not_allowed()


@console_json
def template(request: ConsoleRequest, name: str, key: str) -> dict[str, Any]:
    _function(_user(request), name)
    payload = event_templates.template_payload(key)
    if payload is None:
        raise ResourceNotFound(f"Event template not found: {key}")
    return {"key": key, "payload": payload}


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


@console_json_async
async def invoke(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """POST ``{payload}``: one synchronous invocation of $LATEST, through the Invoke path."""
    if request.method != "POST":
        raise _method_not_allowed()
    user = await request.auser()
    assert isinstance(user, User)
    data = request_json(request)
    payload = invocations.check_payload(json.dumps(data.get("payload", {})).encode())
    function = await sync_to_async(_function)(user, name)
    account = await sync_to_async(lambda: user.account)()
    request_id = new_request_id()
    target = await invocations.invoke_target(account, function.name, None)
    done = await invocations.invoke_sync(target, request_id=request_id, payload=payload)
    return _result(request_id, done)


urlpatterns = [
    path("functions/<str:name>/test/events", events, name="test-events"),
    path(
        "functions/<str:name>/test/events/<int:event_id>",
        event_detail,
        name="test-event-detail",
    ),
    path("functions/<str:name>/test/templates/<str:key>", template, name="test-template"),
    path("functions/<str:name>/test/invoke", invoke, name="test-invoke"),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    user = _user(request)
    return {
        "test_templates": event_templates.template_list(),
        "test_events": [event_json(e, user) for e in selectors.test_events_list(user, function)],
        "test_limits": {
            "private": saved_events.MAX_PRIVATE,
            "shared": saved_events.MAX_SHARED,
        },
    }
