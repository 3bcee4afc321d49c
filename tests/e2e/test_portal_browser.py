"""The portal in a real browser: Debian chromium driven by Playwright against a Keel server process with the
demo data (Northwind AI Operations: Acme Underwriting, Maple Health Clinics, Harbor Insurance).

Every step leaves a full-page screenshot in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EXECUTIVE, MANAGER, remember_session, sign_in

pytestmark = pytest.mark.e2e

DEMO_CLIENTS = ("Acme Underwriting", "Harbor Insurance", "Maple Health Clinics", "Northwind AI Operations (internal)")
RUNAWAY = "Runaway spend ended: agent underwriter-7"  # the runaway demo's alert (names match substrings)


def _clients_table(page):
    return page.get_by_role("region", name=re.compile(r"^Clients"))


def test_a_manager_signs_in_with_password_and_totp(new_page, shot):
    page = new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))  # signed out: the console asks to sign in

    sign_in(page, MANAGER, totp=True, shot=shot)
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Portfolio console")).to_be_visible()
    expect(page.get_by_text("Successfully signed in as Sam Rivera.")).to_be_visible()
    clients = _clients_table(page)
    expect(clients.get_by_role("heading")).to_contain_text(str(len(DEMO_CLIENTS)))
    for name in DEMO_CLIENTS:
        expect(clients.get_by_role("link", name=name)).to_be_visible()
    expect(clients.get_by_role("row")).to_have_count(1 + len(DEMO_CLIENTS))
    # Worst health first, from the public-schema rollup: the scores down the grid never rise.
    scores = [float(text) for text in clients.locator(".pf-score").all_inner_texts() if text != "—"]
    assert len(scores) == len(DEMO_CLIENTS) and scores == sorted(scores), scores
    # Acme's open critical alert (the runaway loop) reached the console through the rollup.
    acme = clients.get_by_role("row").filter(has_text="Acme Underwriting")
    expect(acme.locator(".chip.sev-critical:not(.pf-score)")).to_have_text(re.compile(r"^[1-9]\d*$"))
    feed = page.get_by_role("region", name="Alert feed")
    expect(feed.get_by_role("link", name=RUNAWAY)).to_be_visible()
    expect(page.get_by_label("Client", exact=True)).to_have_value("/")
    shot(page, "console")
    remember_session(MANAGER, page)


def test_b_manager_switches_client_with_the_sidebar(manager_page, shot):
    page = manager_page
    page.goto("/")
    switcher = page.locator("#switch-client")
    expect(switcher.locator("option")).to_have_text(["All clients (console)", *DEMO_CLIENTS])
    shot(page, "console-before-switch")

    switcher.select_option(label="Acme Underwriting")
    page.wait_for_url(re.compile(r"/c/acme/$"))
    expect(page.get_by_role("heading", level=1, name="Acme Underwriting")).to_be_visible()
    expect(switcher).to_have_value("/c/acme/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name=re.compile(r"^Alerts"))).to_be_visible()
    expect(page.get_by_text("Open alerts", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=RUNAWAY)).to_be_visible()
    shot(page, "acme-workspace")

    switcher.select_option(label="Maple Health Clinics")
    page.wait_for_url(re.compile(r"/c/maple/$"))
    expect(page.get_by_role("heading", level=1, name="Maple Health Clinics")).to_be_visible()
    shot(page, "maple-workspace")


def test_c_manager_acknowledges_an_open_alert(manager_page, shot):
    page = manager_page
    page.goto("/c/acme/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Alerts")).click()
    page.wait_for_url(re.compile(r"/c/acme/alerts/$"))
    expect(page.get_by_role("heading", level=1, name="Alerts")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=RUNAWAY)
    expect(row.get_by_text("Open", exact=True)).to_be_visible()
    shot(page, "alerts-before")

    row.get_by_role("button", name=f"Acknowledge {RUNAWAY}").click()
    page.wait_for_url(re.compile(r"/c/acme/alerts/(\?.*)?$"))
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=RUNAWAY)
    expect(row.get_by_text("Acknowledged", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    expect(row).to_contain_text(f"owner {MANAGER}")
    shot(page, "alerts-after")

    row.get_by_role("link", name=RUNAWAY).click()
    page.wait_for_url(re.compile(r"/c/acme/alerts/\d+/$"))
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    expect(history).to_contain_text(f"Acknowledged by {MANAGER}")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)  # only Resolve is left
    expect(page.get_by_role("button", name="Resolve")).to_be_visible()
    shot(page, "alert-detail")

    # The console's feed followed (the rollup refresh ran after the change committed).
    page.goto("/")
    feed_item = page.get_by_role("region", name="Alert feed").get_by_role("listitem").filter(has_text=RUNAWAY)
    expect(feed_item).to_contain_text("Acknowledged")
    shot(page, "console-after")


def test_d_executive_lands_in_acme_read_only_and_cannot_reach_maple(new_page, shot, browser_errors):
    page = new_page()
    sign_in(page, EXECUTIVE, totp=False, shot=shot)
    page.wait_for_url(re.compile(r"/c/acme/$"))
    expect(page.get_by_role("heading", level=1, name="Acme Underwriting")).to_be_visible()
    switcher = page.locator("#switch-client")
    expect(switcher.locator("option")).to_have_text(["Acme Underwriting"])  # no console, no other client
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Portfolio console")).to_have_count(0)
    expect(nav.get_by_role("link", name="Alert channels")).to_have_count(0)
    shot(page, "acme-home")

    page.goto("/c/acme/alerts/")
    expect(page.get_by_role("row").filter(has_text=RUNAWAY)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    expect(page.get_by_role("link", name="Resolve…")).to_have_count(0)
    expect(page.get_by_role("link", name="Delivery channels")).to_have_count(0)
    shot(page, "acme-alerts-read-only")

    page.get_by_role("link", name=RUNAWAY).click()
    page.wait_for_url(re.compile(r"/c/acme/alerts/\d+/$"))
    expect(page.get_by_role("heading", name="Act on it")).to_have_count(0)
    shot(page, "acme-alert-detail-read-only")

    browser_errors.expected_missing.add("/c/maple/")
    response = page.goto("/c/maple/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text("Maple")).to_have_count(0)  # nothing about the client leaks
    shot(page, "maple-not-found")

    page.goto("/")  # the MSP console sends a client user home
    page.wait_for_url(re.compile(r"/c/acme/$"))
