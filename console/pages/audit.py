"""Console: the account's audit trail (every API call and console change, as CloudTrail
records them), for the account's admins, newest first: filtered by user, event name and
time, paged with the same cursor as LookupEvents' NextToken."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from audit import selectors
from audit.models import AuditEvent
from console.pages._request import ConsoleRequest

PAGE_SIZE = 50
_MAX_FILTER = 200


def _moment(value: str) -> dt.datetime | None:
    """A ``datetime-local`` input's value, read as UTC; anything else is no bound."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Filters:
    user: str
    event: str
    start: str
    end: str

    @classmethod
    def of(cls, request: HttpRequest) -> Filters:
        def value(name: str) -> str:
            return request.GET.get(name, "").strip()[:_MAX_FILTER]

        return cls(value("user"), value("event"), value("start"), value("end"))

    def attributes(self) -> dict[str, str]:
        attributes = {}
        if self.user:
            attributes["Username"] = self.user
        if self.event:
            attributes["EventName"] = self.event
        return attributes

    def url(self, **changes: str) -> str:
        params = {"user": self.user, "event": self.event, "start": self.start, "end": self.end}
        params.update(changes)
        kept = {key: value for key, value in params.items() if value}
        return reverse("audit") + ("?" + urlencode(kept) if kept else "")


def _row(event: AuditEvent) -> dict[str, Any]:
    try:
        record = json.loads(event.record)
    except ValueError:
        record = {}
    return {
        "time": event.event_time,
        "user": event.username or record.get("userIdentity", {}).get("type", ""),
        "source": event.event_source,
        "name": event.event_name,
        "resource": event.resource_name,
        "ip": event.source_ip,
        "error": event.error_code,
        "denied": event.denied,
        "count": event.count,
        "read_only": event.read_only,
        "record": json.dumps(record, indent=2, sort_keys=True),
    }


@login_required
@require_GET
def audit_page(request: ConsoleRequest) -> HttpResponse:
    if not request.user.is_staff:
        return render(request, "console/audit_denied.html", status=403)
    filters = Filters.of(request)
    cursor = selectors.Cursor.parse(request.GET.get("after", ""))
    events, next_cursor = selectors.events_for_account(
        request.user.account_id,
        attributes=filters.attributes(),
        start=_moment(filters.start),
        end=_moment(filters.end),
        limit=PAGE_SIZE,
        after=cursor,
    )
    context = {
        "filters": filters,
        "rows": [_row(event) for event in events],
        "first_url": filters.url() if cursor is not None else None,
        "next_url": filters.url(after=next_cursor.token()) if next_cursor else None,
    }
    return render(request, "console/audit.html", context)


urlpatterns = [path("audit/", audit_page, name="audit")]
