"""The configuration tab in a real browser: memory and an environment variable changed
through the UI reach the function's configuration."""

from __future__ import annotations

import pytest

from conftest import create_function, make_zip
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_memory_and_an_environment_variable_are_changed_through_the_ui(console: Console) -> None:
    create_function(console.lam, "configured")
    page = console.page
    console.goto("/functions/configured/#configuration")
    general = page.locator("#cfg-general")
    general.get_by_label("Memory (MB)").fill("512")
    general.get_by_role("button", name="Save").click()
    general.get_by_text("Saved").wait_for()

    environment = page.locator("#cfg-environment")
    environment.get_by_role("button", name="Add environment variable").click()
    environment.get_by_label("Environment variable key").fill("GREETING")
    environment.get_by_label("Environment variable value").fill("hello from the console")
    assert "bytes (4 KB)" in environment.locator("[data-env-size]").inner_text()
    environment.get_by_role("button", name="Save").click()
    environment.get_by_text("Saved").wait_for()

    config = console.lam.get_function_configuration(FunctionName="configured")
    assert config["MemorySize"] == 512
    assert config["Environment"]["Variables"] == {"GREETING": "hello from the console"}
    console.screenshot("configuration-tab")
    assert console.foreign_requests() == []


def test_an_invalid_value_is_shown_next_to_its_field(console: Console) -> None:
    create_function(console.lam, "misconfigured")
    page = console.page
    console.goto("/functions/misconfigured/#configuration")
    general = page.locator("#cfg-general")
    general.get_by_label("Timeout (seconds)").fill("901")
    general.get_by_role("button", name="Save").click()
    error = general.locator('[data-error-for="timeout"]')
    error.wait_for()
    assert "less than or equal to 900" in error.inner_text()
    assert general.get_by_label("Timeout (seconds)").get_attribute("aria-invalid") == "true"
    assert console.lam.get_function_configuration(FunctionName="misconfigured")["Timeout"] == 3


def test_tags_a_policy_statement_and_a_layer_are_set_through_the_ui(console: Console) -> None:
    layer = console.lam.publish_layer_version(
        LayerName="deps", Content={"ZipFile": make_zip({"python/deps.py": "X = 1\n"})}
    )
    function = create_function(console.lam, "decorated")
    page = console.page
    console.goto("/functions/decorated/#configuration")

    tags = page.locator("#cfg-tags")
    tags.get_by_role("button", name="Add tag").click()
    tags.get_by_label("Tag key").fill("team")
    tags.get_by_label("Tag value").fill("payments")
    tags.get_by_role("button", name="Save").click()
    tags.get_by_text("Saved").wait_for()

    policy = page.locator("#cfg-policy")
    policy.get_by_label("Statement ID").fill("from-s3")
    policy.get_by_label("Principal").fill("s3.amazonaws.com")
    policy.get_by_role("button", name="Add permission").click()
    policy.locator("[data-statements] td", has_text="from-s3").wait_for()

    layers = page.locator("#cfg-layers")
    layers.locator("select[name=choice]").select_option(layer["LayerVersionArn"])
    layers.get_by_role("button", name="Add layer").click()
    layers.get_by_role("button", name="Save layers").click()
    layers.get_by_text("Saved").wait_for()

    assert console.lam.list_tags(Resource=function["FunctionArn"])["Tags"] == {"team": "payments"}
    statement = console.lam.get_policy(FunctionName="decorated")["Policy"]
    assert '"Sid":"from-s3"' in statement
    config = console.lam.get_function_configuration(FunctionName="decorated")
    assert [item["Arn"] for item in config["Layers"]] == [layer["LayerVersionArn"]]

    page.get_by_role("button", name="Remove statement from-s3").click()
    policy.locator("[data-statements] td", has_text="from-s3").wait_for(state="detached")
    assert console.foreign_requests() == []
