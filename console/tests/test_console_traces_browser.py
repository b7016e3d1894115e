"""An invocation's X-Ray trace in the console: opened from the recent-invocations list and
from a log line naming its request id, drawn as a timeline of the platform's segments."""

from __future__ import annotations

import pytest

from conftest import create_function
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_an_invocations_trace_opens_from_its_row_and_from_its_log_lines(
    console: Console,
) -> None:
    create_function(console.lam, "traced", TracingConfig={"Mode": "Active"})
    create_function(console.lam, "untraced")
    request_id = console.lam.invoke(FunctionName="traced")["ResponseMetadata"]["RequestId"]
    page = console.page
    console.goto("/functions/traced/#monitor")
    row = page.locator(f"#mon-invocations tr[data-request-id='{request_id}']")
    row.wait_for(timeout=20_000)
    row.click()
    trace = page.locator("#mon-trace")
    trace.locator("li:has-text('Invocation')").first.wait_for(timeout=20_000)
    names = trace.locator(".mon-trace-name").all_inner_texts()
    assert names[:2] == ["traced (AWS::Lambda)", "traced (AWS::Lambda::Function)"]
    assert {"Initialization", "Invocation", "Overhead"} <= set(names[2:])
    assert trace.locator("h5").inner_text().startswith("Trace 1-")
    console.screenshot("monitor-invocation-trace")

    # From the live log: its REPORT line names the request id and opens the same trace.
    page.locator("#mon-detail").evaluate("node => node.hidden = true")
    report = page.locator(f"#mon-lines li.has-request:has-text('REPORT RequestId: {request_id}')")
    report.wait_for(timeout=20_000)
    report.click()
    page.locator("#mon-detail:not([hidden]) #mon-trace li").first.wait_for()
    assert page.inner_text("#mon-detail-id") == request_id

    # An untraced function's invocation has no trace to show.
    untraced = console.lam.invoke(FunctionName="untraced")["ResponseMetadata"]["RequestId"]
    console.goto("/functions/untraced/#monitor")
    other = page.locator(f"#mon-invocations tr[data-request-id='{untraced}']")
    other.wait_for(timeout=20_000)
    other.click()
    page.wait_for_selector("#mon-detail-lines :text('START')")
    assert page.locator("#mon-trace").is_hidden()
    assert console.foreign_requests() == []
