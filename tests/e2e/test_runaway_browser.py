"""Runaway spend in a real browser, on the demo: Acme's underwriter-7 loop in the incident list, its detail page
with the per-minute chart drawn under the CSP (threshold line, detection and kill-switch markers), the recorded
kill-switch call, the ledger drill-down and the settings form. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_runaway_incident_caught_and_stopped(manager_page, shot):
    page = manager_page
    page.goto("/c/acme/finops/runaway/")
    expect(page.get_by_role("heading", level=1, name="Runaway spend")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="underwriter-7")
    expect(row).to_contain_text("Stopped")  # the kill-switch call
    expect(row).to_contain_text("USD")
    shot(page, "incidents")

    row.get_by_role("link", name="underwriter-7").click()
    page.wait_for_url(re.compile(r"/c/acme/finops/runaway/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Runaway spend: agent underwriter-7")
    delay = int(page.locator('[data-figure="delay"]').inner_text().split()[0])
    assert delay <= 300  # caught within 5 minutes of the loop's start
    expect(page.locator('[data-figure="burned"]')).to_contain_text("USD")
    chart = page.locator('[data-plotly-figure="runaway-figure"]')
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(chart.locator(".annotation-text", has_text="Detected")).to_be_visible()
    expect(chart.locator(".annotation-text", has_text="Kill-switch: stopped")).to_be_visible()
    expect(chart.locator(".legendtext", has_text="Threshold")).to_be_visible()
    kill = page.locator("section", has=page.get_by_role("heading", name="Kill-switch"))
    expect(kill).to_contain_text("Stopped")
    expect(kill).to_contain_text("HTTP 200")
    expect(kill).to_contain_text("Called by a person by am@northwind.example")  # auto-stop came after
    expect(page.get_by_role("button", name="Call kill-switch now")).to_have_count(0)  # ended: nothing to stop
    shot(page, "incident-detail")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.endswith("-minutes.csv")

    page.get_by_role("link", name="Ledger rows of the day").click()
    page.wait_for_url(re.compile(r"/c/acme/finops/ledger/\?.*tag=agent%3Dunderwriter-7"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    page.goto("/c/acme/finops/runaway/settings/")
    expect(page.get_by_label("Call the agent's kill-switch automatically")).to_be_checked()
    shot(page, "settings")
