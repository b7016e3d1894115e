"""The Function URL section in a real browser: a public (NONE) URL with CORS made through the
UI, its public-access statements shown, its address copied, the function called from the
page, and the URL deleted with its statements."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import create_function, make_zip
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

HANDLER = """import json

def handler(event, context):
    http = event["requestContext"]["http"]
    return {
        "statusCode": 201,
        "headers": {"x-answer": "from-the-function"},
        "body": json.dumps({
            "method": http["method"],
            "rawPath": event["rawPath"],
            "query": event.get("queryStringParameters"),
            "greeting": event["headers"].get("x-greeting"),
            "body": event.get("body"),
        }),
    }
"""


def _policy_sids(lam: Any, name: str) -> list[str]:
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return [statement["Sid"] for statement in policy["Statement"]]


def test_a_public_url_is_made_copied_called_and_deleted_through_the_ui(console: Console) -> None:
    create_function(console.lam, "web", Code={"ZipFile": make_zip({"app.py": HANDLER})})
    page = console.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    console.goto("/functions/web/#configuration")
    section = page.locator("#cfg-url")
    section.get_by_role("button", name="Create function URL").click()
    form = section.locator('[data-form="url"]')
    form.get_by_label("NONE").check()
    assert form.locator('[data-auth-note="NONE"]').is_visible()
    form.get_by_label("Configure cross-origin resource sharing (CORS)").check()
    form.get_by_label("Allow origins").fill("https://app.example.com")
    form.get_by_label("GET", exact=True).check()
    form.get_by_label("POST", exact=True).check()
    form.get_by_label("Allow headers").fill("content-type, x-greeting")
    form.get_by_label("Expose headers").fill("x-answer")
    form.get_by_label("Max age (seconds)").fill("300")
    form.get_by_label("Allow credentials").check()
    form.get_by_role("button", name="Save").click()

    link = section.locator("[data-function-url]")
    link.wait_for()
    url = link.inner_text()
    config = console.lam.get_function_url_config(FunctionName="web")
    assert url == config["FunctionUrl"]
    assert url.startswith(f"{console.server.url}/lambda-url/")
    assert config["AuthType"] == "NONE"
    assert config["Cors"] == {
        "AllowOrigins": ["https://app.example.com"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-greeting"],
        "ExposeHeaders": ["x-answer"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    # The page says which statements it added, and the Permissions section shows them.
    notice = section.locator("[data-url-notice]").inner_text()
    assert "Added the policy statement FunctionURLAllowPublicAccess" in notice
    assert "Added the policy statement FunctionURLInvokeAllowPublicAccess" in notice
    page.locator(
        "#cfg-policy [data-statements] td", has_text="FunctionURLAllowPublicAccess"
    ).wait_for()
    assert _policy_sids(console.lam, "web") == [
        "FunctionURLAllowPublicAccess",
        "FunctionURLInvokeAllowPublicAccess",
    ]
    # The overview and the Triggers section show the URL as a trigger.
    assert url in page.locator("[data-overview-triggers]").inner_text()
    assert url in page.locator("#cfg-triggers").inner_text()

    section.get_by_role("button", name="Copy the URL of $LATEST").click()
    section.get_by_text("Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url

    call = section.locator('[data-form="url-call"]')
    call.get_by_label("Method").select_option("POST")
    call.get_by_label("Path and query").fill("/greet/ada?lang=en")
    call.get_by_label("Headers").fill("x-greeting: hello\ncontent-type: text/plain")
    call.get_by_label("Body").fill("a body")
    call.get_by_role("button", name="Send request").click()
    status = call.locator("[data-call-status]")
    status.wait_for()
    expect(call.locator("[data-call-body]")).to_contain_text("rawPath")
    assert status.inner_text().startswith("201")
    assert "x-answer: from-the-function" in call.locator("[data-call-headers]").inner_text()
    answer = json.loads(call.locator("[data-call-body]").inner_text())
    assert answer == {
        "method": "POST",
        "rawPath": "/greet/ada",
        "query": {"lang": "en"},
        "greeting": "hello",
        "body": "a body",
    }
    console.screenshot("function-url-section")

    page.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="Delete the URL of $LATEST").click()
    section.get_by_text("No function URL").wait_for()
    notice = section.locator("[data-url-notice]").inner_text()
    assert "Removed the policy statement FunctionURLAllowPublicAccess" in notice
    assert "Removed the policy statement FunctionURLInvokeAllowPublicAccess" in notice
    assert console.lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"] == []
    assert _policy_sids(console.lam, "web") == []
    assert "None" in page.locator("[data-overview-triggers]").inner_text()
    assert console.foreign_requests() == []


def test_a_bad_origin_is_shown_next_to_the_origins_in_the_apis_words(console: Console) -> None:
    create_function(console.lam, "strict")
    page = console.page
    console.goto("/functions/strict/#configuration")
    section = page.locator("#cfg-url")
    section.get_by_role("button", name="Create function URL").click()
    form = section.locator('[data-form="url"]')
    form.get_by_label("Configure cross-origin resource sharing (CORS)").check()
    form.get_by_label("Allow origins").fill("ftp://files.example.com")
    form.get_by_role("button", name="Save").click()
    error = form.locator('[data-error-for="cors.allowOrigins"]')
    error.wait_for()
    assert "The origin ftp://files.example.com is invalid" in error.inner_text()
    assert form.get_by_label("Allow origins").get_attribute("aria-invalid") == "true"
    assert console.lam.list_function_url_configs(FunctionName="strict")["FunctionUrlConfigs"] == []


def _alias_policy_sids(lam: Any, name: str, alias: str) -> list[str]:
    try:
        policy = json.loads(lam.get_policy(FunctionName=name, Qualifier=alias)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return [statement["Sid"] for statement in policy["Statement"]]


def test_an_alias_url_switched_between_aws_iam_and_none_opens_and_closes(
    console: Console,
) -> None:
    create_function(console.lam, "gated", Code={"ZipFile": make_zip({"app.py": HANDLER})})
    console.lam.create_alias(FunctionName="gated", Name="live", FunctionVersion="$LATEST")
    page = console.page
    console.goto("/functions/gated/#configuration")
    section = page.locator("#cfg-url")
    section.get_by_role("button", name="Create function URL").click()
    form = section.locator('[data-form="url"]')
    form.get_by_label("Qualifier").select_option("live")
    form.get_by_role("button", name="Save").click()
    section.locator('[data-url-qualifier="live"]').wait_for()
    assert (
        console.lam.get_function_url_config(FunctionName="gated", Qualifier="live")["AuthType"]
        == "AWS_IAM"
    )
    assert _alias_policy_sids(console.lam, "gated", "live") == []

    call = section.locator('[data-form="url-call"]')
    status = call.locator("[data-call-status]")

    def send() -> str:
        status.evaluate("node => { node.textContent = '' }")
        call.get_by_role("button", name="Send request").click()
        expect(status).to_have_text(re.compile(r"\S"))
        return status.inner_text()

    # Unsigned, from the page: AWS_IAM refuses it.
    assert send().startswith("403")

    section.get_by_role("button", name="Edit the URL of live").click()
    form.get_by_label("NONE").check()
    form.get_by_role("button", name="Save").click()
    section.get_by_text("Saved the URL of live.").wait_for()
    assert _alias_policy_sids(console.lam, "gated", "live") == [
        "FunctionURLAllowPublicAccess",
        "FunctionURLInvokeAllowPublicAccess",
    ]
    # The function's own policy ($LATEST's) is not the alias's.
    assert _policy_sids(console.lam, "gated") == []
    expect(call.locator("[data-call-urls] option")).to_contain_text("(NONE)")
    assert send().startswith("201")

    section.get_by_role("button", name="Edit the URL of live").click()
    form.get_by_label("AWS_IAM").check()
    form.get_by_role("button", name="Save").click()
    notice = section.locator("[data-url-notice]")
    expect(notice).to_contain_text("Removed")
    assert "Removed the policy statement FunctionURLInvokeAllowPublicAccess" in notice.inner_text()
    assert _alias_policy_sids(console.lam, "gated", "live") == []
    assert send().startswith("403")


STREAMING = r"""
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 202,
    headers: { "content-type": "text/plain", "x-kind": "streamed" },
  });
  for (const part of ["one ", "two ", "three"]) {
    responseStream.write(part);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  responseStream.end(" at " + event.rawPath);
});
"""


def test_a_response_stream_url_made_in_the_ui_answers_the_page_in_chunks(
    console: Console,
) -> None:
    create_function(
        console.lam,
        "streamer",
        Runtime="nodejs20.x",
        Handler="index.handler",
        Timeout=30,
        Code={"ZipFile": make_zip({"index.js": STREAMING})},
    )
    page = console.page
    console.goto("/functions/streamer/#configuration")
    section = page.locator("#cfg-url")
    section.get_by_role("button", name="Create function URL").click()
    form = section.locator('[data-form="url"]')
    form.get_by_label("NONE").check()
    form.get_by_label("RESPONSE_STREAM").check()
    form.get_by_role("button", name="Save").click()
    section.get_by_text("Created the URL of $LATEST.").wait_for()
    config = console.lam.get_function_url_config(FunctionName="streamer")
    assert (config["AuthType"], config["InvokeMode"]) == ("NONE", "RESPONSE_STREAM")

    call = section.locator('[data-form="url-call"]')
    call.get_by_label("Path and query").fill("/live")
    call.get_by_role("button", name="Send request").click()
    body = call.locator("[data-call-body]")
    expect(body).to_have_text("one two three at /live", timeout=60_000)
    assert call.locator("[data-call-status]").inner_text().startswith("202")
    assert "x-kind: streamed" in call.locator("[data-call-headers]").inner_text()
