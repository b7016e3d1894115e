"""The configuration tab in a real browser: memory and an environment variable changed
through the UI reach the function's configuration."""

from __future__ import annotations

import pytest

from conftest import create_function
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
