"""Debian's Chromium driven by Playwright (headless), and the app served live on a clone of the demo city."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.server.live import LiveServer, live_server

CHROMIUM = "/usr/bin/chromium"  # installed by scripts/install-system.sh; Playwright downloads no browser here
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def web_server(demo_clone_url, tmp_path) -> Iterator[LiveServer]:
    with live_server(demo_clone_url, tmp_path / "server.log") as server:
        yield server


class BrowserTab:
    """A page in a fresh browser context that logs every request it and its workers make."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.context.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def hosts(self) -> set[str]:
        """The hosts requested over the network (data: and blob: URLs stay in the browser)."""
        return {
            urlsplit(url).hostname for url in self.requests if urlsplit(url).scheme not in ("data", "blob")
        }


@pytest.fixture
def tab(browser) -> Iterator[BrowserTab]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        yield BrowserTab(context.new_page())
    finally:
        context.close()
