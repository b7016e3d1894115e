"""The Test tab's endpoints: permissions (another account's function or event is a 404),
CSRF, sign-in, and inline error shapes."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from functions.models import TestEvent
from functions.tests.factories import function_row
from iam import services

pytestmark = pytest.mark.django_db


def _client(account_id: str, username: str, csrf: bool = False) -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(
        username=username, account=account, password="pw-1234567890", is_admin=True
    )
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=username, password="pw-1234567890")
    return client


def _post(client: Client, url: str, body: dict) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_owner_saves_lists_edits_and_deletes_an_event():
    client = _client("111111111111", "owner")
    function_row(services.account_get_or_create("111111111111"), "mine")
    made = _post(client, "/functions/mine/test/events", {"name": "ev1", "payload": {"a": 1}})
    assert made.status_code == 201, made.content
    event_id = made.json()["id"]
    listed = client.get("/functions/mine/test/events").json()["events"]
    assert [(e["name"], e["payload"]) for e in listed] == [("ev1", {"a": 1})]
    changed = client.put(
        f"/functions/mine/test/events/{event_id}",
        json.dumps({"name": "ev2", "payload": {"b": 2}, "shared": True}),
        content_type="application/json",
    )
    assert changed.json()["shared"] is True
    assert client.delete(f"/functions/mine/test/events/{event_id}").status_code == 204
    assert not TestEvent.objects.exists()


def test_errors_name_the_field_at_fault():
    client = _client("111111111111", "owner")
    function_row(services.account_get_or_create("111111111111"), "mine")
    bad = _post(client, "/functions/mine/test/events", {"name": "no spaces", "payload": {}})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "name"


def test_another_accounts_function_is_a_404_everywhere():
    function_row(services.account_get_or_create("222222222222"), "theirs")
    client = _client("333333333333", "stranger")
    assert client.get("/functions/theirs/test/events").status_code == 404
    assert _post(client, "/functions/theirs/test/events", {"name": "x"}).status_code == 404
    assert client.get("/functions/theirs/test/templates/sqs").status_code == 404
    assert _post(client, "/functions/theirs/test/invoke", {"payload": {}}).status_code == 404


def test_another_users_private_event_is_a_404():
    account = services.account_get_or_create("111111111111")
    owner = _client("111111111111", "owner")
    function_row(account, "mine")
    made = _post(owner, "/functions/mine/test/events", {"name": "secret", "payload": {}})
    event_id = made.json()["id"]
    colleague = _client("111111111111", "colleague")
    url = f"/functions/mine/test/events/{event_id}"
    assert colleague.delete(url).status_code == 404
    assert colleague.get("/functions/mine/test/events").json()["events"] == []
    stranger = _client("444444444444", "stranger")
    function_row(services.account_get_or_create("444444444444"), "mine")
    assert stranger.delete(url).status_code == 404
    assert TestEvent.objects.count() == 1


def test_writes_need_the_csrf_token_and_a_session():
    function_row(services.account_get_or_create("111111111111"), "mine")
    client = _client("111111111111", "owner", csrf=True)
    assert _post(client, "/functions/mine/test/events", {"name": "x"}).status_code == 403
    assert _post(client, "/functions/mine/test/invoke", {"payload": {}}).status_code == 403
    assert Client().get("/functions/mine/test/events").status_code == 401
    assert _post(Client(), "/functions/mine/test/invoke", {}).status_code == 401


def test_templates_are_served_as_json():
    client = _client("111111111111", "owner")
    function_row(services.account_get_or_create("111111111111"), "mine")
    sqs = client.get("/functions/mine/test/templates/sqs").json()["payload"]
    assert sqs["Records"][0]["eventSource"] == "aws:sqs"
    assert client.get("/functions/mine/test/templates/nope").status_code == 404
    page = client.get("/functions/mine/").content.decode()
    assert "API Gateway AWS Proxy" in page and "console/dist/test.js" in page
