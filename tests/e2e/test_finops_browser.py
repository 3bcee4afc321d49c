"""FinOps in a real browser: upload the shared FOCUS sample, check the preview, import it, then read it in the
cost explorer (plotly chart drawn under the portal's CSP, HTMX regrouping). Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import csv
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.sync_api import expect

from apps.finops.ledger import sum_file_independently
from tests.finops.conftest import shared_file

pytestmark = pytest.mark.e2e


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def _without_columns(sample, target, drop: set[str], *, rows: int = 25, spoil: str = "") -> None:
    """A copy of the first rows of the sample without some columns (and one bad BilledCost when asked)."""
    with open(sample, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f for f in reader.fieldnames if f not in drop]
        kept = [row for _, row in zip(range(rows), reader, strict=False)]
    if spoil:
        kept[3]["BilledCost"] = spoil
    with open(target, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)


def test_g_upload_the_focus_sample_and_explore_it_by_service(manager_page, shot, tmp_path):
    sample = shared_file("focus_sample.csv")
    expected = sum_file_independently(sample)["USD"]
    effective = _money(expected["effective_cost"])
    page = manager_page

    page.goto("/c/maple/")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Upload FOCUS file").click()
    page.wait_for_url(re.compile(r"/c/maple/finops/upload/$"))
    expect(page.get_by_role("heading", level=1, name="Upload a FOCUS file")).to_be_visible()
    # A file with a bad amount: the preview names the row and books nothing.
    spoiled = tmp_path / "spoiled.csv"
    _without_columns(sample, spoiled, set(), spoil="12,50 €")
    page.get_by_label("FOCUS file").set_input_files(str(spoiled))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("This file cannot be booked.")).to_be_visible()
    expect(page.locator(".problem")).to_contain_text("row 5: BilledCost '12,50 €' is not a number")
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    shot(page, "bad-file")

    # A file without currency, provider and service columns: the preview asks for one value each.
    partial = tmp_path / "no-currency.csv"
    _without_columns(sample, partial, {"BillingCurrency", "ProviderName", "ServiceName"})
    page.goto("/c/maple/finops/upload/")
    page.get_by_label("FOCUS file").set_input_files(str(partial))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Missing columns")).to_be_visible()
    page.get_by_label(re.compile(r"^Billing currency")).fill("usd")
    page.get_by_label(re.compile(r"^Provider")).fill("Example Cloud")
    shot(page, "missing-columns")
    page.get_by_role("button", name="Preview with these values").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label(re.compile(r"^Service name")).fill("Example Service")
    page.get_by_role("button", name="Preview with these values").click()
    expect(page.get_by_role("button", name="Import 25 rows")).to_be_visible()
    expect(page.locator("section").filter(has_text="Column mapping")).to_contain_text("given: USD")
    shot(page, "missing-columns-given")

    page.goto("/c/maple/finops/upload/")
    page.get_by_label("FOCUS file").set_input_files(str(sample))
    shot(page, "upload-form")
    page.get_by_role("button", name="Check the file").click()

    page.wait_for_url(re.compile(r"/c/maple/finops/upload/preview/\?upload="))
    expect(page.get_by_role("heading", level=1)).to_contain_text("focus_sample.csv")
    expect(page.get_by_role("button", name="Import 1,000 rows")).to_be_visible()
    expect(page.locator(".stat").filter(has_text="EffectiveCost USD")).to_contain_text(effective)
    expect(page.locator(".stat").filter(has_text="Billing periods")).to_contain_text("September 2024")
    mapping = page.locator("section").filter(has=page.get_by_role("heading", name="Column mapping"))
    expect(mapping).to_contain_text("EffectiveCost")
    expect(mapping).to_contain_text("ProviderName")
    expect(page.locator("section").filter(has_text="Ignored columns")).to_contain_text("Id")
    shot(page, "preview")

    page.get_by_role("button", name="Import 1,000 rows").click()
    page.wait_for_url(re.compile(r"/c/maple/finops/runs/\d+/$"))
    expect(page.get_by_text(re.compile(r"Imported focus_sample\.csv: 1,000 rows"))).to_be_visible()
    expect(page.locator(".stat").filter(has_text="Rows booked")).to_contain_text("1,000")
    expect(page.locator("section").filter(has_text="Top services")).to_contain_text("Amazon Elastic Compute Cloud")
    shot(page, "imported-run")

    page.goto("/c/maple/finops/?from=2024-09-01&to=2024-09-30&group=service")
    expect(page.get_by_role("heading", level=1, name="Cost explorer")).to_be_visible()
    chart = page.locator("#chart .chart")
    expect(chart.locator(".main-svg").first).to_be_visible()  # plotly drew it
    expect(chart.locator(".legend")).to_contain_text("Amazon Elastic Compute Cloud")
    expect(page.locator("[data-total=USD]")).to_contain_text(effective)
    groups = page.locator("#groups")
    expect(groups.locator("tfoot")).to_contain_text(f"{effective} USD")
    expect(groups.get_by_role("row").filter(has_text="All other")).to_be_visible()
    shot(page, "explorer-by-service")

    # Regroup without a page load: HTMX swaps the explorer and the chart is drawn again; the URL follows.
    page.get_by_label("Group by").select_option(label="Provider")
    expect(page).to_have_url(re.compile(r"group=provider"), timeout=30_000)  # pushed by HTMX after the redraw
    expect(groups.get_by_role("row").filter(has_text="Microsoft")).to_be_visible()
    expect(page.locator("#chart .chart .main-svg").first).to_be_visible()
    expect(page.locator("#chart .legend")).to_contain_text("AWS")
    expect(page.locator("[data-total=USD]")).to_contain_text(effective)
    shot(page, "explorer-by-provider")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing sources").click()
    page.wait_for_url(re.compile(r"/c/maple/finops/sources/$"))
    row = page.get_by_role("row").filter(has_text="FOCUS file uploads")
    expect(row).to_contain_text("Healthy")
    expect(row).to_contain_text("1,000 rows")
    shot(page, "billing-sources")

    page.get_by_role("link", name="Run history").click()
    page.wait_for_url(re.compile(r"/c/maple/finops/runs/$"))
    expect(page.get_by_role("row").filter(has_text="focus_sample.csv")).to_contain_text("Succeeded")
    shot(page, "run-history")


SECRET = "e2e-Secret-Access-Key-0000111122223333"


def test_h_engineer_adds_a_cloud_source_whose_secret_is_never_shown_again(manager_page, shot):
    page = manager_page
    page.goto("/c/harbor/finops/sources/")
    page.get_by_text("Add a source").click()
    page.get_by_role("link", name="AWS Cost Explorer", exact=True).click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/sources/new/\?kind=aws_cost_explorer$"))
    expect(page.get_by_role("group", name="Connection settings")).to_be_visible()
    expect(page.get_by_role("group", name="Credentials")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Harbor AWS payer account")
    # The form is built from the connector's fields: fill whatever it asks for.
    for field in page.locator("input[name^=setting__][required]").all():
        if not field.input_value():  # keep the connector's defaults
            field.fill("arn:aws:iam::123456789012:role/keel-e2e" if "arn" in field.get_attribute("name") else "e2e")
    for field in page.locator("input[type=password]").all():
        field.fill(SECRET)
    shot(page, "add-source-form")
    page.get_by_role("button", name="Add source").click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/sources/\d+/$"))
    expect(page.get_by_text("Harbor AWS payer account added.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(f"…{SECRET[-4:]}")
    assert SECRET not in page.content()
    shot(page, "source-detail")

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_text("Leave blank to keep it as stored").first).to_be_visible()
    for field in page.locator("input[type=password]").all():
        expect(field).to_have_value("")
    assert SECRET not in page.content()
    shot(page, "edit-source-form")

    page.goto("/c/harbor/finops/sources/")
    row = page.get_by_role("row").filter(has_text="Harbor AWS payer account")
    expect(row).to_contain_text("Not run yet")
    expect(row.get_by_role("button", name=re.compile("Run .* now"))).to_be_visible()
    shot(page, "sources-list")

    row.get_by_role("link", name="Harbor AWS payer account", exact=True).click()
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Delete Harbor AWS payer account?")
    shot(page, "delete-confirm")
    page.get_by_role("button", name=re.compile("^Delete Harbor AWS payer account")).click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/sources/$"))
    expect(page.get_by_text("removed, with every cost it had booked")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Harbor AWS payer account")).to_have_count(0)


def test_i_executive_reads_the_explorer_without_any_action(new_page, shot):
    from tests.e2e.conftest import EXECUTIVE, sign_in

    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto("/c/acme/finops/")
    expect(page.get_by_role("heading", level=1, name="Cost explorer")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Cost explorer")).to_be_visible()
    expect(nav.get_by_role("link", name="Upload FOCUS file")).to_have_count(0)
    shot(page, "explorer-read-only")
    page.goto("/c/acme/finops/sources/")
    expect(page.get_by_text("Add a source")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Run|Test"))).to_have_count(0)
    shot(page, "sources-read-only")


def test_j_the_demo_ledger_shows_twelve_months_of_harbor_spend(manager_page, shot):
    """The demo's year of costs, booked through the connectors, is what the explorer shows."""
    page = manager_page
    page.goto("/c/harbor/finops/")
    page.get_by_role("link", name="Last 12 months").click()
    page.wait_for_url(re.compile(r"/c/harbor/finops/\?from="))
    expect(page.locator("#explorer[data-ready]")).to_be_attached()  # HTMX has wired the redrawn controls
    page.get_by_label("Group by").select_option("provider")  # HTMX redraws on each change
    expect(page).to_have_url(re.compile(r"group=provider"), timeout=30_000)  # pushed by HTMX after the redraw
    expect(page.locator("#explorer[data-ready]")).to_be_attached()  # HTMX has wired the redrawn controls
    page.get_by_label("Bars").select_option("month")
    expect(page).to_have_url(re.compile(r"granularity=month"), timeout=30_000)  # pushed by HTMX after the redraw
    expect(page.locator("#explorer[data-ready]")).to_be_attached()  # HTMX has wired the redrawn controls
    table = page.locator("table").first
    expect(table).to_contain_text("Google Cloud")
    expect(table).to_contain_text("Anthropic")
    expect(page.locator(".js-plotly-plot")).to_be_visible()
    shot(page, "harbor-last-12-months-by-provider")
