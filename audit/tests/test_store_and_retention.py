"""Stored events, their attribution, and retention (FUNCTORY_AUDIT_RETENTION_DAYS)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import override_settings

from audit import services, tasks
from audit.models import AuditEvent
from iam import services as iam_services

pytestmark = pytest.mark.django_db


def _event(when: dt.datetime, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "userIdentity": {"type": "IAMUser", "userName": "ana", "accountId": "123456789012"},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "lambda.amazonaws.com",
        "eventName": "CreateFunction",
        "readOnly": False,
        "recipientAccountId": "123456789012",
        "eventID": str(uuid.uuid4()),
    }
    event.update(fields)
    return event


def test_events_older_than_the_retention_are_deleted_by_the_periodic_task() -> None:
    now = dt.datetime.now(dt.UTC)
    services.events_store(
        [
            _event(now - dt.timedelta(days=91), eventName="Old"),
            _event(now - dt.timedelta(days=89), eventName="Recent"),
        ]
    )
    assert tasks.events_expire() == 1
    assert list(AuditEvent.objects.values_list("event_name", flat=True)) == ["Recent"]


@override_settings(FUNCTORY_AUDIT_RETENTION_DAYS=7)
def test_the_retention_is_an_operator_setting() -> None:
    now = dt.datetime.now(dt.UTC)
    services.events_store([_event(now - dt.timedelta(days=8)), _event(now)])
    assert services.events_expire() == 1
    assert AuditEvent.objects.count() == 1


def test_a_refused_call_with_an_existing_key_id_is_attributed_to_the_keys_account() -> None:
    account = iam_services.account_get_or_create("444455556666")
    user = iam_services.user_create(username="kim", account=account, password=None)
    key = iam_services.access_key_create(user=user)
    services.events_store(
        [
            _event(
                dt.datetime.now(dt.UTC),
                userIdentity={"type": "Unknown", "accessKeyId": key.access_key_id},
                recipientAccountId="",
                errorCode="InvalidSignatureException",
                _count=7,
            )
        ]
    )
    row = AuditEvent.objects.get()
    assert row.account_id == "444455556666"
    assert row.username == "kim"
    assert row.denied is True
    assert row.count == 7
    assert '"_count"' not in row.record


def test_a_nul_character_from_a_caller_does_not_keep_events_out_of_the_trail() -> None:
    # PostgreSQL refuses NUL in text: a garbage X-Amz-Target or key id must still be stored,
    # and must not hold back the events of the same batch.
    now = dt.datetime.now(dt.UTC)
    hostile = _event(
        now,
        eventName="Create\x00Function",
        userIdentity={"type": "IAMUser", "accessKeyId": "AKIA\x00X", "userName": "a\x00b"},
        sourceIPAddress="127.0.0.1",
        requestParameters={"functionName": "f\x00g"},
    )
    services.events_store([hostile, _event(now, eventName="Next")])
    stored = dict(AuditEvent.objects.values_list("event_name", "access_key_id"))
    assert stored == {"Create\ufffdFunction": "AKIA\ufffdX", "Next": ""}
    assert "\x00" not in AuditEvent.objects.get(event_name="Next").record
