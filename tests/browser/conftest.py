"""Browser tests: real Chromium (Debian's, driven by Playwright) against the real stack: gunicorn
with gevent workers, a Celery worker and beat, a private Redis, this run's database.

Skipped, saying so, when there is no Chromium (``apt-get install chromium``)."""
import os
import re
import tempfile
from pathlib import Path

import pytest

from tests.integration.events_stack import running_stack

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCRATCH = Path(tempfile.gettempdir()) / "portal-browser-screenshots"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "password123"
WEBHOOK_SECRET = "whsec_browser_tests"
LIVE_TIMEOUT_MS = 5000  # "within 5 s, without a reload": a bound on waiting, not a measurement

NO_CHROMIUM = f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium)"


@pytest.fixture(scope="session", autouse=True)
def chromium_present():
    """Every browser test is skipped, with this message, on a machine without Chromium."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="package")
def stack(app, demo, database_url, tmp_path_factory):
    """One running stack for the browser tests (starting it takes seconds on 2 cores), stopped
    when they are done: its worker and beat must not deliver the outbox of later tests."""
    with running_stack(tmp_path_factory.mktemp("browser-stack"), database_url,
                       PAYMENT_WEBHOOK_SECRET=WEBHOOK_SECRET,
                       UPLOAD_DIR=str(tmp_path_factory.mktemp("browser-uploads"))) as running:
        yield running


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Portals:
    """Signed-in browser contexts for one test, each recording every request it makes."""

    def __init__(self, browser, base):
        self.browser, self.base = browser, base
        self.contexts, self.requests = [], []

    def open(self, name=None, viewport=DESKTOP, path="/maintenance"):
        """A new context (its own cookies) signed in as a demo user through the login form;
        returns its page, waiting until the page's live stream is connected."""
        context = self.browser.new_context(base_url=self.base, viewport=viewport)
        context.on("request", lambda request: self.requests.append(request.url))
        self.contexts.append(context)
        page = context.new_page()
        if name is None:
            return page
        page.goto("/login?next=" + path)
        page.fill('input[name="email"]', f"{name}@example.com")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(re.compile(re.escape(path.split("?")[0]) + r"(\?.*)?$"))
        wait_live(page)
        return page

    def foreign_requests(self) -> list:
        """Every request that went anywhere but the portal's own origin."""
        return [url for url in self.requests
                if not (url.startswith(self.base + "/") or url.startswith(("data:", "blob:")))]

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def portals(browser, stack):
    opened = Portals(browser, stack.base)
    yield opened
    opened.close()


def wait_live(page):
    """Wait until the page's EventSource has said ``connected`` (live.js marks <html>)."""
    page.wait_for_selector('html[data-live="connected"]', state="attached",
                           timeout=LIVE_TIMEOUT_MS * 2)


def mark_no_reload(*pages):
    """Leave a marker in each page's window: it survives only if the page never reloads."""
    for page in pages:
        page.evaluate("window.__sameDocument = true")


def never_reloaded(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def screenshot(page, name):
    """Take a full-page screenshot; into docs/screenshots/ with UPDATE_SCREENSHOTS=1 (so that
    an ordinary run leaves the tracked pictures alone), else beside the test's other files."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
