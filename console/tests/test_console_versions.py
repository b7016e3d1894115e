"""The versions and aliases tab, the layers page and the account page in a real browser,
driven through the UI only."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import create_function, make_zip
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]


def _publish(console: Console, description: str) -> None:
    page = console.page
    form = page.locator('[data-form="publish"]')
    form.get_by_label("Version description (optional)").fill(description)
    with page.expect_navigation():
        form.get_by_role("button", name="Publish new version").click()


def test_versions_are_published_and_a_weighted_alias_created(console: Console) -> None:
    create_function(console.lam, "versioned")
    page = console.page
    console.goto("/functions/versioned/#versions")
    _publish(console, "first")
    # A second version needs a configuration change (a new description alone is not one).
    page.get_by_role("tab", name="Configuration").click()
    general = page.locator("#cfg-general")
    general.get_by_label("Memory (MB)").fill("256")
    general.get_by_role("button", name="Save").click()
    general.get_by_text("Saved").wait_for()
    page.get_by_role("tab", name="Versions and aliases").click()
    _publish(console, "second")
    assert page.locator("[data-versions] tbody tr").count() == 2
    page.get_by_role("button", name="Publish new version").click()
    page.get_by_text("Nothing changed since version 2").wait_for()

    form = page.locator('[data-form="alias"]')
    form.get_by_label("Name").fill("live")
    form.locator("select[name=FunctionVersion]").select_option("1")
    form.locator("select[name=AdditionalVersion]").select_option("2")
    slider = form.get_by_role("slider", name="Weight of the additional version")
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    assert form.locator("[data-weight-out]").inner_text() == "20 %"
    with page.expect_navigation():
        form.get_by_role("button", name="Create alias").click()
    page.locator("tr[data-alias='live']").wait_for()

    alias = console.lam.get_alias(FunctionName="versioned", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}
    versions = console.lam.list_versions_by_function(FunctionName="versioned")["Versions"]
    assert [v["Description"] for v in versions[1:]] == ["first", "second"]
    console.screenshot("versions-tab")
    assert console.foreign_requests() == []


def test_a_layer_version_is_published_and_deleted(console: Console) -> None:
    page = console.page
    console.goto("/layers/")
    form = page.locator('[data-form="publish"]')
    form.get_by_label("Layer name").fill("shared-deps")
    form.get_by_label("Description").fill("helpers")
    form.get_by_label(".zip file").set_input_files(
        files=[
            {
                "name": "layer.zip",
                "mimeType": "application/zip",
                "buffer": make_zip({"python/helpers.py": "X = 1\n"}),
            }
        ]
    )
    form.get_by_label("python3.12").check()
    with page.expect_navigation():
        form.get_by_role("button", name="Publish").click()
    row = page.locator("tr[data-layer='shared-deps'][data-number='1']")
    row.wait_for()
    listed = console.lam.list_layer_versions(LayerName="shared-deps")["LayerVersions"]
    assert [(v["Version"], v["CompatibleRuntimes"]) for v in listed] == [(1, ["python3.12"])]
    console.screenshot("layers-page")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete shared-deps version 1").click()
    row.wait_for(state="detached")
    assert console.lam.list_layer_versions(LayerName="shared-deps")["LayerVersions"] == []
    assert console.foreign_requests() == []


def test_an_access_key_is_created_shown_once_and_deactivated(console: Console) -> None:
    page = console.page
    console.goto("/account/")
    page.locator("button[data-create-key]").click()
    secret_box = page.locator("[data-secret]")
    secret_box.wait_for()
    key_id = secret_box.locator("[data-secret-id]").inner_text()
    secret = secret_box.locator("[data-secret-value]").inner_text()
    assert key_id.startswith("AKIA") and len(secret) == 40
    new_key = boto3.client(
        "lambda",
        endpoint_url=console.server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )
    assert new_key.list_functions()["Functions"] == []
    console.screenshot("account-page")

    secret_box.get_by_role("button", name="Done").click()
    assert secret_box.is_hidden()
    row = page.locator(f"tr[data-key='{key_id}']")
    row.get_by_role("button", name="Deactivate").click()
    row.locator("[data-key-status]", has_text="Inactive").wait_for()
    deadline = time.monotonic() + 10
    while True:
        try:
            new_key.list_functions()
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            break
        assert time.monotonic() < deadline, "the deactivated key still signs requests"
        time.sleep(0.5)
    page.reload()
    assert secret not in page.content()
    assert console.foreign_requests() == []
