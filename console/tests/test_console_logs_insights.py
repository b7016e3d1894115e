"""The Logs Insights page's endpoints in process: the signed-in account's groups only, and
IAM's answer for logs:DescribeLogGroups (the page), logs:StartQuery (on each group),
logs:GetQueryResults and logs:StopQuery, as the Logs API gives it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from iam import entities, services
from iam.models import User
from monitoring.batches import LogBatch
from monitoring.models import LogQuery
from monitoring.services import log_batches_store

pytestmark = pytest.mark.django_db

ACCOUNT = "111111111111"
PASSWORD = "pw-1234567890-insights"
READ_ONLY = "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"


def _user(name: str, *, account: str = ACCOUNT, policy: str | None = None) -> User:
    owner = services.account_get_or_create(account)
    user = services.user_create(username=name, account=owner, password=PASSWORD, is_admin=False)
    if policy is not None:
        entities.attach(user, policy)
    return user


def _admin(account: str = ACCOUNT) -> User:
    owner = services.account_get_or_create(account)
    return services.user_create(
        username=f"admin-{account}", account=owner, password=PASSWORD, is_admin=True
    )


def _client(user: User) -> Client:
    client = Client()
    assert client.login(username=f"{user.account_id}/{user.username}", password=PASSWORD)
    return client


def _start(client: Client, groups: list[str], query: str = "fields @message") -> Any:
    now = int(time.time())
    body = {"logGroupNames": groups, "startTime": now - 3600, "endTime": now, "queryString": query}
    return client.post("/logs-insights/queries", json.dumps(body), content_type="application/json")


@pytest.fixture
def groups() -> None:
    now = int(time.time() * 1000)
    for group in ("/aws/lambda/fn", "/app/private"):
        log_batches_store([LogBatch(ACCOUNT, group, "s", [(now - 1000, f"hello from {group}")])])


def test_the_page_lists_the_accounts_groups_and_the_default_query(groups) -> None:
    page = _client(_admin()).get("/logs-insights/?group=/aws/lambda/fn").content.decode()
    assert '<option value="/aws/lambda/fn" selected>' in page
    assert '<option value="/app/private">' in page
    assert "fields @timestamp, @message\n| sort @timestamp desc\n| limit 20" in page
    other = _client(_admin("222222222222")).get("/logs-insights/").content.decode()
    assert "/aws/lambda/fn" not in other and "no log groups yet" in other


def test_the_admin_starts_polls_and_stops_a_query(groups) -> None:
    client = _client(_admin())
    started = _start(client, ["/aws/lambda/fn", "/app/private"])
    assert started.status_code == 200, started.content
    query_id = started.json()["queryId"]
    polled = client.get(f"/logs-insights/queries/{query_id}").json()
    assert polled["status"] in ("Scheduled", "Running", "Complete")
    stopped = client.post(f"/logs-insights/queries/{query_id}/stop")
    # Cancelled if still running, else AWS's "not running" error.
    assert stopped.status_code in (200, 400)
    assert LogQuery.objects.get(query_id=query_id).status in ("Cancelled", "Complete")


def test_another_accounts_group_or_query_is_not_found(groups) -> None:
    query_id = _start(_client(_admin()), ["/aws/lambda/fn"]).json()["queryId"]
    stranger = _client(_admin("222222222222"))
    answer = _start(stranger, ["/aws/lambda/fn"])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ResourceNotFoundException"
    assert stranger.get(f"/logs-insights/queries/{query_id}").status_code in (400, 404)


def test_a_malformed_query_answers_awss_error(groups) -> None:
    answer = _start(_client(_admin()), ["/aws/lambda/fn"], "fields @message |")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "MalformedQueryException"
    assert error["message"].startswith("mismatched input '<EOF>'")


def test_a_read_only_user_may_query_only_lambda_groups(groups) -> None:
    client = _client(_user("reader", policy=READ_ONLY))
    assert client.get("/logs-insights/").status_code == 200
    assert _start(client, ["/aws/lambda/fn"]).status_code == 200
    refused = _start(client, ["/aws/lambda/fn", "/app/private"])
    assert refused.status_code == 403
    assert "is not authorized to perform: logs:StartQuery" in refused.json()["error"]["message"]
    assert "/app/private" in refused.json()["error"]["message"]


def test_a_user_without_policies_is_refused_the_page_and_the_endpoints(groups) -> None:
    client = _client(_user("nobody"))
    page = client.get("/logs-insights/")
    assert page.status_code == 403
    assert "is not authorized to perform: logs:DescribeLogGroups" in page.content.decode()
    started = _start(client, ["/aws/lambda/fn"])
    assert started.status_code == 403
    for answer in (
        client.get("/logs-insights/queries/some-id"),
        client.post("/logs-insights/queries/some-id/stop"),
    ):
        assert answer.status_code == 403
        assert "is not authorized to perform: logs:" in answer.json()["error"]["message"]
