"""Service levels in a real browser on the demo data: the account manager sees Maple's SLOs with their status
chips and remaining budgets, opens the triage quality SLO (SLI and budget charts drawn, the missed month in the
closed periods), follows the breach to its service credit and settles it, and reads the triage classifier's drift
page (PSI history and the two distributions side by side); Acme's executive reads attainment without any control
to change it. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EXECUTIVE, sign_in

pytestmark = pytest.mark.e2e


def _chart_drawn(page, figure: str) -> None:
    chart = page.locator(f'[data-plotly-figure="{figure}"]')
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(chart.locator(".scatterlayer .trace, .barlayer .trace").first).to_be_attached()


def test_a_manager_follows_a_breach_to_its_credit_and_the_drift_behind_it(manager_page, shot):
    page = manager_page
    page.goto("/c/maple/service-levels/")
    expect(page.get_by_role("heading", level=1, name="Service level objectives")).to_be_visible()
    quality = page.locator('tr[data-slo="triage-quality"]')
    expect(quality).to_be_visible()
    expect(quality.locator("[data-state]")).to_have_text(re.compile(r"\S"))
    expect(page.locator('tr[data-slo="triage-drift"]')).to_be_visible()
    expect(page.locator('[data-count="total"]')).to_have_text(re.compile(r"^[1-9]\d*$"))
    shot(page, "maple-slo-list")

    quality.get_by_role("link", name=re.compile("Triage classifier passes")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Triage classifier passes 95 %")
    expect(page.locator('[data-figure="objective"]')).to_have_text(re.compile(r"^95(\.0+)? %$"))
    expect(page.locator('[data-figure="attainment"]')).to_have_text(re.compile(r"^\d+\.\d+ %$"))
    _chart_drawn(page, "sli-figure")
    _chart_drawn(page, "budget-figure")
    expect(page.locator("section[aria-labelledby=periods-h]")).to_contain_text("Missed")
    shot(page, "maple-quality-detail")

    page.get_by_role("link", name="Every breach and credit").click()
    expect(page.get_by_role("heading", level=1, name="Breaches & service credits")).to_be_visible()
    credit = page.locator("tr[data-credit]").filter(has_text="Triage classifier passes").first
    expect(credit).to_contain_text("10 %")
    expect(credit.locator("[data-status]")).to_have_attribute("data-status", "due")
    expect(page.locator("[data-due]").first).to_have_text(re.compile(r"\d"))
    shot(page, "maple-breaches")

    credit_id = credit.get_attribute("data-credit")
    credit.locator("select[name=status]").select_option("issued")
    credit.get_by_placeholder("Invoice number, or why it is waived").fill("CN-2026-114")
    credit.get_by_role("button", name="Save").click()
    settled = page.locator(f'tr[data-credit="{credit_id}"]')
    expect(settled.locator("[data-status]")).to_have_attribute("data-status", "issued")
    expect(settled).to_contain_text("CN-2026-114")
    expect(settled).to_contain_text("settled")
    shot(page, "maple-credit-issued")

    page.get_by_role("navigation").get_by_role("link", name="Drift").click()
    expect(page.get_by_role("heading", level=1, name="Drift")).to_be_visible()
    expect(page.locator('[data-count="significant"]')).not_to_have_text("0")
    page.get_by_role("link", name="Triage classifier").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Drift of Triage classifier")
    severity = page.locator('section[data-feature="symptom_severity"]')
    expect(severity.locator("[data-status]").first).to_have_attribute("data-status", "significant")
    psi = float(severity.locator('[data-stat="psi"]').inner_text())
    assert psi >= 0.2
    figures = severity.locator("[data-plotly-figure]")
    expect(figures).to_have_count(2)
    for name in figures.evaluate_all("els => els.map(e => e.dataset.plotlyFigure)"):
        _chart_drawn(page, name)
    shot(page, "maple-drift")


def test_a_client_executive_reads_attainment_only(new_page, shot):
    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto("/c/acme/service-levels/")
    latency = page.locator('tr[data-slo="underwriting-latency"]')
    expect(latency.locator("[data-state]")).to_have_attribute("data-state", re.compile("ok|at_risk"))
    expect(page.get_by_role("link", name="New SLO")).to_have_count(0)
    expect(page.get_by_role("link", name="Import OpenSLO")).to_have_count(0)
    latency.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Underwriting endpoint answers within 800 ms")
    _chart_drawn(page, "sli-figure")
    expect(page.locator('[data-percentile="p95"]')).to_have_text(re.compile(r"^\d+\.\d ms$"))  # from the histograms
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Retire|Delete"))).to_have_count(0)
    shot(page, "acme-executive-latency")
    page.goto("/c/acme/service-levels/breaches/")
    expect(page.locator("select[name=status]")).to_have_count(0)
