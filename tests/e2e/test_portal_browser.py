"""The portal in a real browser: Debian chromium driven by Playwright against a Keel server process
with the demo data. Screenshots land in test-artifacts/e2e/ for people to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyotp
import pytest

from apps.demo.services import DEMO_PASSWORD, DEMO_TOTP_SECRET
from tests.support.processes import keel_web_server, separate_database

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    with separate_database(demo=True) as env, keel_web_server(env) as base_url:
        yield base_url


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1366, "height": 850}, base_url=server)
        yield context.new_page()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, email: str, totp: bool) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    shot(page, f"login-{email.split('@')[0]}")
    page.get_by_role("button", name="Sign in", exact=True).click()
    if totp:
        page.wait_for_url("**/accounts/2fa/authenticate/")
        shot(page, "login-totp")
        page.get_by_label("Code").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
        page.get_by_role("button", name="Sign In").click()


def test_account_manager_signs_in_with_totp_switches_client_and_acknowledges(page):
    sign_in(page, "am@northwind.example", totp=True)
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Portfolio console").is_visible()
    for name in ("Acme Underwriting", "Maple Health Clinics", "Harbor Insurance"):
        assert page.get_by_role("link", name=name).first.is_visible()
    shot(page, "console")

    page.select_option("#switch-client", label="Acme Underwriting")
    page.wait_for_url("**/c/acme/")
    assert page.get_by_role("heading", name="Acme Underwriting").is_visible()
    shot(page, "acme-overview")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    page.wait_for_url("**/c/acme/alerts/")
    row = page.get_by_role("row").filter(has_text="Token burn far above baseline")
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    row = page.get_by_role("row").filter(has_text="Token burn far above baseline")
    assert row.get_by_text("Acknowledged").is_visible()
    shot(page, "acme-alert-acknowledged")

    row.get_by_role("link", name="Token burn far above baseline").click()
    assert page.get_by_text("by am@northwind.example").first.is_visible()
    shot(page, "acme-alert-detail")


def test_client_executive_sees_only_their_workspace_read_only(page):
    sign_in(page, "cfo@acme.example", totp=False)
    page.wait_for_url("**/c/acme/")
    shot(page, "executive-home")
    page.goto("/c/acme/alerts/")
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    response = page.goto("/c/maple/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    shot(page, "executive-other-client-404")
