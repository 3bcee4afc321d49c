"""Unit economics in a real browser on the demo: Harbor's cost per claim (≈ $0.42 since the routing change,
≈ $0.61 before), the trend chart drawn under the portal's CSP and drilling down to the ledger rows, the drivers
of the drop, and a counts CSV previewed with its row errors then imported. Screenshots in
test-artifacts/e2e/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apps.demo import fixtures_finops as fx

pytestmark = pytest.mark.e2e


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _story_months() -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """For the demo loaded today (the routing change is three months before: 1 September for 1 December): the
    page's first month, the last whole month before the change, the first whole month after it, and the month
    that shows most of the drop against the month before it."""
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    last_whole = (
        yesterday.replace(day=1)
        if (yesterday + dt.timedelta(days=1)).day == 1
        else _add_months(today.replace(day=1), -1)
    )
    change = fx.routing_change_day(today)
    after = change.replace(day=1) if change.day == 1 else _add_months(change.replace(day=1), 1)
    drop = change.replace(day=1) if change.day <= 15 else _add_months(change.replace(day=1), 1)
    return _add_months(last_whole, -11), _add_months(change.replace(day=1), -1), after, drop


def _figure(text: str) -> Decimal:
    return Decimal(re.search(r"-?\d[\d,]*\.\d+", text)[0].replace(",", ""))


def test_harbor_cost_per_claim_trend_drivers_and_drill_down(manager_page, shot):
    page = manager_page
    page.goto("/c/harbor/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Unit economics").click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/unit-economics/$"))
    expect(page.get_by_role("heading", level=1, name="Unit economics")).to_be_visible()
    listed = page.locator('[data-cost-per-unit="claims"]')
    assert abs(_figure(listed.inner_text()) - Decimal("0.42")) <= Decimal("0.02")
    shot(page, "units")

    page.get_by_role("link", name="Insurance claim processed").click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/unit-economics/claims/$"))
    current = page.locator('[data-figure="current-cost-per-unit"]')
    assert abs(_figure(current.inner_text()) - Decimal("0.42")) <= Decimal("0.02")
    expect(page.locator(".stat").filter(has_text="Measured against")).to_contain_text("Claims processing agent")
    chart = page.locator('[data-plotly-figure="unit-trend"]')
    expect(chart.locator(".main-svg").first).to_be_visible()  # plotly drew it (no inline script needed)
    expect(chart.locator(".scatterlayer .trace")).to_have_count(1)
    expect(chart.locator(".barlayer .trace")).to_have_count(1)
    # the table behind the chart: ≈ 0.61 before the routing change, ≈ 0.42 after it
    first, before, after, drop = _story_months()
    page.get_by_text("The figures").click()
    rows = page.locator("#trend tbody tr")
    drop_spend = rows.filter(has_text=f"{drop:%B %Y}").locator("td").nth(2).inner_text()
    months = {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(3).inner_text()
        for i in range(rows.count())
    }
    assert abs(Decimal(months[f"{before:%B %Y}"]) - Decimal("0.61")) <= Decimal("0.02"), months
    assert abs(Decimal(months[f"{after:%B %Y}"]) - Decimal("0.42")) <= Decimal("0.02"), months
    shot(page, "claims")

    # the drop: the unit cost, not the volume, and Opus → Sonnet
    page.locator("#u-month").select_option(f"{drop:%Y-%m}")
    page.locator("#drivers").get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(f"month={drop:%Y-%m}"))
    expect(page.locator("#drivers")).to_contain_text(f"to {drop:%B %Y} the cost per claim fell")
    effect = _figure(page.locator('[data-figure="unit-cost-effect"]').inner_text().replace("−", "-"))
    assert effect < Decimal("-1000")  # ≈ 0.19 less per claim × ≈ 31,000 claims (half that when mid-month)
    table = page.locator('[data-table="drivers"]')
    expect(table).to_contain_text("claude-opus-4-5-20251101")
    expect(table).to_contain_text("claude-sonnet-4-5-20250929")
    page.locator("#drivers").scroll_into_view_if_needed()
    shot(page, "drivers-of-the-drop")

    # clicking that month's point opens the ledger rows of the agent in that month
    chart.scroll_into_view_if_needed()
    index = (drop.year - first.year) * 12 + drop.month - first.month
    box = chart.locator(".scatterlayer .point").nth(index).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    last_day = _add_months(drop, 1) - dt.timedelta(days=1)
    page.wait_for_url(re.compile(rf"/c/harbor/finops/ledger/\?from={drop}&to={last_day}&asset=\d+&currency=USD"))
    expect(page.get_by_text(drop_spend).first).to_be_visible()  # the rows add up to the month's spend


def test_counts_csv_preview_shows_row_errors_then_imports(manager_page, shot, tmp_path):
    page = manager_page
    page.goto("/c/harbor/finops/unit-economics/claims/")
    page.get_by_role("link", name="Upload counts").click()
    page.wait_for_url(re.compile(r"/unit-economics/upload/\?unit=claims"))
    expect(page.get_by_label("Business unit")).to_have_value("claims")
    counts = tmp_path / "claims-corrections.csv"
    fixed = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=4)  # a day the demo has a count for
    counts.write_text(f"day,count,id\n{fixed},1101,fix-1\n{fixed},-3,fix-2\n2026-02-30,5,fix-3\n")
    page.get_by_label("CSV file").set_input_files(str(counts))
    shot(page, "upload-form")
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Rows Keel cannot use")).to_be_visible()
    errors = page.locator('[data-table="row-errors"] tbody tr')
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("zero or more")
    expect(errors.nth(1)).to_contain_text("not a valid date")
    shot(page, "upload-preview")
    page.get_by_role("button", name="Import 1 row, skip 2").click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/unit-economics/claims/$"))
    expect(page.get_by_text("2 rows with errors were skipped")).to_be_visible()
    page.get_by_role("link", name="Counts", exact=True).click()
    listed = f"{fixed:%a} {fixed.day} {fixed:%b %Y}"
    expect(page.locator("tbody tr").filter(has_text=listed).first).to_contain_text("1,101")
    shot(page, "counts")
