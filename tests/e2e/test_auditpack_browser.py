"""Audit packs in a real browser on the demo data: Acme's auditor opens the audit-pack page, compares the key
fingerprint, requests a pack with the form, downloads it once it is ready, and the ZIP verifies offline with
the key the page shows. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from apps.auditpacks.verify import verify_pack
from apps.demo.services import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

PACKS = "/c/acme/compliance/audit-packs/"
AUDITOR = "auditor@kpmg.example"


def test_the_auditor_requests_downloads_and_verifies_a_pack(new_page, shot, tmp_path):
    page = new_page()
    # Straight to the packs: an auditor's workspace overview needs `view`, which auditors do not have.
    page.goto(f"/accounts/login/?next={PACKS}")
    page.get_by_label("Email").fill(AUDITOR)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"**{PACKS}")
    expect(page.get_by_role("heading", level=1, name="Audit packs")).to_be_visible()
    fingerprint = page.locator("[data-key-fingerprint]").get_attribute("data-key-fingerprint")
    public_key = page.locator("pre").inner_text().rsplit(" ", 1)[-1].strip()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    shot(page, "audit-packs")

    page.get_by_role("button", name="Build the pack").click()
    page.wait_for_url(f"**{PACKS}")
    row = page.locator("tbody tr").first
    # The demo's server runs tasks eagerly; a worker would take a moment, and the row polls until then.
    expect(row.locator("[data-pack-status]")).to_have_attribute("data-pack-status", "ready", timeout=60_000)
    shot(page, "pack-ready")

    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    path = tmp_path / "pack.zip"
    download.value.save_as(path)
    report = verify_pack(str(path), public_key=public_key)
    assert report.ok, report.problems
    assert report.fingerprint == fingerprint
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["client"]["slug"] == "acme" and manifest["generated_by"] == AUDITOR

    row.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit pack #")
    expect(page.locator("main")).to_contain_text(manifest["summary"]["audit_trail"]["head_hash"] or "no event")
    shot(page, "pack-detail")
