"""The asynchronous invocations page and its refreshed table: only the signed-in account's
events, status and function filters with per-status counts, pagination, and bad filter
values answered with a page rather than an error."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from functions.tests.factories import function_row
from iam import services
from iam.models import Account
from invocations import selectors
from invocations.models import AsyncInvocation
from invocations.tests.factories import async_invocation_row

pytestmark = pytest.mark.django_db

Status = AsyncInvocation.Status
PAGE = "/async-invocations/"
TABLE = "/async-invocations/table"


def _signed_in(account_id: str = "111111111111", username: str = "owner") -> tuple[Client, Account]:
    account = services.account_get_or_create(account_id)
    services.user_create(
        username=username, account=account, password="pw-1234567890", is_admin=True
    )
    client = Client()
    assert client.login(username=username, password="pw-1234567890")
    return client, account


def _shown(html: str) -> list[str]:
    """The request ids of the table's rows, in order."""
    return re.findall(r'<tr data-request-id="([^"]+)"', html)


def _counts(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-status="(\w+)" data-count="(\d+)"', html)}


def _page(client: Client, path: str = PAGE, **params: str) -> str:
    response = client.get(path, params)
    assert response.status_code == 200
    return response.content.decode()


def test_another_accounts_invocations_never_show_nor_count() -> None:
    client, account = _signed_in()
    other = services.account_get_or_create("222222222222")
    mine = async_invocation_row(account, "shared-name", status=Status.FAILED)
    theirs = [async_invocation_row(other, "shared-name", status=s) for s in Status.values]
    for path in (PAGE, TABLE):
        for params in ({}, {"status": "failed"}, {"function": "shared-name"}):
            html = _page(client, path, **params)
            assert _shown(html) == [mine.request_id]
            assert all(row.request_id not in html for row in theirs)
    assert _counts(_page(client))["all"] == 1
    assert "shared-name" in selectors.async_invocation_function_names(account)
    assert selectors.async_invocation_counts_for_account(other)["failed"] == 1


def test_rows_are_newest_first_with_counts_for_every_status() -> None:
    client, account = _signed_in()
    now = timezone.now()
    statuses = [Status.QUEUED, Status.RUNNING, Status.FAILED, Status.FAILED, Status.SUCCEEDED]
    rows = [
        async_invocation_row(account, status=s, created=now - timedelta(minutes=i))
        for i, s in enumerate(statuses)
    ]
    html = _page(client)
    assert _shown(html) == [row.request_id for row in rows]
    assert _counts(html) == {
        "all": 5,
        "queued": 1,
        "running": 1,
        "retrying": 0,
        "succeeded": 1,
        "failed": 2,
    }
    assert 'data-status="all" data-count="5" aria-current="page"' in html


def test_the_status_filter_shows_only_that_status_and_keeps_every_count() -> None:
    client, account = _signed_in()
    failed = async_invocation_row(account, status=Status.FAILED, last_error="boom")
    async_invocation_row(account, status=Status.SUCCEEDED)
    async_invocation_row(account, status=Status.RETRYING)
    html = _page(client, status="failed")
    assert _shown(html) == [failed.request_id]
    assert _counts(html)["all"] == 3
    assert 'data-status="failed" data-count="1" aria-current="page"' in html
    assert _shown(_page(client, status="running")) == []
    assert "No running asynchronous invocations." in _page(client, status="running")


def test_the_function_filter_narrows_rows_and_counts_and_links_keep_it() -> None:
    client, account = _signed_in()
    wanted = async_invocation_row(account, "wanted", status=Status.FAILED)
    async_invocation_row(account, "wanted", status=Status.SUCCEEDED)
    async_invocation_row(account, "other", status=Status.FAILED)
    html = _page(client, function="wanted", status="failed")
    assert _shown(html) == [wanted.request_id]
    assert _counts(html) == {
        "all": 2,
        "queued": 0,
        "running": 0,
        "retrying": 0,
        "succeeded": 1,
        "failed": 1,
    }
    # Switching status keeps the function; the datalist offers every invoked function.
    assert 'href="/async-invocations/?status=succeeded&amp;function=wanted"' in html
    assert '<option value="other">' in html and '<option value="wanted">' in html
    assert "No asynchronous invocations of nothing-here." in _page(client, function="nothing-here")


def test_pages_hold_fifty_rows_and_page_links_keep_the_filters() -> None:
    client, account = _signed_in()
    now = timezone.now()
    rows = [
        async_invocation_row(account, status=Status.FAILED, created=now - timedelta(seconds=i))
        for i in range(60)
    ]
    async_invocation_row(account, status=Status.SUCCEEDED, created=now)
    first = _page(client, status="failed")
    assert _shown(first) == [row.request_id for row in rows[:50]]
    assert "Page 1 of 2 · 1\u201350 of 60" in first
    assert 'href="/async-invocations/?status=failed&amp;page=2" rel="next"' in first
    second = _page(client, TABLE, status="failed", page="2")
    assert _shown(second) == [row.request_id for row in rows[50:]]
    assert 'href="/async-invocations/?status=failed&amp;page=1" rel="prev"' in second


@pytest.mark.parametrize(
    "params",
    [
        {"status": "exploded"},
        {"status": "FAILED"},
        {"page": "garbage"},
        {"page": "-3"},
        {"page": "99999"},
        {"function": "no such/function\x00"},
        {"function": "x" * 500},
    ],
)
def test_bad_filter_values_are_ignored_not_errors(params: dict[str, str]) -> None:
    client, account = _signed_in()
    row = async_invocation_row(account, "fn", status=Status.FAILED)
    for path in (PAGE, TABLE):
        html = _page(client, path, **params)
        if "function" in params:
            # A name no function can have matches nothing.
            assert _shown(html) == []
        else:
            # An unknown status shows every status; a bad page number the nearest page.
            assert _shown(html) == [row.request_id]
            assert 'data-status="all" data-count="1" aria-current="page"' in html


def test_a_row_shows_its_function_attempts_times_and_error() -> None:
    client, account = _signed_in()
    function_row(account, "worker")
    now = timezone.now()
    long_error = "Traceback (most recent call last):\n" + "x" * 200 + "\nValueError: boom"
    retrying = async_invocation_row(
        account,
        "worker",
        qualifier="live",
        status=Status.RETRYING,
        attempts=2,
        function_errors=2,
        created=now - timedelta(minutes=5),
        next_attempt_at=now + timedelta(minutes=2, seconds=30),
        last_error=long_error,
    )
    done = async_invocation_row(
        account,
        "worker",
        status=Status.SUCCEEDED,
        attempts=1,
        created=now - timedelta(hours=3),
        finished=now - timedelta(hours=2),
        next_attempt_at=now - timedelta(hours=3),
        last_error="short error",
    )
    html = _page(client)
    first, second = re.findall(r"<tr data-request-id=.*?</tr>", html, re.S)
    assert retrying.request_id in first and done.request_id in second
    assert '<a href="/functions/worker/">worker</a><span class="muted">:live</span>' in first
    assert '<span class="ai-badge ai-retrying">Retrying</span>' in first
    assert "<td>2</td>\n      <td>2</td>" in first
    assert ">5\xa0minutes ago</time>" in first
    assert f'title="{retrying.created:%Y-%m-%d %H:%M:%S} UTC"' in first
    assert ">in 2\xa0minutes</time>" in first
    # A long error is cut short in the cell and whole in its expander (and title).
    assert "<summary" in first and "ValueError: boom</pre>" in first
    assert "ValueError: boom</summary>" not in first
    # Finished events have no next attempt; a short error is shown as it is.
    assert '<span class="ai-badge ai-succeeded">Succeeded</span>' in second
    assert ">2\xa0hours ago</time>" in second
    assert '<span title="short error">short error</span>' in second
    # No next attempt (and, a row without a condition, no outcome either).
    assert second.count('<span class="muted">—</span>') == 2


def test_an_ended_row_shows_why_it_ended_and_records_not_delivered_or_still_to_send() -> None:
    client, account = _signed_in()
    queue = "arn:aws:sqs:us-east-1:123456789012:dead-letters"
    topic = "arn:aws:sns:us-east-1:123456789012:failures"
    async_invocation_row(
        account,
        status=Status.FAILED,
        condition="RetriesExhausted",
        deliveries=[{"kind": "destination", "arn": topic}],
        delivery_errors=[{"kind": "dlq", "arn": queue, "error": "QueueDoesNotExist: gone"}],
    )
    html = _page(client)
    outcome = html.split('<td class="ai-outcome">', 1)[1].split("</td>", 1)[0]
    assert "<span>RetriesExhausted</span>" in outcome
    assert f"sending to {topic}" in outcome
    assert f"not delivered: {queue}: QueueDoesNotExist: gone" in outcome


def test_with_no_invocations_the_page_says_how_to_make_one() -> None:
    client, _ = _signed_in()
    html = _page(client)
    assert "<h1>Asynchronous invocations</h1>" in html
    assert "No asynchronous invocations yet." in html
    assert '<a href="/async-invocations/">Asynchronous invocations</a>' in html  # main nav


def test_signed_out_the_page_redirects_and_the_table_is_a_401() -> None:
    assert Client().get(PAGE).status_code == 302
    assert Client().get(TABLE).status_code == 401


def test_a_full_page_of_rows_takes_a_fixed_number_of_queries_and_leaves_payloads() -> None:
    client, account = _signed_in()
    for _ in range(50):
        async_invocation_row(account, payload=b"x" * 100_000)
    with CaptureQueriesContext(connection) as queries:
        assert len(_shown(_page(client, TABLE))) == 50
    # Session, user, account; the page's rows, their count, the status counts.
    assert len(queries) == 6
    assert not any('"payload"' in query["sql"] for query in queries.captured_queries)


def test_the_monitor_tab_links_to_the_functions_asynchronous_invocations() -> None:
    client, account = _signed_in()
    function_row(account, "watched")
    html = _page(client, "/functions/watched/")
    assert '<a class="mon-async" href="/async-invocations/?function=watched">' in html
