"""Monthly reports in a real browser: the account manager re-issues Acme's last report with a reason, writes the
commentary, reviews and issues it; the client executive then finds it in the workspace, reads the charts and
downloads the PDF. The portfolio console shows the last report's status."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EXECUTIVE, sign_in

pytestmark = pytest.mark.e2e
COMMENTARY = "November's underwriting volume rose; the runaway loop was stopped before month end."


def _charts_drawn(page) -> None:
    chart = page.locator("[data-plotly-figure]").first
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(chart.locator(".barlayer .trace, .scatterlayer .trace").first).to_be_attached()


def test_a_manager_reissues_and_issues_a_report_the_executive_then_reads(manager_page, new_page, shot):
    page = manager_page
    page.goto("/c/acme/reports/")
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(4)  # the demo's three issued months and the header
    expect(page.locator('[data-status="issued"]')).to_have_count(3)
    reported = {text.strip() for text in page.locator("tbody th").all_inner_texts()}
    offered = set(page.locator("#report-month option").all_inner_texts())
    assert offered and not reported & offered, (reported, offered)  # issued months are re-issued, not recomputed
    shot(page, "acme-reports")

    rows.nth(1).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Issued")
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    for title in ("AI and cloud spend", "Value and ROI", "Service levels", "Recommendations for next month"):
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    _charts_drawn(page)
    expect(page.get_by_role("cell", name="cfo@acme.example")).to_be_visible()  # the email log
    month = page.get_by_role("heading", level=1).inner_text().split(" Issued")[0]
    shot(page, "issued-report")

    page.get_by_label("Why a new version").fill("Late Azure invoice corrected the month's spend.")
    page.get_by_role("button", name="Compute a new version").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")
    expect(page.get_by_text("Late Azure invoice corrected the month's spend.").first).to_be_visible()

    page.get_by_label("Commentary for the client's executives").fill(COMMENTARY)
    page.get_by_role("button", name="Save commentary").click()
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reviewed")
    shot(page, "reviewed-v2")
    page.get_by_role("button", name=re.compile(r"^Issue and email to \d+ executive")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Issued")
    history = page.get_by_role("region", name="Versions and deliveries")
    expect(history).to_contain_text("v1 · Superseded")
    expect(history.get_by_role("cell", name="cfo@acme.example")).to_be_visible()
    expect(page.get_by_text(COMMENTARY)).to_be_visible()
    shot(page, "issued-v2")

    page.goto("/")
    acme = page.get_by_role("row").filter(has_text="Acme Underwriting")
    expect(acme.locator(".pf-report-issued")).to_contain_text(month.split()[0][:3])
    shot(page, "console")

    # The client executive finds the new version in the workspace.
    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto("/c/acme/reports/")
    expect(page.get_by_role("button", name="Compute report")).to_have_count(0)
    statuses = page.locator("[data-status]").all_inner_texts()
    assert statuses and set(statuses) <= {"Issued", "Superseded"}, statuses
    shot(page, "executive-list")
    page.get_by_role("table").get_by_role("row").nth(1).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(month)
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")
    expect(page.get_by_text(COMMENTARY)).to_be_visible()
    expect(page.get_by_role("button", name="Mark reviewed")).to_have_count(0)
    expect(page.get_by_label("Why a new version")).to_have_count(0)
    _charts_drawn(page)
    shot(page, "executive-report")
    href = page.get_by_role("link", name="PDF", exact=True).get_attribute("href")
    pdf = page.request.get(href)  # with the executive's session, as the browser's PDF viewer fetches it
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
