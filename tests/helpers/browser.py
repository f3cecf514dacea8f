"""Headless Chromium for the console's end-to-end tests: Debian's ``chromium`` driven by Playwright for Python.

``BROWSER_MISSING`` says why there is no browser (None when there is one): tests skip with it. A ``WatchedPage`` is a
Playwright page that records what must never happen on the console: a dialog (an injected ``alert``), a
Content-Security-Policy violation, a console error, an uncaught exception, or a request to anything but the
gateway (such requests are also aborted). Screenshots go to ``SALESML_SCREENSHOTS_DIR`` when it is set (CI keeps
that folder), else under the session's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS_ENV = "SALESML_SCREENSHOTS_DIR"
# Registered before any page script runs (and outside the page's CSP): reports violations to the console.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


def _browser_missing() -> str | None:
    if CHROMIUM is None:
        return "no chromium on PATH (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


BROWSER_MISSING = _browser_missing()


def screenshots_dir(tmp_path_factory) -> Path:
    given = os.environ.get(SCREENSHOTS_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("console-screenshots")


@contextmanager
def launched_browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class WatchedPage:
    """A fresh browser context and page on the gateway, recording everything the console must never do."""

    def __init__(self, browser, base_url: str, screenshots: Path) -> None:
        self.base_url = base_url.rstrip("/")
        self.allowed_origin = urlsplit(self.base_url).netloc
        self.screenshots = screenshots
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.context.add_init_script(REPORT_VIOLATIONS)
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[str] = []
        self.foreign_requests: list[str] = []
        self.context.route("**/*", self._only_the_gateway)
        self.page = self.context.new_page()
        self.page.on("dialog", self._on_dialog)
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.set_default_timeout(30_000)

    def _only_the_gateway(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or (parts.scheme == "http" and parts.netloc == self.allowed_origin):
            route.continue_()
        else:
            self.foreign_requests.append(url)
            route.abort()

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.base_url}/{fragment}")

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_nothing_went_wrong(self) -> None:
        assert self.dialogs == [], "a script ran a dialog"
        assert self.foreign_requests == [], "the console asked another host"
        assert [error for error in self.console_errors if "CSP violation" in error] == []
        assert self.page_errors == []
        # The only console errors allowed are the browser's own reports of API answers the test asked for.
        assert [error for error in self.console_errors if "Failed to load resource" not in error] == []

    def close(self) -> None:
        self.context.close()
