"""Storing audit events and forgetting old ones."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import DataError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.sanitize import MAX_JSON_CHARS
from audit.vocabulary import DENIED_CODES
from iam.models import AccessKey

# Rows deleted per statement by the retention sweep: short transactions, no long locks.
logger = logging.getLogger(__name__)

EXPIRE_BATCH = 5_000


def _attribute_keys(events: list[dict[str, Any]]) -> None:
    """Calls refused before anyone was vouched for, made with a key that exists: the key's
    account sees them (someone holds its key id), as CloudTrail records them for it."""
    wanted = {
        event["userIdentity"].get("accessKeyId")
        for event in events
        if not event.get("recipientAccountId") and event["userIdentity"].get("accessKeyId")
    }
    if not wanted:
        return
    keys = {
        key.access_key_id: key
        for key in AccessKey.objects.select_related("user").filter(access_key_id__in=wanted)
    }
    for event in events:
        key = keys.get(event["userIdentity"].get("accessKeyId"))
        if key is not None and not event.get("recipientAccountId"):
            account_id = str(key.user.account_id)
            event["recipientAccountId"] = account_id
            event["userIdentity"] = {
                "type": "IAMUser",
                "accountId": account_id,
                "accessKeyId": key.access_key_id,
                "userName": key.user.username,
            }


def _resource(event: dict[str, Any]) -> tuple[str, str]:
    """The first resource's type and name (LookupEvents' ResourceType and ResourceName);
    the name is left out of the record, which shows the ARN. ``event`` is a copy: the
    recorder's own (kept for a retry) is not changed."""
    resources = [dict(item) for item in event.get("resources") or ()]
    names = [str(item.pop("_name", "") or item.get("ARN") or "") for item in resources]
    if resources:
        event["resources"] = resources
        return str(resources[0].get("type", ""))[:64], names[0][:256]
    return "", ""


def _row(event: dict[str, Any]) -> AuditEvent:
    count = int(event.pop("_count", 1))
    identity = event.get("userIdentity") or {}
    resource_type, resource_name = _resource(event)
    error_code = str(event.get("errorCode") or "")
    record = json.dumps(event, separators=(",", ":"), default=str)
    if len(record) > 4 * MAX_JSON_CHARS:  # cut pieces are bounded; this is a last guard
        event["requestParameters"] = event["responseElements"] = {"omitted": "too large"}
        record = json.dumps(event, separators=(",", ":"), default=str)
    return AuditEvent(
        event_id=uuid.UUID(event["eventID"]),
        event_time=dt.datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC
        ),
        account_id=_text(event.get("recipientAccountId"), 12),
        event_source=_text(event.get("eventSource"), 64),
        event_name=_text(event.get("eventName"), 128),
        read_only=bool(event.get("readOnly")),
        username=_text(_username(identity), 200),
        access_key_id=_text(identity.get("accessKeyId"), 128),
        resource_type=_text(resource_type, 64),
        resource_name=_text(resource_name, 256),
        error_code=_text(error_code, 128),
        denied=error_code in DENIED_CODES,
        source_ip=_text(event.get("sourceIPAddress"), 64),
        count=count,
        record=record,
    )


def _username(identity: dict[str, Any]) -> str:
    """LookupEvents' Username: a user's name; for a role's session (a function's execution
    role, say), its session name, as CloudTrail shows it."""
    if identity.get("type") == "AssumedRole":
        return str(identity.get("arn") or "").rsplit("/", 1)[-1]
    return str(identity.get("userName") or "")


def _text(value: Any, limit: int) -> str:
    """A column's text: cut to its size, without NUL characters, which PostgreSQL refuses
    in text (a caller's header or name may hold one; the JSON record escapes them)."""
    return str(value or "").replace("\x00", "\ufffd")[:limit]


def events_store(events: Iterable[dict[str, Any]]) -> None:
    """Store a batch of events (CloudTrail-shaped dicts) in one transaction."""
    batch = [dict(event) for event in events]
    _attribute_keys(batch)
    rows = [_row(event) for event in batch]
    try:
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    except DataError:
        # One row the database refuses must not keep the whole batch (and every later one,
        # retried with it) out of the trail: store them one by one, dropping what fails.
        for row in rows:
            try:
                with transaction.atomic():
                    AuditEvent.objects.bulk_create([row], ignore_conflicts=True)
            except DataError:
                logger.warning("an audit event the database refused was dropped: %s", row)


def events_expire(now: dt.datetime | None = None, days: float | None = None) -> int:
    """Delete events older than ``FUNCTORY_AUDIT_RETENTION_DAYS``; returns how many."""
    if days is None:
        days = float(settings.FUNCTORY_AUDIT_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            AuditEvent.objects.filter(event_time__lt=cutoff).values_list("pk", flat=True)[
                :EXPIRE_BATCH
            ]
        )
        if not ids:
            return deleted
        deleted += AuditEvent.objects.filter(pk__in=ids).delete()[0]
