"""The FinOps dashboard in a real browser: Acme's demo spend drawn by plotly under the portal's CSP, the KPI
tiles, regrouping by department, a chart's CSV, and a click on a bar landing on the ledger rows behind it.
Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _drawn(page, chart: str):
    """The chart's plotly SVG, once drawn."""
    svg = page.locator(f"#{chart} .chart .main-svg").first
    expect(svg).to_be_visible()
    return svg


def _click_a_bar(page, chart: str) -> None:
    """Click the middle of a drawn bar (plotly's drag layer lies over the bars, so by position)."""
    bars = page.locator(f"#{chart} .barlayer .trace path")
    for index in range(bars.count()):
        box = bars.nth(index).bounding_box()
        if box and box["height"] > 6 and box["width"] > 2:
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            return
    raise AssertionError(f"no bar drawn in #{chart}")


def test_acme_dashboard_charts_drill_down_to_the_ledger_rows(manager_page, shot):
    page = manager_page
    page.goto("/c/acme/finops/dashboard/")
    expect(page.get_by_role("heading", level=1, name="FinOps dashboard")).to_be_visible()
    expect(page.get_by_role("link", name="Last 30 days")).to_have_attribute("aria-current", "true")
    for kpi in ("spend", "ai_share", "allocated_share", "tokens"):
        expect(page.locator(f'[data-kpi="{kpi}"]')).not_to_have_text("—")
    for chart in ("spend", "ai_share", "allocation", "movers", "tokens_department", "tokens_asset"):
        _drawn(page, chart)
    expect(page.locator("#spend .legendtext").first).to_be_visible()
    shot(page, "dashboard")

    # The table fallback opens under the chart and links every figure to its rows.
    page.locator("#movers summary").click()
    expect(page.locator('#movers table[data-chart-table="movers"] tbody tr').first).to_be_visible()
    shot(page, "movers-table")

    # The spend chart's CSV has the columns the table shows.
    with page.expect_download() as download:
        page.locator("#spend").get_by_role("link", name=re.compile("Download spend over time")).click()
    with open(download.value.path(), encoding="utf-8") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    header = [th.text_content().strip() for th in page.locator('#spend table[data-chart-table="spend"] thead th').all()]
    assert rows[0] == header and rows[0][0] == "Day" and rows[0][-1] == "Total" and len(rows) == 32

    # Spend by department, then click one department's bar: the ledger rows page opens, filtered to it.
    page.get_by_label("Spend by").select_option("department")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"group=department"), timeout=30_000)  # pushed by HTMX after the redraw
    _drawn(page, "spend")
    shot(page, "by-department")
    _click_a_bar(page, "spend")
    page.wait_for_url(re.compile(r"/c/acme/finops/ledger/\?"))
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert params["from"] == params["to"] and params["currency"] == "USD"
    assert "department" in params or params.get("allocated") == "no"
    expect(page.get_by_role("heading", level=1, name="Ledger rows")).to_be_visible()
    expect(page.locator("table tbody tr").first).to_be_visible()
    shot(page, "ledger-rows-of-a-bar")


def test_explorer_bars_drill_down_to_the_ledger_rows(manager_page, shot):
    page = manager_page
    page.goto("/c/acme/finops/?preset=last_90_days&group=department")
    _drawn(page, "chart")
    expect(page.get_by_label("Group by")).to_have_value("department")
    shot(page, "explorer-by-department")
    _click_a_bar(page, "chart")
    page.wait_for_url(re.compile(r"/c/acme/finops/ledger/\?"))
    expect(page.get_by_role("heading", level=1, name="Ledger rows")).to_be_visible()
