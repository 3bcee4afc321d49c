"""AI incidents in a real browser, on the demo: from Acme's underwriter-7 runaway page one click opens the AI
incident (a second click lands on the same one), DORA applies, its clocks show due times in Berlin time and UTC,
and recording a submission turns the report's clock into "submitted" and starts the next one. Screenshots in
test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

INCIDENT_URL = re.compile(r"/c/acme/incidents/(\d+)/(#.*)?$")


def open_from_runaway(page) -> str:
    page.goto("/c/acme/finops/runaway/")
    page.get_by_role("row").filter(has_text="underwriter-7").get_by_role("link", name="underwriter-7").click()
    page.wait_for_url(re.compile(r"/c/acme/finops/runaway/\d+/$"))
    # The demo already opened it (a link), or this is the first click (a button): either way one incident.
    opener = page.get_by_role("button", name="Open an AI incident").or_(
        page.get_by_role("link", name=re.compile(r"^AI incident AI-\d+$"))
    )
    opener.first.click()
    page.wait_for_url(INCIDENT_URL)
    return INCIDENT_URL.search(page.url).group(1)


def test_open_an_incident_from_the_runaway_and_record_a_submission(manager_page, shot):
    page = manager_page
    first = open_from_runaway(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Runaway spend: agent underwriter-7")
    expect(page.get_by_role("link", name="Source: runaway spend incident")).to_be_visible()
    shot(page, "incident-opened")
    assert open_from_runaway(page) == first  # idempotent: the second click opens the same incident

    regimes = page.locator("section#regimes")
    regimes.get_by_role("checkbox", name=re.compile(r"^DORA")).check()
    regimes.get_by_role("button", name="Save regimes and facts").click()
    page.wait_for_url(INCIDENT_URL)
    classify = page.get_by_role("button", name="Record classification")
    if classify.count():  # the demo records it; a bare runaway incident needs it for DORA's first clock
        classify.click()
        page.wait_for_url(INCIDENT_URL)

    clocks = page.locator("section#clocks")
    expect(clocks).to_contain_text("Times in Europe/Berlin · UTC")
    live = clocks.locator("tr[data-report^='dora-art19:']").filter(
        has=page.locator("[data-state='running'], [data-state='due_soon'], [data-state='overdue']")
    )
    row = live.first
    expect(row).to_contain_text("UTC")
    expect(row.locator("[data-due]")).to_have_text(re.compile(r"^(due in|overdue by) "))
    report = row.get_attribute("data-report")
    shot(page, "clocks")

    row.get_by_text("Record submission").click()
    row.get_by_label("Reference").fill("BaFin-E2E-1")
    row.get_by_role("button", name="Save submission").click()
    page.wait_for_url(INCIDENT_URL)
    expect(page.locator("ul.messages")).to_contain_text("submission recorded")
    done = page.locator(f"section#clocks tr[data-report='{report}']")
    expect(done.locator("[data-state='submitted']")).to_contain_text("submitted")
    expect(done).to_contain_text("BaFin-E2E-1")
    timeline = page.locator("section#timeline")
    expect(timeline).to_contain_text("(reference BaFin-E2E-1)")
    shot(page, "submission-recorded")

    page.goto("/c/acme/incidents/")
    expect(page.get_by_role("heading", level=1, name="AI incidents")).to_be_visible()
    expect(page.locator("section#deadlines")).to_contain_text("DORA Art 19")
    shot(page, "register")
