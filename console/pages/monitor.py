"""Console: the Monitor tab — charts (from the metrics API), live logs and recent invocations.

The charts read ``/_functory/api/metrics`` and the logs panel the live-tail WebSocket; the
recent-invocations table is rebuilt from the log group's START/REPORT lines here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import path, reverse

from console.consoleapi import console_json
from console.pages._request import ConsoleRequest
from functions import selectors
from functions.models import Function
from iam.models import User
from monitoring import invocation_logs


def log_group_of(function: Function) -> str:
    """The log group the function writes to (its logging config, else the default)."""
    config = selectors.latest_version(function).logging_config or {}
    return str(config.get("LogGroup") or f"/aws/lambda/{function.name}")


def _function(request: ConsoleRequest, name: str) -> tuple[User, Function]:
    return request.user, selectors.function_get_for_account(request.user.account, name)


@console_json
def recent(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """GET: the newest invocations (request id, time, duration, status), newest first."""
    user, function = _function(request, name)
    return {"invocations": invocation_logs.recent_invocations(user.account, log_group_of(function))}


@console_json
def invocation(request: ConsoleRequest, name: str, request_id: str) -> dict[str, Any]:
    """GET: the log lines of one invocation."""
    user, function = _function(request, name)
    lines = invocation_logs.invocation_lines(user.account, log_group_of(function), request_id)
    return {"request_id": request_id, "lines": lines}


urlpatterns = [
    path("functions/<str:name>/monitor/invocations", recent, name="monitor-invocations"),
    path(
        "functions/<str:name>/monitor/invocations/<str:request_id>",
        invocation,
        name="monitor-invocation",
    ),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    return {
        "monitor_log_group": log_group_of(function),
        # The account-level list, narrowed to this function.
        "monitor_async_url": reverse("async-invocations")
        + "?"
        + urlencode({"function": function.name}),
    }
