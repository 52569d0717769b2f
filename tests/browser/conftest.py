"""Real headless Chromium (Debian's package) driven by Playwright against pytest-django's live server.

The live server runs in a thread of this process on the test database (PostgreSQL in `make test`),
so a test can act in the browser and then look at the database or the API. Playwright's sync API
keeps an event loop in the main thread; Django refuses ORM calls in a thread with a running loop
unless told that this is intended, so the browser tests say so.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


# Package scope, not session: while Playwright's sync API is open its event loop runs in the main
# thread, and every later test that calls asyncio.run() (the device drivers') would fail.
@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package; run it, or apt-get install chromium")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def new_context(browser, live_server, *, locale: str = "en", **options):
    """A fresh browser profile (no cookies, no storage) speaking ``locale``, its base URL the live server."""
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(base_url=live_server.url, locale=locale, **options)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def context(browser, live_server):
    context = new_context(browser, live_server)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the real login form, as a person would."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    """Take a screenshot; with MES_UPDATE_SCREENSHOTS=1 it replaces the README's one under docs/screenshots/.

    Otherwise it goes to a temporary folder, so a plain `make test` leaves the working tree clean.
    """
    folder = SCREENSHOTS if os.environ.get("MES_UPDATE_SCREENSHOTS") == "1" else Path(tempfile.gettempdir()) / "mes-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 0
    return path


def person(username: str, role: str, password: str = "secret-pass-1"):
    """A person who signs in with a password, holding ``role`` (same service as the API's personas)."""
    from mes.services.accounts import api_token_create

    user = api_token_create(username=username, role=role).user
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
