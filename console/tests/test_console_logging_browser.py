"""LoggingConfig in a real browser: JSON logging switched on in the configuration tab, and
the Monitor tab showing the JSON records as level, request id and message."""

from __future__ import annotations

import pytest

from conftest import create_function, make_zip
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

HANDLER = (
    "import logging\n"
    "def handler(event, context):\n"
    "    logging.getLogger().debug('a debug detail')\n"
    "    logging.getLogger().warning('low on %s', 'coffee')\n"
    "    return {'ok': True}\n"
)


def test_json_logging_is_set_in_the_ui_and_its_records_read_as_columns(console: Console) -> None:
    create_function(console.lam, "structured", Code={"ZipFile": make_zip({"app.py": HANDLER})})
    page = console.page
    console.goto("/functions/structured/#configuration")
    logging_form = page.locator("#cfg-logging")
    assert logging_form.get_by_label("Application log level").is_disabled()
    logging_form.get_by_label("Log format").select_option("JSON")
    logging_form.get_by_label("Application log level").select_option("DEBUG")
    logging_form.get_by_role("button", name="Save").click()
    logging_form.get_by_text("Saved").wait_for()
    assert logging_form.locator("[data-logging-format]").inner_text() == "JSON"
    console.screenshot("configuration-tab-logging")
    assert console.lam.get_function_configuration(FunctionName="structured")["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/structured",
    }

    request_id = console.lam.invoke(FunctionName="structured")["ResponseMetadata"]["RequestId"]
    page.click("role=tab[name='Monitor']")
    warning = page.locator("#mon-lines li:has-text('low on coffee')")
    warning.wait_for(timeout=20_000)
    assert warning.locator(".log-level").inner_text() == "WARNING"
    assert warning.locator(".log-request").inner_text() == request_id[:8]
    assert warning.locator("summary").inner_text() == "low on coffee"
    debug = page.locator("#mon-lines li:has-text('a debug detail') .log-level")
    assert debug.inner_text() == "DEBUG"
    # The whole record is one click away.
    warning.locator("summary").click()
    assert '"logger": "root"' in warning.locator("pre").inner_text()
    report = page.locator("#mon-lines li .log-platform:has-text('REPORT')")
    report.wait_for()
    assert request_id in report.inner_text() and "Duration:" in report.inner_text()

    row = page.locator(f"#mon-invocations tr[data-request-id='{request_id}']")
    row.wait_for(timeout=20_000)
    assert "succeeded" in row.inner_text()
    row.click()
    page.wait_for_selector("#mon-detail-lines .log-platform:has-text('REPORT')")
    detail = page.inner_text("#mon-detail-lines")
    assert detail.startswith(f"START {request_id} Version: $LATEST")
    assert "low on coffee" in detail
    console.screenshot("monitor-json-logs")
    assert console.foreign_requests() == []
