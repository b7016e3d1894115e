"""Logs Insights in a real browser: choose a log group, run the default query and read the
rows; run a stats-by-bin query and see its chart; a malformed query shows AWS's error."""

from __future__ import annotations

import time

import pytest

from conftest import client_for
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]


def _seed(console: Console, group: str, messages: list[str]) -> None:
    logs = client_for(console.server, console.credentials, "logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    base = int(time.time() * 1000) - len(messages) * 60_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": base + i * 60_000, "message": m} for i, m in enumerate(messages)],
    )


def _editor_text(console: Console, text: str) -> None:
    editor = console.page.locator("#li-editor .cm-content")
    editor.click()
    console.page.keyboard.press("Control+A")
    console.page.keyboard.press("Delete")
    console.page.keyboard.insert_text(text)


def test_a_query_runs_from_the_page_and_shows_rows_and_a_chart(console: Console) -> None:
    _seed(
        console,
        "/insights/app",
        [f"request {i} {'ERROR' if i % 3 == 0 else 'ok'}" for i in range(12)],
    )
    page = console.page
    console.goto("/logs-insights/?group=/insights/app")
    assert page.locator("#li-groups option:checked").inner_text() == "/insights/app"
    assert "sort @timestamp desc" in page.locator("#li-editor .cm-content").inner_text()
    page.click("#li-run")
    page.wait_for_selector("#li-app[data-status='Complete']", timeout=20_000)
    headers = page.locator("#li-head th").all_inner_texts()
    assert headers == ["@timestamp", "@message"]
    messages = page.locator("#li-rows tr td:nth-child(2)").all_inner_texts()
    assert messages[:2] == ["request 11 ok", "request 10 ok"] and len(messages) == 12
    assert "Complete: 12 rows" in page.locator("#li-status").inner_text()
    console.screenshot("logs-insights-rows")

    page.evaluate("document.getElementById('li-app').dataset.status = ''")
    _editor_text(console, 'filter @message like "ERROR" | stats count(*) as errors by bin(1m)')
    page.click("#li-run")
    page.wait_for_selector("#li-app[data-status='Complete']", timeout=20_000)
    assert page.locator("#li-head th").all_inner_texts() == ["bin(1m)", "errors"]
    assert page.locator("#li-rows tr td:nth-child(2)").all_inner_texts() == ["1"] * 4
    assert page.locator("#li-chart").get_attribute("data-points") == "4"
    assert page.locator("#li-chart canvas").count() == 1
    console.screenshot("logs-insights-chart")

    _editor_text(console, "fields @message |")
    page.click("#li-run")
    error = page.locator("#li-error")
    error.wait_for()
    assert error.inner_text().startswith("MalformedQueryException: mismatched input '<EOF>'")
    assert console.foreign_requests() == []


def test_the_monitor_tab_links_to_logs_insights_for_the_functions_group(console: Console) -> None:
    from conftest import create_function, make_zip

    create_function(console.lam, "insightful", Code={"ZipFile": make_zip()})
    console.goto("/functions/insightful/#monitor")
    link = console.page.get_by_role("link", name="Logs Insights").last
    assert link.get_attribute("href") == "/logs-insights/?group=/aws/lambda/insightful"
