"""IAM in a real browser: a read-only user (AWSLambda_ReadOnlyAccess, made and given a
console password through the IAM API) sees the function page with Deploy, Delete function and
Test disabled, with the reason, and neither clicking nor the keyboard shortcut sends anything."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import client_for, create_function
from console.tests.browser import ARTIFACTS, Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

READ_ONLY = "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
PASSWORD = "a read-only phrase 42"


def _read_only_member(console: Console) -> str:
    """A user of the console user's account with AWSLambda_ReadOnlyAccess and a password."""
    iam = client_for(console.server, console.credentials, "iam")
    name = f"reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    return name


def test_a_read_only_user_sees_deploy_and_test_disabled_with_the_reason(
    console: Console, chromium: Any
) -> None:
    create_function(console.lam, "guarded")
    before = console.lam.get_function(FunctionName="guarded")["Configuration"]
    name = _read_only_member(console)
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    try:
        server = console.server.url
        page.goto(f"{server}/login/")
        page.fill("input[name=username]", f"{console.credentials.account_id}/{name}")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        page.click("text=guarded")
        page.wait_for_selector("h1:has-text('guarded')")
        # The editor loaded the package (reading is allowed), yet Deploy stays disabled.
        expect(page.locator("#code-loading")).to_be_hidden()
        deploy = page.locator("#code-deploy")
        expect(deploy).to_be_disabled()
        expect(deploy).to_have_attribute("title", _denied(name, "lambda:UpdateFunctionCode"))
        expect(
            page.locator("text=You need lambda:UpdateFunctionCode to deploy code.")
        ).to_be_visible()
        delete = page.locator("#function-delete")
        expect(delete).to_be_disabled()
        expect(delete).to_have_attribute("title", _denied(name, "lambda:DeleteFunction"))
        # An edit and Ctrl+S, the editor's deploy shortcut, send nothing either.
        page.locator("#code-editor .cm-content").click()
        page.keyboard.type("# changed\n")
        expect(deploy).to_be_disabled()
        page.keyboard.press("Control+s")

        page.click("role=tab[name='Test']")
        run = page.locator("#tt-run")
        expect(run).to_be_disabled()
        expect(run).to_have_attribute("title", _denied(name, "lambda:InvokeFunction"))
        expect(page.locator("text=You need lambda:InvokeFunction to run Test.")).to_be_visible()
        run.click(force=True)  # a click on a disabled button fires nothing
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "read-only-test-tab.png"), full_page=True)
    finally:
        context.close()
    posts = [request for request in sent if request.startswith(("POST", "PUT", "DELETE"))]
    assert [request for request in posts if "/login/" not in request] == []
    after = console.lam.get_function(FunctionName="guarded")["Configuration"]
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after["RevisionId"] == before["RevisionId"]


def _denied(user: str, action: str) -> re.Pattern[str]:
    """AWS's AccessDenied message for ``user`` and ``action`` (the title of the control)."""
    return re.compile(
        r"^User: arn:aws:iam::\d{12}:user/"
        + re.escape(f"{user} is not authorized to perform: {action} on resource: ")
    )
