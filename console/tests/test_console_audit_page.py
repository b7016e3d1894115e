"""The console's Audit page: an account admin's, filtered and paged; nobody else's."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.auth.signals import user_logged_in
from django.test import Client

from audit import services
from audit.capture import _signed_in
from iam import services as iam_services

pytestmark = pytest.mark.django_db


def _store(account_id: str, name: str, user: str, when: dt.datetime) -> None:
    services.events_store(
        [
            {
                "userIdentity": {"type": "IAMUser", "userName": user},
                "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": "lambda.amazonaws.com",
                "eventName": name,
                "readOnly": False,
                "recipientAccountId": account_id,
                "eventID": str(uuid.uuid4()),
            }
        ]
    )


@pytest.fixture
def accounts() -> tuple[Client, Client]:
    mine = iam_services.account_get_or_create("555566667777")
    theirs = iam_services.account_get_or_create("888899990000")
    admin = iam_services.user_create(username="boss", account=mine, password=None, is_admin=True)
    member = iam_services.user_create(username="dev", account=mine, password=None)
    now = dt.datetime.now(dt.UTC)
    _store(mine.id, "CreateFunction", "dev", now - dt.timedelta(hours=2))
    _store(mine.id, "DeleteFunction", "boss", now - dt.timedelta(hours=1))
    _store(theirs.id, "CreateFunction", "stranger", now)
    admin_client, member_client = Client(), Client()
    # Without their ConsoleLogin events: the recorder stores those when its thread next
    # flushes, which may or may not come before the page is read.
    user_logged_in.disconnect(dispatch_uid="audit-signed-in")
    try:
        admin_client.force_login(admin)
        member_client.force_login(member)
    finally:
        user_logged_in.connect(_signed_in, dispatch_uid="audit-signed-in")
    return admin_client, member_client


def _names(client: Client, **query: str) -> list[str]:
    response = client.get("/audit/", query)
    assert response.status_code == 200
    return [row["name"] for row in response.context["rows"]]


def test_an_admin_sees_the_accounts_events_only(accounts: tuple[Client, Client]) -> None:
    response = accounts[0].get("/audit/")
    assert [row["name"] for row in response.context["rows"]] == [
        "DeleteFunction",
        "CreateFunction",
    ]
    assert "stranger" not in response.content.decode()


def test_the_page_filters_by_user_and_event_name(accounts: tuple[Client, Client]) -> None:
    assert _names(accounts[0], user="dev") == ["CreateFunction"]
    assert _names(accounts[0], event="DeleteFunction") == ["DeleteFunction"]
    assert _names(accounts[0], user="dev", event="DeleteFunction") == []


def test_the_page_filters_by_time(accounts: tuple[Client, Client]) -> None:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M")
    assert _names(accounts[0], start=since) == ["DeleteFunction"]
    assert _names(accounts[0], end=since) == ["CreateFunction"]


def test_a_member_who_is_not_an_admin_is_refused(accounts: tuple[Client, Client]) -> None:
    response = accounts[1].get("/audit/")
    assert response.status_code == 403
    assert "CreateFunction" not in response.content.decode()


def test_pages_follow_each_other(
    accounts: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.pages import audit as audit_page

    monkeypatch.setattr(audit_page, "PAGE_SIZE", 1)
    first = accounts[0].get("/audit/")
    assert [row["name"] for row in first.context["rows"]] == ["DeleteFunction"]
    second = accounts[0].get(first.context["next_url"])
    assert [row["name"] for row in second.context["rows"]] == ["CreateFunction"]
    assert second.context["next_url"] is None
