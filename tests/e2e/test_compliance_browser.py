"""The compliance register in a real browser on the demo data: a manager opens Acme's EU AI Act page, sees a
control whose evidence is only a draft, is refused a renamed executable with a clear message, uploads and
approves a real PDF for that control, and sees the framework's readiness go up. Screenshots in
test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import MANAGER, sign_in

pytestmark = pytest.mark.e2e

OVERVIEW = "/c/acme/compliance/"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _score(page) -> float:
    text = page.locator("[data-readiness-score]").inner_text()
    return float(text.replace("%", "").strip())


def test_a_manager_uploads_evidence_and_readiness_goes_up(new_page, shot):
    page = new_page()
    sign_in(page, MANAGER, totp=True)
    page.goto(OVERVIEW)
    expect(page.get_by_role("heading", level=1, name="Compliance")).to_be_visible()
    expect(page.locator(".fw-card")).to_have_count(2)  # EU AI Act and DORA
    shot(page, "acme-overview")

    page.get_by_role("link", name="EU AI Act").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("EU AI Act")
    expect(page.locator(".chart .main-svg").first).to_be_visible()  # the trend, drawn under the CSP
    before = _score(page)
    incident = page.locator('.req-line[data-urn="urn:keel:fw:eu-ai-act:art-73-1"]')
    expect(incident.locator("[data-status]")).to_have_attribute("data-status", "missing_evidence")
    shot(page, "eu-ai-act-before")

    incident.get_by_role("link", name="AI-INC-01").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("AI-INC-01")
    page.get_by_role("link", name="Add evidence").click()
    expect(page.get_by_role("heading", level=1, name="Upload evidence")).to_be_visible()
    expect(page.get_by_label(re.compile("AI-INC-01"))).to_be_checked()  # came from the control's page

    page.get_by_label("Title").fill("Signed incident response plan (browser test)")
    page.locator("input[type=file][name=file]").set_input_files(
        {"name": "incident-plan.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00 not a pdf"}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".notice-error")).to_contain_text("is a Windows executable, not a .pdf file")
    shot(page, "refused-executable")

    page.locator("input[type=file][name=file]").set_input_files(
        {"name": "incident-plan.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_label("Approve it now (recorded as a self-approval)").check()
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Signed incident response plan")
    expect(page.locator("[data-evidence-status]")).to_have_text("Approved")
    expect(page.locator(".revision-table")).to_contain_text("incident-plan.pdf")
    expect(page.locator(".revision-table .hash").first).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    shot(page, "evidence-approved")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download").first.click()
    assert download.value.path().read_bytes() == PDF

    page.goto(OVERVIEW)
    page.get_by_role("link", name="EU AI Act").first.click()
    after = _score(page)
    assert after > before, (before, after)
    incident = page.locator('.req-line[data-urn="urn:keel:fw:eu-ai-act:art-73-1"]')
    expect(incident.locator("[data-status]")).to_have_attribute("data-status", "met")
    shot(page, "eu-ai-act-after")
