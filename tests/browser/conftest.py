"""Real-browser fixtures: the support page served by uvicorn on loopback, driven by Chromium.

Why real parts: the page's promises - it works without JavaScript, progress arrives while a
register is checked, a hostile name from the network stays text, the CSRF token travels with
every form - are promises about what a browser does, which a test client cannot show.

* ``chromium_path`` finds Debian's ``chromium`` (``PEPPOLNET_CHROMIUM`` overrides). Playwright's
  own browser downloads are never used: ``.ci/run`` installs the distribution's package, which
  gets security updates with the rest of the system.
* ``serve(app)`` runs an ASGI app under uvicorn in a thread on a free port of 127.0.0.1 and
  gives its base URL once uvicorn says it is listening (an event, never a sleep).
* ``page`` is a fresh browser context per test (no cookie or CSRF token leaks between tests),
  with generous waits: the machine running the suite may be busy.
* ``mailbox`` is a real local SMTP server (aiosmtpd) whose messages a test can wait for.
* ``screenshot(page, name)`` writes ``docs/img/web-<name>.png`` only when
  ``PEPPOLNET_SCREENSHOTS=1``, so an ordinary run never rewrites the repository.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _browser_support import WAIT_MS, LiveServer, Mailbox

from _mailbox import local_smtp

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations() -> None:
    """``expect(...)`` waits as long as the page's own waits (the default is 5 s)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary the tests drive; a missing one fails with what to install."""
    configured = os.environ.get("PEPPOLNET_CHROMIUM")
    if configured:
        return configured
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no Chromium found for the browser tests: apt-get install chromium "
        "(.ci/run does), or set PEPPOLNET_CHROMIUM to its path"
    )


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium per test module (contexts isolate the tests).

    Not per session: Playwright's sync API keeps an event loop running in the main thread while
    it is open, and pytest-asyncio's tests in later modules cannot start theirs beside it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context and page: own cookies, English Accept-Language unless a test asks."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """``serve(app) -> base URL``: the app under uvicorn on loopback until the test ends."""
    running: list[LiveServer] = []

    def start(app: Any) -> str:
        server = LiveServer(app)
        running.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in running:
            server.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 (its port) and the mailbox it delivers to."""
    with local_smtp() as served:
        yield served


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Save ``docs/img/web-<name>.png`` when PEPPOLNET_SCREENSHOTS=1 (for docs/web.md)."""

    def take(page: Page, name: str) -> None:
        if os.environ.get("PEPPOLNET_SCREENSHOTS") != "1":
            return
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"web-{name}.png"), full_page=True)

    return take
