"""Fixtures of the console's browser tests: headless Chromium (skipped, with the reason, when it or Playwright is
missing), the screenshots folder, and a watched page on the platform's gateway."""

from __future__ import annotations

import pytest

from tests.helpers.browser import BROWSER_MISSING, WatchedPage, launched_browser, screenshots_dir


@pytest.fixture(scope="session")
def browser():
    if BROWSER_MISSING:
        pytest.skip(BROWSER_MISSING)
    with launched_browser() as launched:
        yield launched


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    return screenshots_dir(tmp_path_factory)


@pytest.fixture
def watched(browser, platform, screenshots):
    """A fresh browser context on the gateway that records dialogs, CSP violations, errors and foreign requests."""
    page = WatchedPage(browser, platform.gateway_url, screenshots)
    yield page
    page.close()
