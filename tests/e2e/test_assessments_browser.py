"""Capability assessments in a real browser on the demo data: the account manager starts Harbor's next
assessment (Keel prefills from its data and the last assessment's answers), answers a question, is told to give a
reason when overriding a prefilled answer, gives one, finalises, and sees the score and the radar chart (current,
target, previous) on the assessment and in the comparison; the portfolio maturity view lists the client.
Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EXECUTIVE, sign_in

pytestmark = pytest.mark.e2e


def _radar_drawn(page, figure: str = "radar") -> None:
    radar = page.locator(f'[data-plotly-figure="{figure}"]')
    expect(radar.locator(".main-svg").first).to_be_visible()
    expect(radar.locator(".scatterlayer .trace")).to_have_count(3)  # current, target, previous


def test_a_manager_completes_an_assessment_and_sees_the_radar(manager_page, shot, browser_errors):
    page = manager_page
    page.goto("/c/harbor/assessments/")
    expect(page.get_by_role("heading", level=1, name="Capability assessments")).to_be_visible()
    _radar_drawn(page, "radar-latest")
    shot(page, "harbor-assessments")

    page.get_by_role("link", name="New assessment").click()
    page.get_by_label("Title").fill("Browser test assessment")
    page.get_by_role("button", name="Start the assessment").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Browser test assessment")
    expect(page.locator(".messages")).to_contain_text("already answered")
    expect(page.locator(".question.prefilled").first).to_contain_text("Prefilled by Keel")
    shot(page, "started-with-prefill")

    # A question answered by hand.
    question = page.locator(".question:not(.prefilled):not(:has(.signal))").first
    question.locator("input[type=radio]").last.check()
    question.get_by_role("button", name="Save answer").click()
    expect(page.locator(".messages")).to_contain_text("Answer saved")

    # Overriding Keel's prefilled answer needs a reason.
    prefilled = page.locator(".question.prefilled").first
    ref = prefilled.get_attribute("data-question")
    checked = prefilled.locator("input[type=radio]:checked").get_attribute("value")
    other = prefilled.locator(f"input[type=radio]:not([value='{checked}']):not([value='__na__'])").first
    other.check()
    # The refused answer comes back as 400 with the form (as a form re-render should); the browser logs that.
    browser_errors.expected_missing.add(prefilled.locator("form.answer-form").get_attribute("action"))
    prefilled.get_by_role("button", name="Save answer").click()
    prefilled = page.locator(f'[data-question="{ref}"]')
    expect(prefilled.locator(".answer-error")).to_contain_text("say why you choose another answer")
    # The refused choice is still selected, so only the reason is missing.
    expect(prefilled.locator(f"input[type=radio][value='{checked}']")).not_to_be_checked()
    shot(page, "override-needs-reason")

    prefilled.get_by_label("Reason for overriding Keel").fill("Confirmed in the client workshop.")
    prefilled.get_by_role("button", name="Save answer").click()
    expect(page.locator(".messages")).to_contain_text("Answer saved")
    expect(page.locator(f'[data-question="{ref}"] .signal')).to_contain_text("overridden")

    page.get_by_role("button", name="Finalise").click()
    expect(page.locator(".messages")).to_contain_text("final")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Final")
    expect(page.locator('[data-score="overall"]')).to_have_text(re.compile(r"^\d+\.\d\d"))
    expect(page.get_by_role("button", name="Save answer")).to_have_count(0)  # frozen
    _radar_drawn(page)
    shot(page, "finalised")

    page.get_by_role("link", name="Compare with previous").click()
    expect(page.locator("table.compare tbody tr")).to_have_count(10)
    _radar_drawn(page)
    shot(page, "compare")

    page.goto("/assessments/")
    expect(page.get_by_role("heading", level=1, name="Portfolio maturity")).to_be_visible()
    expect(page.get_by_role("link", name="Harbor Insurance")).to_be_visible()
    shot(page, "portfolio-maturity")


def test_a_client_executive_reads_the_assessments(new_page, shot):
    page = new_page()
    sign_in(page, EXECUTIVE, totp=False)
    page.goto("/c/acme/assessments/")
    _radar_drawn(page, "radar-latest")
    expect(page.get_by_role("link", name="New assessment")).to_have_count(0)
    page.get_by_role("link", name=re.compile("Capability assessment")).first.click()
    expect(page.get_by_role("button", name="Save answer")).to_have_count(0)
    expect(page.get_by_role("link", name="PDF")).to_be_visible()
    shot(page, "executive-view")
