"""Savings recommendations in a real browser on the demo data: Harbor's list with the realised-savings chart
(plotly under the portal's CSP), the implemented routing change with its arithmetic and realised months, a
decision taken on Acme, and Acme's executive reading without the edit controls. Screenshots in
test-artifacts/e2e/."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from .conftest import EXECUTIVE, sign_in

pytestmark = pytest.mark.e2e
LIST = "/c/{slug}/finops/recommendations/"


def _amount(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.\-]", "", text.replace("−", "-")))


def test_harbor_list_and_implemented_routing_detail(manager_page, shot):
    page = manager_page
    page.goto(LIST.format(slug="harbor"))
    expect(page.get_by_role("heading", level=1, name="Savings recommendations")).to_be_visible()
    routing = page.locator("tr.implemented").filter(has_text="claude-opus-4-5")
    expect(routing).to_have_count(1)
    expect(routing.get_by_text("Implemented", exact=True)).to_be_visible()
    # Open ones come first, the largest saving first.
    statuses = page.locator("table.rec-table tbody tr").evaluate_all("rows => rows.map(r => r.className)")
    assert statuses.index("implemented") > max(i for i, s in enumerate(statuses) if s == "open")
    savings = [_amount(t) for t in page.locator("tr.open td.saving").all_inner_texts()]
    assert savings == sorted(savings, reverse=True) and savings[0] > 0
    chart = page.locator('[data-plotly-figure="realised-figure"]')
    expect(chart.locator(".main-svg").first).to_be_attached()
    expect(chart.locator(".point").first).to_be_attached()
    implemented = _amount(page.locator('[data-total="implemented"]').inner_text())
    assert Decimal(4000) < implemented < Decimal(8000)
    shot(page, "list")

    routing.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/recommendations/\d+/$"))
    expect(page.get_by_role("heading", name="The arithmetic")).to_be_visible()
    steps = page.locator("ol.arithmetic li")
    expect(steps.first).to_contain_text("Share routed")
    expect(steps.last).to_contain_text("Estimated saving")
    expect(page.locator("ol.arithmetic")).to_contain_text("× ($5.00 − $3.00) per 1 M")
    expect(page.get_by_role("link", name="Ledger rows →").first).to_have_attribute(
        "href", re.compile("/finops/ledger/")
    )
    realised_card = page.locator("section").filter(has=page.get_by_role("heading", name="Realised saving"))
    # Measured per claim (Harbor's business unit): ≈ $0.61 a claim in the 30 days before the routing change.
    baseline = realised_card.locator("dd").filter(has_text=re.compile(r"= .* per claim")).first.inner_text()
    assert Decimal("0.55") < _amount(baseline.split("=")[-1]) < Decimal("0.66"), baseline
    measured = 0
    for month in realised_card.locator("tbody tr").all():
        days = int(month.get_attribute("data-days"))
        per_day = _amount(month.locator("td").last.inner_text()) / days
        if days >= 7:  # ≈ ($0.61 − $0.42) × 30,000 claims a month ≈ $190 a day
            assert Decimal(120) < per_day < Decimal(260), (month.inner_text(), days)
            measured += 1
    assert measured >= 2
    shot(page, "detail")


def test_a_decision_needs_its_reason_and_is_kept(manager_page, shot):
    page = manager_page
    page.goto(LIST.format(slug="acme") + "?kind=prompt_caching")
    page.locator("tr.open a").first.click()
    page.wait_for_url(re.compile(r"/recommendations/\d+/$"))
    page.get_by_role("button", name="Dismiss").click()  # without a reason: the form refuses to go
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "open")
    assert page.get_by_label("Reason").evaluate("el => el.validity.valueMissing")
    page.get_by_label("Reason").fill("The risk review prompts are rebuilt per case; nothing stable to cache.")
    page.get_by_role("button", name="Dismiss").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "dismissed")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("dismiss")
    shot(page, "dismissed")


def test_the_executive_reads_without_edit_controls(new_page, shot):
    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto(LIST.format(slug="acme"))
    expect(page.get_by_role("heading", level=1, name="Savings recommendations")).to_be_visible()
    expect(page.get_by_role("button", name="Refresh now")).to_have_count(0)
    expect(page.get_by_role("link", name="Download CSV").first).to_be_visible()
    page.locator("table.rec-table tbody tr a").first.click()
    expect(page.get_by_role("heading", name="The arithmetic")).to_be_visible()
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    shot(page, "executive-detail")
