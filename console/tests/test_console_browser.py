"""The console in a real browser: sign-in, the function page, and no third-party requests."""

from __future__ import annotations

import pytest

from conftest import create_function
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_a_signed_in_user_opens_a_function_page_and_switches_tabs(console: Console) -> None:
    create_function(console.lam, "browsed")
    console.goto("/")
    console.page.click("text=browsed")
    console.page.wait_for_selector("h1:has-text('browsed')")
    # The tabs work once their script has run (it marks every tab selected or not).
    console.page.wait_for_selector("#tab-monitor[aria-selected]", state="attached")
    console.page.click("role=tab[name='Monitor']")
    assert console.page.get_attribute("#tab-monitor", "aria-selected") == "true"
    assert console.page.is_visible("#panel-monitor")
    console.page.keyboard.press("ArrowRight")
    assert console.page.get_attribute("#tab-configuration", "aria-selected") == "true"
    console.screenshot("function-page")
    assert console.foreign_requests() == []
