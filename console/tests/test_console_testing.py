"""The Test tab in a real browser: a saved event from a template, then Test and its result."""

from __future__ import annotations

import pytest

from conftest import create_function, make_zip
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

HANDLER = (
    "def handler(event, context):\n"
    "    print('tested with', event['Records'][0]['eventSource'])\n"
    "    return {'source': event['Records'][0]['eventSource'], 'ok': True}\n"
)


def test_a_user_saves_an_event_from_a_template_and_tests_the_function(console: Console) -> None:
    create_function(console.lam, "tested", Code={"ZipFile": make_zip({"app.py": HANDLER})})
    console.goto("/functions/tested/#test")
    page = console.page
    page.wait_for_selector("#tt-editor .cm-content")
    page.select_option("#tt-template", "sqs")
    # A function, not an expression string: the page's CSP forbids eval (Playwright
    # evaluates a bare expression with it).
    page.wait_for_function(
        "() => document.querySelector('#tt-editor .cm-content').innerText.includes('aws:sqs')"
    )
    page.fill("#tt-name", "my-sqs")
    page.click("#tt-save")
    page.wait_for_selector("#tt-saved option:checked:has-text('my-sqs')", state="attached")

    page.click("#tt-run")
    page.wait_for_selector("#tt-result:not([hidden])", timeout=30_000)
    assert page.inner_text("#tt-status") == "succeeded"
    assert '"source": "aws:sqs"' in page.inner_text("#tt-response")
    assert "tested with aws:sqs" in page.inner_text("#tt-log")
    request_id = page.inner_text("#tt-sum-request_id")
    assert f"REPORT RequestId: {request_id}" in page.inner_text("#tt-log")
    assert page.inner_text("#tt-sum-duration_ms").endswith(" ms")
    assert page.inner_text("#tt-sum-memory_mb") == "128 MB"
    assert page.inner_text("#tt-sum-init_duration_ms").endswith(" ms")  # the first call is cold
    console.screenshot("test-tab")

    # The saved event survives a reload; a bad name is reported next to the name field.
    page.reload()
    page.wait_for_selector("#tt-saved option:has-text('my-sqs')", state="attached")
    page.fill("#tt-name", "bad name")
    page.click("#tt-save")
    page.wait_for_selector(
        "#test-app [data-tt-error-for='name']:has-text('InvalidParameterValueException')"
    )
    assert console.foreign_requests() == []


def test_a_failing_invocation_shows_its_error_type_and_log(console: Console) -> None:
    code = "def handler(event, context):\n    raise ValueError('no good')\n"
    create_function(console.lam, "failing", Code={"ZipFile": make_zip({"app.py": code})})
    console.goto("/functions/failing/#test")
    page = console.page
    page.wait_for_selector("#tt-editor .cm-content")
    page.click("#tt-run")
    page.wait_for_selector("#tt-result:not([hidden])", timeout=30_000)
    assert page.inner_text("#tt-status") == "failed (ValueError)"
    assert '"errorMessage": "no good"' in page.inner_text("#tt-response")
    assert "[ERROR] ValueError: no good" in page.inner_text("#tt-log")
    assert console.foreign_requests() == []
