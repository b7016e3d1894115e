"""The asynchronous invocations page in a real browser: the Failed filter, the error
expander, the table's own refresh, and no third-party requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import LiveServer
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]


def _rows(server: LiveServer, account_id: str, *rows: dict[str, Any]) -> list[str]:
    """Store asynchronous invocations in the live server's database; their request ids."""
    script = (
        "import json\n"
        "from iam.models import Account\n"
        "from invocations.tests.factories import async_invocation_row\n"
        f"rows = json.loads({json.dumps(json.dumps(rows))})\n"
        "ids = []\n"
        "for row in rows:\n"
        "    account, _ = Account.objects.get_or_create(id=row.pop('account', "
        f"'{account_id}'))\n"
        "    ids.append(async_invocation_row(account, **row).request_id)\n"
        "print(json.dumps(ids))\n"
    )
    result = server.manage("shell", "-c", script)
    assert result.returncode == 0, result.stderr
    ids: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return ids


def test_a_user_filters_failed_events_reads_the_error_and_sees_new_ones_arrive(
    console: Console,
) -> None:
    error = "Traceback (most recent call last):\n" + "  frame\n" * 20 + "ValueError: boom"
    failed, succeeded, foreign = _rows(
        console.server,
        console.credentials.account_id,
        {"function_name": "mailer", "status": "failed", "attempts": 3, "last_error": error},
        {"function_name": "mailer", "status": "succeeded", "attempts": 1},
        {"function_name": "mailer", "status": "failed", "account": "999999999999"},
    )
    page = console.page
    console.goto("/")
    page.click("nav.primary >> text=Asynchronous invocations")
    page.wait_for_selector("h1:has-text('Asynchronous invocations')")
    assert page.get_attribute("[data-status='all']", "data-count") == "2"

    page.click("[data-status='failed']")
    page.wait_for_url("**/async-invocations/?status=failed")
    row = page.locator(f"tr[data-request-id='{failed}']")
    assert "Failed" in row.locator(".ai-badge").inner_text()
    assert page.locator(f"tr[data-request-id='{succeeded}']").count() == 0
    assert page.locator(f"tr[data-request-id='{foreign}']").count() == 0
    # The error is cut short in the table; its expander shows all of it.
    row.locator("summary").click()
    assert row.locator("pre").inner_text().endswith("ValueError: boom")

    # A new failure shows up without a reload; the open expander stays open.
    (newer,) = _rows(
        console.server,
        console.credentials.account_id,
        {"function_name": "mailer", "status": "failed", "qualifier": "live", "last_error": "x"},
    )
    page.wait_for_selector(f"tr[data-request-id='{newer}']", timeout=15_000)
    assert page.get_attribute("[data-status='failed']", "data-count") == "2"
    assert page.locator(f"tr[data-request-id='{failed}'] details[open]").count() == 1
    assert page.inner_text("#ai-updated").startswith("Updated")
    console.screenshot("async-invocations")
    assert console.foreign_requests() == []
