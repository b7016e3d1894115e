"""End-to-end console tests: Playwright driving Debian's Chromium against the live server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, Credentials, LiveServer, client_for

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@dataclass
class Console:
    """A signed-in browser page plus the same user's API clients."""

    page: Any
    server: LiveServer
    credentials: Credentials
    requests: list[str]

    @property
    def lam(self) -> Any:
        return client_for(self.server, self.credentials)

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def foreign_requests(self) -> list[str]:
        """Every request the page made to a host other than the server itself."""
        own = urlsplit(self.server.url).netloc
        return [url for url in self.requests if urlsplit(url).netloc not in (own, "")]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A browser per test module: Playwright's sync API keeps an event loop running in
    this thread while it is open, which would stop later tests from using asyncio.run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console(functory: LiveServer, chromium: Any) -> Iterator[Console]:
    """A fresh account, a user with a password and a key, signed in in a new browser context."""
    import json

    name = f"console-{uuid.uuid4().hex[:8]}"
    password = "console-password-1"
    made = functory.manage("createuser", name, "--admin", "--password", password, "--access-key")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    credentials = Credentials(
        data["AccountId"], data["UserName"], data["AccessKeyId"], data["SecretAccessKey"]
    )
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{functory.url}/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{functory.url}/")
    yield Console(page=page, server=functory, credentials=credentials, requests=requests)
    context.close()
