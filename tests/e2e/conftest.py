"""Browser fixtures: one real Keel server process on a database of its own with the demo data, Debian chromium
driven by Playwright's sync API, and full-page screenshots in test-artifacts/e2e/ for people to look at.

Never pytest-django's live_server or transactional_db here: their flush would empty the shared test database.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest

from apps.demo.services import DEMO_PASSWORD, DEMO_TOTP_SECRET
from tests.support.processes import keel_web_server, separate_database

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
LAPTOP = {"width": 1366, "height": 850}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

MANAGER = "am@northwind.example"
EXECUTIVE = "cfo@acme.example"


@pytest.fixture(scope="session")
def keel_server():
    """A Keel web server with the demo data loaded by `manage.py keel_setup --demo`.

    The set-up runs Celery tasks eagerly (KEEL_CELERY_EAGER) as a worker would have run them: the demo's
    alerts are delivered and the console's rollup is refreshed, instead of waiting in a broker nobody reads.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    with separate_database(demo=True, extra_env={"KEEL_CELERY_EAGER": "1"}) as env, keel_web_server(env) as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The screenshot folder, emptied of the previous run's pictures."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(keel_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


class BrowserErrors(list):
    """JavaScript errors and console errors (CSP violations, failed scripts, missing files) seen by a test."""

    def __init__(self):
        super().__init__()
        # Keel serves no favicon; Chromium asks for one on every page (reported, left alone).
        self.expected_missing = {"/favicon.ico"}

    def watch(self, page) -> None:
        page.on("pageerror", lambda exc: self.append(f"page error: {exc}"))
        page.on("console", self._console)

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        url = msg.location.get("url", "")
        if msg.text.startswith("Failed to load resource") and any(url.endswith(p) for p in self.expected_missing):
            return
        self.append(f"console: {msg.text} ({url})")


@pytest.fixture
def browser_errors():
    """Add a path to browser_errors.expected_missing before opening a page that is meant to be a 404."""
    return BrowserErrors()


@pytest.fixture
def new_page(browser, keel_server, artifacts, browser_errors):
    """new_page(storage_state=None) -> a page in a fresh laptop-sized browser context.

    At the end of the test, any JavaScript or console error on any of its pages fails the test."""
    contexts = []

    def make(storage_state=None):
        context = browser.new_context(viewport=LAPTOP, base_url=keel_server, storage_state=storage_state)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        browser_errors.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not browser_errors, "the browser reported errors:\n" + "\n".join(browser_errors)


@pytest.fixture
def shot(artifacts, request):
    """shot(page, "name") saves a full-page screenshot named after the test and the step."""
    counter = iter(range(1, 100))
    test_name = request.node.name.removeprefix("test_")

    def take(page, step: str) -> Path:
        path = artifacts / f"{test_name}--{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


_used_codes: set[str] = set()


def fresh_totp_code() -> str:
    """The current TOTP code, waiting for the next period if this one was already used (allauth refuses
    a code twice within its period)."""
    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    deadline = time.time() + 35
    code = totp.now()
    while code in _used_codes and time.time() < deadline:
        time.sleep(1)
        code = totp.now()
    _used_codes.add(code)
    return code


def sign_in(page, email: str, *, totp: bool, shot=None) -> None:
    """The sign-in form, then (staff) the TOTP step, exactly as a person does it."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    if shot:
        shot(page, "sign-in")
    page.get_by_role("button", name="Sign in", exact=True).click()
    if totp:
        page.wait_for_url("**/accounts/2fa/authenticate/")
        code_field = page.get_by_label("Code")
        code_field.wait_for()
        if shot:
            shot(page, "totp-step")
        code_field.fill(fresh_totp_code())
        page.get_by_role("button", name="Sign in", exact=False).first.click()
    page.wait_for_load_state()


_sessions: dict[str, dict] = {}


@pytest.fixture
def manager_page(new_page):
    """A page signed in as the demo account manager (signs in once per session, then reuses the cookies)."""
    if MANAGER not in _sessions:
        page = new_page()
        sign_in(page, MANAGER, totp=True)
        page.wait_for_url("**/")
        _sessions[MANAGER] = page.context.storage_state()
        page.close()
    return new_page(storage_state=_sessions[MANAGER])


def remember_session(email: str, page) -> None:
    _sessions[email] = page.context.storage_state()
