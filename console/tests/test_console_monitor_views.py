"""The Monitor tab's endpoints: recent invocations from REPORT lines, one invocation's
lines, and a 404 for another account's function."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from functions.tests.factories import function_row
from iam import services
from monitoring import services as logs
from monitoring.invocation_logs import report_parse

pytestmark = pytest.mark.django_db

A = "11111111-2222-3333-4444-555555555555"
B = "66666666-7777-8888-9999-000000000000"


def _client(account_id: str, username: str) -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(
        username=username, account=account, password="pw-1234567890", is_admin=True
    )
    client = Client()
    assert client.login(username=username, password="pw-1234567890")
    return client


def _log(account, lines: list[str]) -> None:
    group = "/aws/lambda/mine"
    logs.log_group_create(account, group)
    logs.log_stream_create(account, group, "2024/01/01/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.log_events_put(
        account, group, "2024/01/01/[$LATEST]abc", [(now + i, line) for i, line in enumerate(lines)]
    )


def test_it_parses_report_lines():
    report = report_parse(
        f"REPORT RequestId: {A}\tDuration: 1.50 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 7 MB\tInit Duration: 90.10 ms\t"
    )
    assert report is not None
    assert (report.request_id, report.duration_ms, report.billed_ms) == (A, 1.5, 2.0)
    assert (report.memory_mb, report.max_memory_mb, report.init_duration_ms) == (128, 7, 90.1)
    assert report_parse("REPORT is not a report") is None


def test_recent_invocations_come_from_report_lines_with_their_status_and_lines():
    account = services.account_get_or_create("111111111111")
    client = _client("111111111111", "owner")
    function_row(account, "mine")
    _log(
        account,
        [
            f"START RequestId: {A} Version: $LATEST",
            "hello",
            f"END RequestId: {A}",
            f"REPORT RequestId: {A}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t",
            f"START RequestId: {B} Version: $LATEST",
            "[ERROR] ValueError: boom",
            f"END RequestId: {B}",
            f"REPORT RequestId: {B}\tDuration: 3.00 ms\tBilled Duration: 3 ms\t",
        ],
    )
    recent = client.get("/functions/mine/monitor/invocations").json()["invocations"]
    assert [(i["request_id"], i["status"], i["duration_ms"]) for i in recent] == [
        (B, "failed", 3.0),
        (A, "succeeded", 1.0),
    ]
    lines = client.get(f"/functions/mine/monitor/invocations/{A}").json()["lines"]
    assert [line["message"] for line in lines][:2] == [
        f"START RequestId: {A} Version: $LATEST",
        "hello",
    ]
    assert len(lines) == 4


def test_a_function_that_never_ran_has_no_invocations():
    client = _client("111111111111", "owner")
    function_row(services.account_get_or_create("111111111111"), "mine")
    assert client.get("/functions/mine/monitor/invocations").json() == {"invocations": []}


def test_another_accounts_function_is_a_404_and_a_session_is_needed():
    function_row(services.account_get_or_create("222222222222"), "theirs")
    client = _client("333333333333", "stranger")
    assert client.get("/functions/theirs/monitor/invocations").status_code == 404
    assert client.get(f"/functions/theirs/monitor/invocations/{A}").status_code == 404
    assert Client().get("/functions/theirs/monitor/invocations").status_code == 401
