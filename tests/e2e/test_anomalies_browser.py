"""Cost anomalies in a real browser, on the demo: Acme's runaway loop found in the daily bill (list, timeline
drawn under the CSP, a marker's click drilling down to the ledger rows), the detail with the expected band,
acknowledging it with a note; Harbor's dismissed routing-change drops; an executive reads without buttons.
Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _runaway_day() -> dt.date:
    from apps.demo.fixtures_finops import RUNAWAY_DAYS_AGO

    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=RUNAWAY_DAYS_AGO)


def _label(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def test_a_manager_finds_the_runaway_loop_in_the_daily_bill(manager_page, shot):
    page = manager_page
    day = _runaway_day()
    page.goto("/c/acme/finops/anomalies/")
    expect(page.get_by_role("heading", level=1, name="Cost anomalies")).to_be_visible()
    table = page.locator("section").filter(has=page.get_by_role("heading", name="Anomalies", exact=True))
    for scope in ("OpenAI API", "underwriter-7", "All Usage spend"):
        row = table.get_by_role("row").filter(has_text=scope)
        expect(row).to_contain_text(_label(day))
        expect(row).to_contain_text("Open")
    expect(page.locator(".stat").filter(has_text="Open spikes")).to_contain_text("USD")
    chart = page.locator("#timeline .chart")
    expect(chart.locator(".main-svg").first).to_be_visible()  # plotly drew it under the CSP
    expect(chart.locator(".legend")).to_contain_text("Spikes")
    expect(chart.locator(".points path")).to_have_count(3)
    shot(page, "acme-list-and-timeline")

    # A click on a marker opens the ledger rows of that scope and day (charts.js reads the point's customdata).
    chart_div = chart.element_handle()
    page.evaluate("el => el.emit('plotly_click', {points: [{customdata: el.data[0].customdata[0]}]})", chart_div)
    page.wait_for_url(re.compile(r"/c/acme/finops/ledger/\?from=" + day.isoformat() + "&to=" + day.isoformat()))
    expect(page.get_by_text("Usage", exact=False).first).to_be_visible()
    shot(page, "drill-down-ledger-rows")

    page.goto("/c/acme/finops/anomalies/")
    table.get_by_role("row").filter(has_text="OpenAI API").get_by_role("link", name="OpenAI API").click()
    page.wait_for_url(re.compile(r"/c/acme/finops/anomalies/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Spike: OpenAI API on {_label(day)}")
    expect(page.locator(".stat").filter(has_text="Impact")).to_contain_text("+")
    series = page.locator("#series .chart")
    expect(series.locator(".main-svg").first).to_be_visible()
    expect(series.locator(".legend")).to_contain_text("Expected range")
    expect(series.locator(".legend")).to_contain_text("This spike")
    expect(page.get_by_role("heading", name="How it was judged")).to_be_visible()
    shot(page, "detail")

    page.get_by_label(re.compile("^Note")).fill("Loop in underwriter-7 (decision memo retry); agent stopped.")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(re.compile(r"/c/acme/finops/anomalies/\d+/$"))
    expect(page.get_by_text("Anomaly acknowledged.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acknowledged")
    expect(page.get_by_role("status").filter(has_text="Acknowledged by")).to_contain_text("agent stopped.")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Resolve")).to_be_visible()
    shot(page, "detail-acknowledged")

    page.get_by_role("link", name="Alert", exact=True).click()
    page.wait_for_url(re.compile(r"/c/acme/alerts/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cost spike: OpenAI API")
    shot(page, "alert")


def test_b_harbor_shows_the_dismissed_drops_of_its_routing_change(manager_page, shot):
    page = manager_page
    page.goto("/c/harbor/finops/anomalies/?status=all&period=180")
    table = page.locator("section").filter(has=page.get_by_role("heading", name="Anomalies", exact=True))
    drops = table.get_by_role("row").filter(has_text="Claude API")
    expect(drops.first).to_contain_text("Dismissed")
    expect(drops.first).to_contain_text("▼")
    expect(page.locator("#timeline .chart .legend")).to_contain_text("Drops (closed)")
    shot(page, "harbor-dismissed-drops")

    drops.first.get_by_role("link", name="Claude API").click()
    expect(page.get_by_text("Planned: on")).to_be_visible()
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    shot(page, "harbor-drop-detail")

    page.goto("/c/harbor/finops/anomalies/settings/")
    expect(page.get_by_label(re.compile(r"^Sensitivity k"))).to_have_value("4")
    shot(page, "settings")


def test_c_an_executive_reads_anomalies_without_any_action(new_page, shot):
    from tests.e2e.conftest import EXECUTIVE, sign_in

    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto("/c/acme/finops/anomalies/")
    expect(page.get_by_role("heading", level=1, name="Cost anomalies")).to_be_visible()
    expect(page.get_by_role("button", name="Scan now")).to_have_count(0)
    page.get_by_role("link", name="underwriter-7").first.click()
    page.wait_for_url(re.compile(r"/c/acme/finops/anomalies/\d+/$"))
    expect(page.locator("#series .chart .main-svg").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Acknowledge|Resolve|Dismiss"))).to_have_count(0)
    expect(page.get_by_text("needs the edit permission")).to_be_visible()
    shot(page, "detail-read-only")
