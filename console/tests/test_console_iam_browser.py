"""The IAM pages in a real browser: an account's administrator writes a policy in the JSON
editor, is told where a JSON syntax error is, gets IAM's own error for a document that is JSON
but no valid policy (the document kept as typed), fixes it, saves it, and attaches the policy
to a user."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import LiveServer
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

PASSWORD = "iam-admin-password-1"


@pytest.fixture
def admin_console(functory: LiveServer, chromium: Any) -> Iterator[Console]:
    """A fresh account whose administrator is signed in in a new browser context."""
    from conftest import Credentials

    name = f"admin-{uuid.uuid4().hex[:8]}"
    made = functory.manage("createuser", name, "--admin", "--password", PASSWORD, "--access-key")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    credentials = Credentials(
        data["AccountId"], data["UserName"], data["AccessKeyId"], data["SecretAccessKey"]
    )
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{functory.url}/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{functory.url}/")
    yield Console(page=page, server=functory, credentials=credentials, requests=requests)
    context.close()


def test_an_admin_writes_a_policy_fixes_what_iam_refuses_and_attaches_it_to_a_user(
    admin_console: Console,
) -> None:
    console = admin_console
    page = console.page
    console.goto("/account/iam/")

    # A user to give the policy to.
    users = page.locator("#users")
    users.get_by_label("User name").fill("reader")
    users.get_by_role("button", name="Create user").click()
    expect(page.locator("[data-iam-users]")).to_contain_text("reader")

    form = page.locator("[data-policy-create]")
    editor = form.locator("textarea[name=PolicyDocument]")
    status = form.locator("[data-json-status]")
    # The editor starts from a valid template.
    expect(editor).to_have_value(json.dumps(json.loads(editor.input_value()), indent=2))
    assert '"2012-10-17"' in editor.input_value()
    expect(status).to_contain_text("Valid JSON")

    form.get_by_label("Policy name").fill("read-functions")
    # A JSON syntax error: where it is, said as it is typed; nothing is sent.
    editor.fill('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}')
    expect(status).to_contain_text("line 4, column 24")
    form.get_by_role("button", name="Create policy").click()
    expect(form.locator('[data-error-for="policyDocument"]')).to_contain_text("not valid JSON")

    # JSON, but no policy IAM accepts: IAM's message beside the editor, the text kept.
    bad = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Effect": "Allow", "Action": "lambda:GetFunction"}\n  ]\n}'
    )
    editor.fill(bad)
    expect(status).to_contain_text("Valid JSON")
    form.get_by_role("button", name="Create policy").click()
    error = form.locator('[data-error-for="policyDocument"]')
    expect(error).to_contain_text("MalformedPolicyDocument")
    expect(editor).to_have_value(bad)
    assert page.locator("[data-iam-policies]").get_by_text("read-functions").count() == 0

    # Fixed, it is saved.
    editor.fill(bad.replace('"lambda:GetFunction"', '"lambda:GetFunction", "Resource": "*"'))
    form.get_by_role("button", name="Create policy").click()
    expect(page.locator("[data-iam-policies]")).to_contain_text("read-functions")
    console.screenshot("iam-page")

    # ...and attached to the user from the user's page.
    page.locator("[data-iam-users]").get_by_role("link", name="reader").click()
    expect(page.get_by_role("heading", name="User reader")).to_be_visible()
    page.get_by_label("Attach a policy").select_option(label="read-functions")
    page.get_by_role("button", name="Attach policy").click()
    attached = page.locator("[data-attached]")
    expect(attached).to_contain_text("read-functions")
    account = console.credentials.account_id
    expect(attached).to_contain_text(f"arn:aws:iam::{account}:policy/read-functions")

    # An inline policy from the template, then opened again for editing.
    inline = page.locator("[data-inline-form]")
    inline.get_by_label("Policy name").fill("inline-read")
    inline.get_by_role("button", name="Save inline policy").click()
    expect(page.locator("[data-inline]")).to_contain_text("inline-read")
    inline.locator("textarea").fill("")
    page.get_by_role("button", name="Edit inline policy inline-read").click()
    expect(inline.get_by_role("heading")).to_have_text("Edit inline policy inline-read")
    assert json.loads(inline.locator("textarea").input_value())["Version"] == "2012-10-17"
    assert console.foreign_requests() == []
    console.screenshot("iam-user-attached")
