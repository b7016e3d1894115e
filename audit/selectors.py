"""Reading audit events: always one account's, newest first, by keyset pages."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from audit.models import AuditEvent

# LookupEvents' attribute keys, by the column each filters on.
ATTRIBUTE_COLUMNS = {
    "EventId": "event_id",
    "EventName": "event_name",
    "ReadOnly": "read_only",
    "Username": "username",
    "ResourceType": "resource_type",
    "ResourceName": "resource_name",
    "EventSource": "event_source",
    "AccessKeyId": "access_key_id",
}


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last event's time and row id (newest first). As a token it
    is opaque to clients; a forged one only moves within the caller's own account."""

    event_time: dt.datetime
    pk: int

    def token(self) -> str:
        raw = json.dumps([self.event_time.isoformat(), self.pk]).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def parse(cls, token: object) -> Cursor | None:
        """The cursor a token names, or None when it is not one."""
        if not isinstance(token, str) or len(token) > 512:
            return None
        try:
            when, pk = json.loads(base64.urlsafe_b64decode(token.encode()))
            moment = dt.datetime.fromisoformat(when)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        if isinstance(pk, bool) or not isinstance(pk, int) or moment.tzinfo is None:
            return None
        return cls(moment, pk)


def _filtered(
    queryset: QuerySet[AuditEvent], attributes: dict[str, str]
) -> QuerySet[AuditEvent] | None:
    for key, value in attributes.items():
        column = ATTRIBUTE_COLUMNS[key]
        if column == "event_id":
            try:
                queryset = queryset.filter(event_id=uuid.UUID(value))
            except ValueError:
                return None
        elif column == "read_only":
            if value.lower() not in {"true", "false"}:
                return None
            queryset = queryset.filter(read_only=value.lower() == "true")
        else:
            queryset = queryset.filter(**{column: value})
    return queryset


def events_for_account(
    account_id: str,
    *,
    attributes: dict[str, str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 50,
    after: Cursor | None = None,
) -> tuple[list[AuditEvent], Cursor | None]:
    """A page of the account's events matching every attribute (LookupEvents' keys), and
    the cursor of the next page (None on the last)."""
    queryset: QuerySet[AuditEvent] | None = AuditEvent.objects.filter(account_id=account_id)
    assert queryset is not None
    queryset = _filtered(queryset, attributes or {})
    if queryset is None or not account_id:
        return [], None
    if start is not None:
        queryset = queryset.filter(event_time__gte=start)
    if end is not None:
        queryset = queryset.filter(event_time__lte=end)
    if after is not None:
        queryset = queryset.filter(
            Q(event_time__lt=after.event_time) | Q(event_time=after.event_time, pk__lt=after.pk)
        )
    rows = list(queryset.order_by("-event_time", "-pk")[: limit + 1])
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], Cursor(last.event_time, last.pk)
    return rows, None
