"""Console: the account's asynchronous invocations (InvocationType Event, InvokeAsync) —
what is queued, running, retrying, succeeded and failed — filtered by status and function.

The page renders the table once; its script then refetches only the table fragment (the
same query string, at ``async-invocations/table``) every few seconds while it is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET

from console import permissions
from console.pages._forms import account_of
from console.pages._request import ConsoleRequest, signed_in
from console.pages.function_list import NAME_PATTERN
from console.permissions import Action
from invocations import selectors
from invocations.models import AsyncInvocation

PAGE_SIZE = 50
# Longer errors show this much in the cell; the whole text is one click away.
ERROR_PREVIEW = 80
Status = AsyncInvocation.Status
SHOWN_FIELDS = (
    "request_id",
    "function_name",
    "qualifier",
    "status",
    "attempts",
    "function_errors",
    "next_attempt_at",
    "last_error",
    "created",
    "finished",
    "condition",
    "deliveries",
    "delivery_errors",
)


@dataclass(frozen=True)
class Filters:
    status: str | None
    function_name: str

    @classmethod
    def of(cls, request: HttpRequest) -> Filters:
        # Unknown values are ignored rather than refused, as the function list ignores an
        # unknown sort or page: a stale bookmark still opens a useful page.
        status = request.GET.get("status") or None
        if status not in Status.values:
            status = None
        return cls(status=status, function_name=request.GET.get("function", "").strip())

    def url(self, **changes: Any) -> str:
        params: dict[str, Any] = {"status": self.status, "function": self.function_name}
        params.update(changes)
        kept = {k: v for k, v in params.items() if v not in ("", None)}
        return reverse("async-invocations") + ("?" + urlencode(kept) if kept else "")


def _ago(moment: datetime, now: datetime) -> str:
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"


def _until(moment: datetime, now: datetime) -> str:
    # A due event waits for a worker (or the sweeper), so "due" is what the user should read.
    if moment <= now:
        return "due now"
    if moment - now < timedelta(minutes=1):
        return "in under a minute"
    return f"in {timesince(now, moment, depth=1)}"


def _row(invocation: AsyncInvocation, now: datetime) -> dict[str, Any]:
    waiting = invocation.status in (Status.QUEUED, Status.RETRYING)
    error = invocation.last_error
    return {
        "request_id": invocation.request_id,
        "function_name": invocation.function_name,
        "qualifier": invocation.qualifier,
        "status": invocation.status,
        "status_label": invocation.get_status_display(),
        "attempts": invocation.attempts,
        "function_errors": invocation.function_errors,
        "created": invocation.created,
        "created_ago": _ago(invocation.created, now),
        "next_attempt": invocation.next_attempt_at if waiting else None,
        "next_attempt_in": _until(invocation.next_attempt_at, now) if waiting else "",
        "finished": invocation.finished,
        "finished_ago": _ago(invocation.finished, now) if invocation.finished else "",
        "error": error,
        "error_preview": error if len(error) <= ERROR_PREVIEW else error[: ERROR_PREVIEW - 1] + "…",
        # Why it ended, and its dead-letter/destination records still to send or undelivered.
        "condition": invocation.condition,
        "pending": [d["arn"] for d in invocation.deliveries],
        "undelivered": [f"{d['arn']}: {d['error']}" for d in invocation.delivery_errors],
    }


def _table_context(request: ConsoleRequest) -> dict[str, Any]:
    """What the table fragment shows; shared by the page and its refresh."""
    account = account_of(request)
    filters = Filters.of(request)
    # Stored names are plain function names, so anything else matches no row; it is not
    # sent to the database at all (PostgreSQL refuses some characters, e.g. NUL).
    valid_name = not filters.function_name or bool(NAME_PATTERN.fullmatch(filters.function_name))
    function_name = filters.function_name or None
    rows = selectors.async_invocations_for_account(
        account, status=filters.status, function_name=function_name
    )
    if not valid_name:
        rows = rows.none()
    # Only the shown columns: payloads (up to 256 KB each) stay in the database, as the
    # table is refetched every few seconds.
    rows = rows.only(*SHOWN_FIELDS)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = (
        selectors.async_invocation_counts_for_account(account, function_name=function_name)
        if valid_name
        else dict.fromkeys(Status.values, 0)
    )
    status_links = [
        {
            "value": "",
            "label": "All",
            "count": sum(counts.values()),
            "url": filters.url(status=None),
            "current": filters.status is None,
        }
    ] + [
        {
            "value": value,
            "label": label,
            "count": counts[value],
            "url": filters.url(status=value),
            "current": filters.status == value,
        }
        for value, label in Status.choices
    ]
    now = timezone.now()
    return {
        "filters": filters,
        "status_links": status_links,
        "status_label": Status(filters.status).label if filters.status else "",
        "page": page,
        "rows": [_row(invocation, now) for invocation in page.object_list],
        "prev_url": filters.url(page=page.previous_page_number()) if page.has_previous() else None,
        "next_url": filters.url(page=page.next_page_number()) if page.has_next() else None,
    }


@login_required
@require_GET
def async_invocations_page(request: ConsoleRequest) -> HttpResponse:
    refused = permissions.denial(request.user, Action.LIST_FUNCTIONS)
    if refused is not None:
        return permissions.denied_page(request, refused)
    context = _table_context(request)
    context["function_names"] = selectors.async_invocation_function_names(account_of(request))
    context["clear_function_url"] = context["filters"].url(function="")
    return render(request, "console/async_invocations.html", context)


@require_GET
def async_invocations_table(request: HttpRequest) -> HttpResponse:
    """The page's table alone, for its periodic refresh."""
    if signed_in(request):
        refused = permissions.denial(request.user, Action.LIST_FUNCTIONS)
        if refused is not None:
            return HttpResponse(refused.message, status=403, content_type="text/plain")
        return render(request, "console/async_invocations_table.html", _table_context(request))
    # A 401, not the sign-in redirect, so the script stops instead of inserting the sign-in
    # page into the table.
    return HttpResponse("Sign in first.", status=401, content_type="text/plain")


urlpatterns = [
    path("async-invocations/", async_invocations_page, name="async-invocations"),
    path("async-invocations/table", async_invocations_table, name="async-invocations-table"),
]
