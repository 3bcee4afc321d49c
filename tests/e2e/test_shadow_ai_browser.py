"""Shadow AI in a real browser on the demo data: Acme's review queue (Bedrock models and OpenAI projects no asset
accounts for), one item's evidence with the three decisions and the prefilled register form, the history with
the demo's dismissal, and a dismissal in Maple (a reason is required). Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0 (Amazon Bedrock)"


def test_review_acme_queue_and_an_item(manager_page, shot):
    page = manager_page
    page.goto("/c/acme/finops/shadow-ai/")
    expect(page.get_by_role("heading", level=1, name="Shadow AI review")).to_be_visible()
    table = page.locator("table.shadow-table")
    rows = table.locator("tbody tr")
    expect(rows.first).to_contain_text(SONNET)  # the largest 30-day spend comes first
    expect(table).to_contain_text("OpenAI API · proj_")
    expect(page.locator("[data-total=open]")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator(".stat[data-currency=USD]")).to_contain_text("Unregistered spend")
    shot(page, "queue")

    page.get_by_role("link", name=SONNET, exact=True).click()
    page.wait_for_url(re.compile(r"/c/acme/finops/shadow-ai/\d+/$"))
    expect(page.get_by_role("heading", level=1, name=SONNET)).to_be_visible()
    evidence = page.locator("table.evidence")
    expect(evidence).to_contain_text("arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet")
    expect(evidence).to_contain_text("eu-central-1")
    # The inventory already has Claude Sonnet 4.5: Keel says so and the map form starts with it.
    expect(page.get_by_text("It may be")).to_contain_text("Claude Sonnet 4.5 (document intake)")
    expect(page.get_by_label("Existing asset")).to_have_value(re.compile(r"^\d+$"))
    expect(page.get_by_role("link", name="Register as model")).to_be_visible()
    expect(page.get_by_role("button", name="Map and add the rule")).to_be_visible()
    expect(page.get_by_role("button", name="Dismiss")).to_be_visible()
    shot(page, "item-detail")

    page.get_by_role("link", name="Register as model").click()
    expect(page.get_by_role("heading", level=1, name="Register as a new model")).to_be_visible()
    expect(page.get_by_label("Model id")).to_have_value("anthropic.claude-sonnet-4-5-20250929-v1:0")
    expect(page.get_by_label("Provider", exact=True)).to_have_value("bedrock")
    expect(page.get_by_text("matches only this spend")).to_be_visible()
    shot(page, "register-form")

    page.goto("/c/acme/finops/shadow-ai/history/")
    history = page.locator("table.shadow-table")
    expect(history).to_contain_text("Dismissed")
    expect(history).to_contain_text("ticket-summary trial")
    shot(page, "history")


def test_dismiss_in_maple_needs_a_reason(manager_page, shot):
    page = manager_page
    page.goto("/c/maple/finops/shadow-ai/")
    page.get_by_role("link", name="aoai-maple-triage (Azure AI Services)", exact=True).click()
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text("Say why it is dismissed")).to_be_visible()
    page.get_by_label("Reason").fill("Triage prototype in a test subscription; the clinic retires it this month.")
    page.get_by_role("button", name="Dismiss").click()
    page.wait_for_url(re.compile(r"/c/maple/finops/shadow-ai/$"))
    expect(page.locator(".messages")).to_contain_text("dismissed")
    expect(page.locator("table.shadow-table")).not_to_contain_text("aoai-maple-triage")
    expect(page.locator("table.shadow-table")).to_contain_text("patient-intake-assistant")
    shot(page, "maple-after-dismissal")
