"""The Monitor tab in a real browser: live logs, recent invocations and metrics charts."""

from __future__ import annotations

import pytest

from conftest import create_function, make_zip
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

HANDLER = (
    "def handler(event, context):\n"
    "    print('monitored line', event.get('key1'))\n"
    "    return {'ok': True}\n"
)


def test_a_user_sees_logs_invocations_and_charts_of_their_tests(console: Console) -> None:
    create_function(console.lam, "watched", Code={"ZipFile": make_zip({"app.py": HANDLER})})
    console.goto("/functions/watched/#monitor")
    page = console.page
    # Nothing has run yet: the charts show zero, the logs panel waits for the group.
    page.wait_for_selector("[data-chart='invocations'][data-total='0']")

    # Run the function twice from the Test tab, then come back.
    page.click("role=tab[name='Test']")
    page.wait_for_selector("#tt-editor .cm-content")
    for _ in range(2):
        page.click("#tt-run")
        page.wait_for_selector("#tt-result:not([hidden])", timeout=30_000)
        page.wait_for_selector("#tt-run:enabled")
    request_id = page.inner_text("#tt-sum-request_id")
    page.click("role=tab[name='Monitor']")

    # The printed line reaches the live logs panel over the WebSocket.
    page.wait_for_selector("#mon-lines li:has-text('monitored line value1')", timeout=20_000)
    assert page.inner_text("#mon-logstate") == "Live"
    # Filter as you type hides the other lines; clearing shows them again.
    page.fill("#mon-filter", "monitored line")
    assert page.locator("#mon-lines li:visible").count() == 2
    page.fill("#mon-filter", "")
    assert page.locator("#mon-lines li:visible").count() > 2

    # The charts count both invocations (the metrics API flushes pending points first).
    page.wait_for_selector("[data-chart='invocations'][data-total='2']", timeout=20_000)
    assert page.get_attribute("[data-chart='cold']", "data-total") == "1"
    assert page.get_attribute("[data-chart='errors']", "data-total") == "0"

    # The recent-invocations table opens an invocation's own lines.
    row = page.locator(f"#mon-invocations tr[data-request-id='{request_id}']")
    row.wait_for(timeout=20_000)
    assert "succeeded" in row.inner_text()
    row.click()
    page.wait_for_selector(f"#mon-detail-lines:has-text('REPORT RequestId: {request_id}')")
    detail = page.inner_text("#mon-detail-lines")
    assert detail.startswith(f"START RequestId: {request_id}")
    assert "monitored line value1" in detail

    # Pause holds new lines back until resumed.
    page.click("#mon-pause")
    assert page.inner_text("#mon-logstate") == "Paused"
    console.screenshot("monitor-tab")
    assert console.foreign_requests() == []
