"""The framework library in a real browser on the demo data (keel_setup loads the bundled files): the list, the
EU AI Act tree filtered to a deployer's high-risk duties, a crosswalk link to ISO/IEC 42001 and back, collapsing
the tree under the portal's CSP, and the version history. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_browse_filter_and_follow_the_crosswalk(manager_page, shot):
    page = manager_page
    page.goto("/frameworks/")
    expect(page.get_by_role("heading", level=1, name="Framework library")).to_be_visible()
    table = page.locator("table")
    for name in ("EU AI Act", "ISO/IEC 42001", "NIST AI RMF", "NIS2", "DORA", "OWASP LLM Top 10", "PIPEDA"):
        expect(table).to_contain_text(name)
    expect(table.locator("tr", has_text="NIS2")).to_contain_text("MSP itself")
    shot(page, "framework-library")

    page.get_by_role("link", name="EU AI Act", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Regulation (EU) 2024/1689")
    page.get_by_label("Role").select_option("deployer")
    page.get_by_label("Risk tier").select_option("high")
    page.get_by_label("Search").fill("logs")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"role=deployer&risk_tier=high"))
    node = page.locator("#art-26-6")
    expect(node).to_contain_text("Keep logs for at least six months")
    expect(node).to_contain_text("Applies from 2 December 2027")
    expect(page.locator("#art-19")).to_have_count(0)  # a provider's duty
    shot(page, "eu-ai-act-deployer-logs")

    node.get_by_role("link", name="ISO/IEC 42001 A.6.2.8").click()
    page.wait_for_url(re.compile(r"/frameworks/iso-42001/#a-6-2-8$"))
    control = page.locator("#a-6-2-8")
    expect(control).to_contain_text("Recording of event logs")
    expect(control.get_by_role("link", name="EU AI Act Art 12")).to_be_visible()
    expect(control.get_by_role("link", name="NIST AI RMF MEASURE 2.4")).to_be_visible()
    shot(page, "iso-42001-event-logs-crosswalk")

    page.get_by_role("button", name="Collapse all").click()  # tree.js, under the CSP
    expect(control).to_be_hidden()
    page.get_by_role("button", name="Expand all").click()
    expect(control).to_be_visible()

    page.get_by_role("link", name="Version history").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version history")
    expect(page.locator("main")).to_contain_text("First version loaded: 85 nodes.")
