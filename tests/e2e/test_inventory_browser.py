"""The inventory in a real browser: the demo inventory, registering an agent with a money-moving tool and
seeing the guardrail finding appear, the dependency view. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_e_demo_inventory_lists_assets_and_findings(manager_page, shot):
    page = manager_page
    page.goto("/c/acme/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="AI assets").click()
    page.wait_for_url(re.compile(r"/c/acme/inventory/$"))
    expect(page.get_by_role("heading", level=1, name="AI inventory")).to_be_visible()
    for name in ("underwriter-7", "Credit score model v3", "Loan file RAG", "Temenos core banking"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    shot(page, "acme-inventory")

    page.get_by_label("Type").select_option(label="Agent")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"kind=agent"))
    expect(page.get_by_role("link", name="Credit score model v3")).to_have_count(0)
    row = page.get_by_role("row").filter(has_text="Collections outreach agent")
    expect(row.get_by_role("link", name=re.compile(r"\d+ open"))).to_be_visible()
    shot(page, "acme-agents-filtered")

    page.get_by_role("link", name="underwriter-7", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="underwriter-7")).to_be_visible()
    tools = page.locator("section#tools")
    expect(tools).to_contain_text("Disburse funds")
    expect(tools).to_contain_text("needs approval")
    expect(page.locator("section#relations")).to_contain_text("Temenos core banking")
    expect(page.locator(".depgraph svg")).to_be_visible()
    shot(page, "agent-detail")

    page.goto("/c/acme/inventory/dependencies/")
    expect(page.locator(".depgraph .node")).not_to_have_count(0)
    shot(page, "dependency-view")


def test_f_registering_an_agent_with_a_money_tool_shows_the_finding(manager_page, shot):
    page = manager_page
    page.goto("/c/harbor/inventory/")
    page.get_by_text("Register an asset").click()
    page.get_by_role("link", name="Agent", exact=True).click()
    page.wait_for_url(re.compile(r"/c/harbor/inventory/new/agent/$"))
    page.get_by_label("Name").fill("Subrogation recovery agent")
    page.get_by_label("Business purpose").fill("Chases third-party insurers for recoveries on paid claims.")
    page.get_by_label("Lifecycle").select_option(label="Pilot")
    page.get_by_label(re.compile(r"^Spend cap")).fill("80")
    page.get_by_label("Kill-switch webhook URL").fill("https://claims-ai.harbor.example/agents/subro/kill")
    shot(page, "register-agent-form")
    page.get_by_role("button", name="Register agent").click()
    page.wait_for_url(re.compile(r"/c/harbor/inventory/assets/\d+/$"))
    expect(page.get_by_text("This asset meets every active guardrail.")).to_be_visible()

    page.get_by_role("link", name="Add a tool").click()
    page.get_by_label("Name").fill("Transfer recovered funds")
    page.get_by_label("Move money").check()
    page.get_by_label("Most it may move per action").fill("20000")
    shot(page, "add-tool-form")
    page.get_by_role("button", name="Save tool").click()
    page.wait_for_url(re.compile(r"/c/harbor/inventory/assets/\d+/$"))
    findings = page.locator("section#findings")
    expect(findings).to_contain_text("Agent can move money without human approval")
    expect(findings).to_contain_text("Transfer recovered funds")
    expect(findings.get_by_text("Critical")).to_be_visible()
    expect(page.get_by_text(re.compile(r"now breaks 1 guardrail"))).to_be_visible()
    shot(page, "finding-appears")

    # The finding raised an alert, and the findings page lists it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Guardrail findings")).click()
    expect(page.get_by_role("row").filter(has_text="Subrogation recovery agent")).to_contain_text(
        "Agent can move money without human approval"
    )
    shot(page, "findings-page")
    page.goto("/c/harbor/alerts/")
    expect(
        page.get_by_role("link", name=re.compile(r"Subrogation recovery agent: Agent can move money"))
    ).to_be_visible()
