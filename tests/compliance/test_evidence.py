"""Evidence: upload → stored under the client's prefix with its SHA-256; revisions kept; approval (and
self-approval recorded); rejection; expiry alerts 30 and 7 days ahead once each, then expiry; a tampered or
missing stored file detected, alerted and dropped from readiness; bad uploads refused with a clear message."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from freezegun import freeze_time

from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.compliance.models import Evidence, EvidenceNotice, EvidenceRevision
from apps.compliance.selectors import readiness
from apps.compliance.services import (
    EvidenceIntegrityError,
    evidence_add_revision,
    evidence_approve,
    evidence_check,
    evidence_create,
    evidence_reject,
    evidence_update,
    mapping_add,
    revision_open,
)
from apps.core.context import acting_as

from .conftest import PDF, TODAY, approved_evidence, enable, make_control, pdf_file, text_upload, urn


def test_upload_stores_the_file_under_the_client_prefix_with_its_sha256(in_alpha, media):
    control = make_control()
    with acting_as(user_email="eng@msp.test"):
        evidence = evidence_create(
            title="Logging policy", file=pdf_file("Logging policy (v2).pdf"), effective_date=TODAY, controls=[control]
        )
    revision = evidence.current_revision
    assert revision.number == 1 and revision.sha256 == hashlib.sha256(PDF).hexdigest() and revision.size == len(PDF)
    assert revision.file_name == f"evidence/{in_alpha.schema_name}/{evidence.pk}/1-Logging policy _v2.pdf"
    assert revision.display_name == "Logging policy _v2.pdf" and revision.content_type == "application/pdf"
    assert revision.uploaded_by == "eng@msp.test" and revision.effective_date == TODAY
    with default_storage.open(revision.file_name, "rb") as stored:
        assert stored.read() == PDF
    assert evidence.status == Evidence.Status.DRAFT
    event = AuditEvent.objects.get(action="compliance.evidence_create")
    assert event.after["revision"]["sha256"] == revision.sha256 and event.after["controls"] == ["AI-LOG-01"]


def test_a_new_revision_keeps_the_old_one_and_returns_to_draft(in_alpha, media):
    control = make_control()
    with acting_as(user_email="eng@msp.test"):
        evidence = evidence_create(title="Policy", file=pdf_file(), effective_date=TODAY, controls=[control])
    with acting_as(user_email="am@msp.test"):
        evidence_approve(evidence=evidence)
    second = PDF.replace(b"1.4", b"1.7")
    with acting_as(user_email="eng@msp.test"):
        revision = evidence_add_revision(
            evidence=evidence, file=pdf_file(body=second), effective_date=TODAY + dt.timedelta(days=1), note="2027"
        )
    evidence.refresh_from_db()
    assert revision.number == 2 and evidence.current_revision == revision
    assert evidence.status == Evidence.Status.DRAFT and evidence.approved_by == ""
    first = evidence.revisions.get(number=1)
    assert first.sha256 == hashlib.sha256(PDF).hexdigest()
    with default_storage.open(first.file_name, "rb") as stored:
        assert stored.read() == PDF  # never overwritten
    with default_storage.open(revision.file_name, "rb") as stored:
        assert stored.read() == second


def test_approval_records_who_and_flags_self_approval(in_alpha, media):
    with acting_as(user_email="eng@msp.test"):
        evidence = evidence_create(title="Policy", file=pdf_file(), effective_date=TODAY)
    with acting_as(user_email="am@msp.test"):
        evidence_approve(evidence=evidence)
    assert (evidence.approved_by, evidence.self_approved, evidence.approved_revision) == ("am@msp.test", False, 1)
    with acting_as(user_email="eng@msp.test"):
        mine = evidence_create(title="Mine", file=pdf_file(), effective_date=TODAY, approve=True)
    assert mine.status == "approved" and mine.self_approved and mine.approved_by == "eng@msp.test"
    event = AuditEvent.objects.filter(action="compliance.evidence_approve").latest("seq")
    assert event.after["self_approved"] is True and event.after["sha256"] == mine.current_revision.sha256
    with pytest.raises(ValidationError, match="Only a draft"):
        evidence_approve(evidence=mine)


def test_rejection_needs_a_reason_and_a_new_revision_to_recover(in_alpha, media):
    evidence = evidence_create(title="Blurry scan", file=pdf_file(), effective_date=TODAY)
    with pytest.raises(ValidationError, match="Say what is wrong"):
        evidence_reject(evidence=evidence, reason="")
    evidence_reject(evidence=evidence, reason="The scan is unreadable; upload the original PDF.")
    assert evidence.status == "rejected" and "unreadable" in evidence.rejection_reason
    with pytest.raises(ValidationError):
        evidence_approve(evidence=evidence)
    evidence_add_revision(evidence=evidence, file=pdf_file(), effective_date=TODAY)
    evidence.refresh_from_db()
    assert evidence.status == "draft" and evidence.rejection_reason == ""


def test_link_evidence(in_alpha):
    evidence = evidence_create(title="Wiki page", url="https://wiki.acme.example/ai-policy", effective_date=TODAY)
    assert evidence.kind == "link" and evidence.current_revision.integrity == "n/a"
    with pytest.raises(ValidationError) as exc:
        evidence_create(title="Bad", url="javascript:alert(1)", effective_date=TODAY)
    assert "url" in exc.value.message_dict


def test_expiry_alerts_30_and_7_days_ahead_once_each_then_expired(in_alpha, media):
    control = make_control()
    expires = dt.date(2027, 1, 31)
    with freeze_time("2026-12-01 08:00:00"):
        evidence = approved_evidence(
            control, title="Pen test report", expires_on=expires, effective=dt.date(2026, 2, 1)
        )
        assert evidence_check(verify_files=False)["warned"] == 0  # 61 days ahead
    for day in ("2027-01-01", "2027-01-02", "2027-01-10"):  # 30, 29 and 21 days ahead
        with freeze_time(f"{day} 08:00:00"):
            evidence_check(verify_files=False)
    alerts = Alert.objects.filter(kind="evidence_expiring")
    assert [a.subject for a in alerts] == ["Evidence “Pen test report” expires in 30 days"]
    for day in ("2027-01-24", "2027-01-25", "2027-01-31"):  # 7, 6 and 0 days ahead
        with freeze_time(f"{day} 08:00:00"):
            evidence_check(verify_files=False)
    assert Alert.objects.filter(kind="evidence_expiring").count() == 2
    seven = Alert.objects.get(kind="evidence_expiring", severity="medium")
    assert seven.subject == "Evidence “Pen test report” expires in 7 days"
    assert seven.dedup_key == f"evidence:{evidence.pk}:expiring_7:2027-01-31"
    evidence.refresh_from_db()
    assert evidence.status == "approved"  # valid through its expiry date

    with freeze_time("2027-02-01 08:00:00"):
        assert evidence_check(verify_files=False)["expired"] == 1
        evidence_check(verify_files=False)
    evidence.refresh_from_db()
    assert evidence.status == "expired"
    expired = Alert.objects.get(kind="evidence_expired")
    assert expired.subject == "Evidence “Pen test report” expired on 31 Jan 2027" and expired.occurrences == 1
    assert set(EvidenceNotice.objects.values_list("kind", flat=True)) == {"expiring_30", "expiring_7", "expired"}
    assert AuditEvent.objects.filter(action="compliance.evidence_expire").count() == 1


def test_a_new_expiry_date_needs_a_new_approval_and_closes_old_warnings(in_alpha, media):
    control = make_control()
    with freeze_time("2026-11-20 08:00:00"):
        evidence = approved_evidence(control, expires_on=dt.date(2026, 12, 10))
        evidence_check(verify_files=False)
        warning = Alert.objects.get(kind="evidence_expiring")
        evidence_update(evidence=evidence, title=evidence.title, expires_on=dt.date(2027, 12, 10), controls=[control])
    evidence.refresh_from_db()
    warning.refresh_from_db()
    assert evidence.status == "draft" and warning.state == Alert.State.RESOLVED


def test_a_tampered_file_fails_integrity_is_alerted_and_drops_readiness(library, assets, media, clock):
    cf = enable(library["ai_act"], roles=["deployer"], assets=[assets["scorer"]])
    control = make_control()
    mapping_add(control=control, urn=urn("tf-ai-act", "ART26-6"))
    evidence = approved_evidence(control)
    assert readiness(cf).row(urn("tf-ai-act", "ART26-6")).status == "met"

    revision = evidence.current_revision
    path = media / revision.file_name
    path.write_bytes(PDF.replace(b"trailer", b"TRAILER"))  # same size, different bytes
    result = evidence_check()
    assert result["integrity_failed"] == 1
    revision.refresh_from_db()
    assert revision.integrity == EvidenceRevision.Integrity.FAILED
    assert revision.sha256 in revision.integrity_message
    alert = Alert.objects.get(kind="evidence_integrity")
    assert alert.severity == "high" and "revision 1 failed its integrity check" in alert.subject
    assert AuditEvent.objects.filter(action="compliance.evidence_integrity_failed").count() == 1
    assert readiness(cf).row(urn("tf-ai-act", "ART26-6")).status == "missing_evidence"
    with pytest.raises(EvidenceIntegrityError):
        revision_open(revision=revision)

    evidence_check()  # a second run: the same alert, counted, not a new one, and no second audit event
    assert Alert.objects.filter(kind="evidence_integrity").count() == 1
    assert AuditEvent.objects.filter(action="compliance.evidence_integrity_failed").count() == 1

    path.unlink()
    evidence_check()
    revision.refresh_from_db()
    assert revision.integrity_message == "The stored file is missing."


def test_restoring_the_original_file_verifies_again(in_alpha, media):
    evidence = approved_evidence(make_control())
    revision = evidence.current_revision
    path = media / revision.file_name
    path.write_bytes(b"%PDF-1.4 tampered")
    evidence_check()
    path.write_bytes(PDF)
    evidence_check()
    revision.refresh_from_db()
    assert revision.integrity == "ok" and "again" in revision.integrity_message
    with revision_open(revision=revision) as handle:
        assert handle.read() == PDF


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, body in entries.items():
            package.writestr(name, body)
    return buffer.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("empty.pdf", b"", "is empty (0 bytes)"),
        ("setup.exe", b"MZ\x90\x00", ".exe files are not accepted"),
        ("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00", "is a Windows executable, not a .pdf file"),
        ("report.pdf", b"\x7fELF\x02\x01\x01", "is a Linux executable"),
        ("notes.txt", b"#!/bin/sh\nrm -rf /\n", "is a script"),
        ("../../etc/passwd.pdf", PDF, "contains a path"),
        ("..\\..\\boot.ini.pdf", PDF, "contains a path"),
        (".hidden.pdf", PDF, "contains a path"),
        ("page.html", b"<html><body>hi</body></html>", ".html files are not accepted"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", ".svg files are not accepted"),
        ("app.js", b"alert(1)", ".js files are not accepted"),
        ("report.pdf", b"<!DOCTYPE html><html><script>x</script></html>", "a PDF starts with %PDF-"),
        ("readme.md", b"<script>alert(1)</script>", "contains HTML, SVG or script markup"),
        ("notes.txt", b"\xff\xfe\x00b\x00a\x00d", "contains binary data"),
        ("data.json", b'{"a": 1,', "is not valid JSON"),
        ("photo.png", b"\xff\xd8\xff\xe0jpeg", "it is not a PNG image"),
        ("policy.docx", b"PK\x03\x04garbage", "the ZIP package is damaged"),
        ("policy.docx", _zip({"[Content_Types].xml": b"<T/>", "xl/workbook.xml": b"<w/>"}), "it is not a DOCX"),
        ("macro.docx", _zip({"[Content_Types].xml": b"<T/>", "word/vbaProject.bin": b"x"}), "contains macros"),
        ("noext", PDF, "files are not accepted"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(in_alpha, media, name, body, message):
    with pytest.raises(ValidationError) as exc:
        evidence_create(title="Bad", file=text_upload(name, body), effective_date=TODAY)
    assert message in exc.value.message_dict["file"][0]
    assert not Evidence.objects.exists()


def test_oversized_uploads_are_refused(in_alpha, media, settings):
    settings.KEEL_EVIDENCE_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as exc:
        evidence_create(title="Big", file=pdf_file(body=PDF + b"0" * 2000), effective_date=TODAY)
    assert "evidence files may be at most 1,024 bytes" in exc.value.message_dict["file"][0]


@pytest.mark.parametrize(
    ("name", "body", "file_type"),
    [
        ("scan.png", b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        ("photo.JPG", b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        ("notes.md", "# Résumé\n\nAll good.\n".encode(), "md"),
        ("export.csv", b"\xef\xbb\xbfa,b\n1,2\n", "csv"),
        ("config.json", b'{"retention_days": 180}', "json"),
        ("policy.docx", DOCX, "docx"),
    ],
)
def test_allowed_types_are_accepted_by_content(in_alpha, media, name, body, file_type):
    evidence = evidence_create(title="Fine", file=text_upload(name, body), effective_date=TODAY)
    assert evidence.current_revision.file_type == file_type


def test_evidence_metadata_validation(in_alpha, media):
    with pytest.raises(ValidationError) as exc:
        evidence_create(title="", file=pdf_file(), effective_date=TODAY, expires_on=TODAY - dt.timedelta(days=1))
    assert set(exc.value.message_dict) == {"title", "expires_on"}
    with pytest.raises(ValidationError) as exc:
        evidence_create(title="No date", file=pdf_file(), effective_date=None)
    assert "effective_date" in exc.value.message_dict
