"""Budgets in a real browser on the demo data: Acme's budgets list, the OpenAI budget's burn-down in the month of
underwriter-7's runaway loop (plotly under the portal's CSP), its CSV and drill-down, adding and removing a
budget with the form, and the client executive reading without any action. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

BUDGETS = "/c/acme/finops/budgets/"


def _runaway_month() -> str:
    """The demo's runaway loop runs 3 days before today (UTC): the month it is in."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    return f"{day:%Y-%m}"


def test_budgets_list_and_the_openai_burn_down(manager_page, shot):
    page = manager_page
    page.goto(BUDGETS)
    expect(page.get_by_role("heading", level=1, name="Budgets")).to_be_visible()
    table = page.locator("table.budget-table")
    for name in ("All cloud and AI spend", "OpenAI API", "Underwriting department", "Amazon Bedrock"):
        expect(table).to_contain_text(name)
    expect(table).to_contain_text("Provider: OpenAI")
    expect(page.locator(".stat").first).to_contain_text("4")
    shot(page, "acme-budgets")

    page.get_by_label("Month", exact=True).select_option(_runaway_month())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(rf"month={_runaway_month()}"))
    shot(page, "acme-budgets-runaway-month")

    page.get_by_role("link", name="OpenAI API").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("OpenAI API")
    chart = page.locator("#burn-down .chart")
    expect(chart.locator(".main-svg").first).to_be_visible()  # plotly drew it under the CSP
    expect(chart.locator(".legend")).to_contain_text("Spent (month to date)")
    expect(chart.locator(".legend")).to_contain_text("Budget 7,")
    expect(page.locator("[data-confidence]")).to_have_text(
        re.compile(r"(High|Medium|Low) confidence|The month is over")
    )
    history = page.locator("section").filter(has=page.get_by_role("heading", name="Alert history"))
    expect(history.locator("tbody tr").first).not_to_contain_text("No threshold crossed yet")
    shot(page, "openai-burn-down")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert rows and rows[0]["currency"] == "USD" and rows[0]["day"].startswith(_runaway_month())

    page.locator("#daily-h").click()  # open the table behind the chart
    first_spend = page.locator("details table tbody a").first
    expect(first_spend).to_be_visible()
    first_spend.click()
    page.wait_for_url(re.compile(r"/c/acme/finops/ledger/\?.*provider=OpenAI.*currency=USD"))
    shot(page, "openai-drill-down-ledger")


def test_a_manager_adds_and_removes_a_budget(manager_page, shot):
    page = manager_page
    page.goto(BUDGETS)
    page.get_by_role("link", name="Add a budget").click()
    expect(page.get_by_role("heading", level=1, name="New budget")).to_be_visible()
    expect(page.get_by_label("Provider")).to_be_hidden()  # only the chosen scope's field shows
    page.get_by_label("Name").fill("Bedrock in Frankfurt (browser test)")
    page.get_by_label("Budget for").select_option("service")
    page.get_by_label("Service").select_option("Amazon Bedrock")
    page.get_by_label("Monthly amount").fill("2500")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Alert thresholds (%)").fill("60, 90, 100")
    shot(page, "new-budget-form")
    page.get_by_role("button", name="Add budget").click()
    expect(page.get_by_text("Budget “Bedrock in Frankfurt (browser test)” added.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bedrock in Frankfurt (browser test)")
    expect(page.locator("#burn-down .chart .main-svg").first).to_be_visible()
    shot(page, "new-budget-detail")

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete the budget").click()
    expect(page.get_by_text("Budget “Bedrock in Frankfurt (browser test)” deleted.")).to_be_visible()
    expect(page.locator("table.budget-table")).not_to_contain_text("Bedrock in Frankfurt")


def test_the_executive_reads_budgets_without_any_action(new_page, shot):
    from tests.e2e.conftest import EXECUTIVE, sign_in

    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto(BUDGETS)
    expect(page.locator("table.budget-table")).to_contain_text("OpenAI API")
    expect(page.get_by_role("link", name="Add a budget")).to_have_count(0)
    page.get_by_role("link", name="All cloud and AI spend").click()
    expect(page.locator("#burn-down .chart .main-svg").first).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Check now")).to_have_count(0)
    shot(page, "executive-budget")
