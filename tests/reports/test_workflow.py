"""The report's life: compute a version, write commentary, review, issue (frozen PDF, emails), re-issue with a
reason, recompute a draft; the database keeps issued figures frozen whatever the application does."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction

from apps.audit.models import AuditEvent
from apps.reports import services
from apps.reports.models import Delivery, Report
from apps.reports.snapshot import data_hash
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def test_a_version_freezes_the_figures_it_computed(fake_sections, alpha_for_reports, november):
    report = services.report_create(month=november, now=NOW)
    assert (report.version, report.status, report.trigger) == (1, "draft", "manual")
    assert report.data["sections"]["fake"]["total"] == "1234.56"  # banker's rounding to the cent
    assert report.data["client"] == {
        "name": alpha_for_reports.name,
        "slug": "alpha",
        "time_zone": alpha_for_reports.time_zone,
        "currency": alpha_for_reports.reporting_currency,
        "retainer": "12000.00",
    }
    assert report.data_sha256 == data_hash(report.data)
    assert report.data["summary"] == {"status": "amber", "highlights": report.data["highlights"]}
    assert AuditEvent.objects.filter(action="report.create", object_id=str(report.pk)).exists()
    fake_sections["total"] = Decimal("99")
    assert Report.objects.get(pk=report.pk).data["sections"]["fake"]["total"] == "1234.56"


def test_a_month_that_has_not_ended_is_refused(fake_sections, alpha_for_reports):
    with pytest.raises(ValidationError, match="has not ended"):
        services.report_create(month=dt.date(2026, 12, 1), now=NOW)


def test_one_version_in_the_works_at_a_time(fake_sections, alpha_for_reports, november):
    services.report_create(month=november, now=NOW)
    with pytest.raises(services.ReportStateError, match="already has a version being prepared"):
        services.report_create(month=november, now=NOW)


def test_recompute_takes_late_data_and_keeps_version_and_commentary(fake_sections, alpha_for_reports, november):
    report = services.report_create(month=november, now=NOW)
    report = services.report_commentary_save(report, commentary="Good month.")
    report = services.report_review(report)
    fake_sections["total"] = Decimal("2000")
    again = services.report_recompute(report)
    assert (again.version, again.status, again.commentary) == (1, "draft", "Good month.")
    assert again.data["sections"]["fake"]["total"] == "2000.00"
    assert Report.objects.filter(month=november).count() == 1


def test_a_failed_section_is_shown_and_blocks_the_review(fake_sections, alpha_for_reports, november):
    fake_sections["fail"] = True
    report = services.report_create(month=november, now=NOW)
    assert report.data["sections"]["fake"] == {"error": "This section could not be computed: the ledger is unreachable"}
    with pytest.raises(services.ReportStateError, match="could not be computed"):
        services.report_review(report)


def _issue(month, commentary="All good."):
    report = services.report_create(month=month, now=NOW)
    report = services.report_commentary_save(report, commentary=commentary)
    report = services.report_review(report)
    return services.report_issue(report)


def test_issuing_stores_the_pdf_and_emails_the_executives(
    fake_sections, alpha_for_reports, november, django_capture_on_commit_callbacks
):
    make_user("ceo@alpha.test", role="client_executive", client=alpha_for_reports)
    make_user("cfo@alpha.test", role="client_executive", client=alpha_for_reports)
    make_user("viewer@alpha.test", role="client_viewer", client=alpha_for_reports)
    with django_capture_on_commit_callbacks(execute=True):
        report = _issue(november)
    report.refresh_from_db()
    assert report.status == "issued" and report.issued_at is not None
    with default_storage.open(report.pdf.name, "rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == report.pdf_sha256
    assert report.pdf.name.startswith(f"reports/{alpha_for_reports.schema_name}/2026-11-v1-")
    assert sorted(m.to[0] for m in mail.outbox) == ["ceo@alpha.test", "cfo@alpha.test"]
    message = mail.outbox[0]
    assert message.subject == f"{alpha_for_reports.name}: AI operations report for November 2026"
    assert "Fake spend was 1234.56" in message.body and "All good." in message.body
    assert f"/c/alpha/reports/{report.pk}/" in message.body
    ((name, content, kind),) = message.attachments
    assert (name, kind) == ("ai-operations-report-2026-11-v1.pdf", "application/pdf") and content == pdf
    assert message.alternatives[0][1] == "text/html"
    assert sorted(report.deliveries.values_list("recipient", "status")) == [
        ("ceo@alpha.test", "sent"),
        ("cfo@alpha.test", "sent"),
    ]


def test_a_refused_email_is_logged_and_can_be_sent_again(
    fake_sections, alpha_for_reports, november, django_capture_on_commit_callbacks, monkeypatch
):
    make_user("ceo@alpha.test", role="client_executive", client=alpha_for_reports)
    sent = []

    def refuse(self, fail_silently=False):
        if not sent:
            sent.append("refused")
            raise OSError("550 mailbox unavailable")
        return 1

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        report = _issue(november)
    delivery = report.deliveries.get()
    assert (delivery.status, delivery.error) == ("failed", "550 mailbox unavailable")
    assert services.failed_recipients(report) == ["ceo@alpha.test"]
    services.report_deliver(report, only=services.failed_recipients(report))
    assert services.failed_recipients(report) == []
    assert list(report.deliveries.order_by("id").values_list("status", flat=True)) == ["failed", "sent"]


def test_the_database_keeps_an_issued_report_frozen(fake_sections, alpha_for_reports, november):
    report = _issue(november)
    for change in (
        {"commentary": "rewritten"},
        {"data": {"sections": {}}},
        {"status": "draft"},
        {"pdf_sha256": "0" * 64},
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            Report.objects.filter(pk=report.pk).update(**change)
    with pytest.raises(DatabaseError), transaction.atomic():
        Report.objects.filter(pk=report.pk).delete()
    with pytest.raises(services.ReportStateError, match="can no longer change"):
        services.report_commentary_save(report, commentary="late edit")
    with pytest.raises(DatabaseError), transaction.atomic():
        Delivery.objects.create(report=report, recipient="x@y.test", status="sent")
        Delivery.objects.filter(report=report).update(status="failed")


def test_even_a_draft_never_changes_its_figures_in_place(fake_sections, alpha_for_reports, november):
    report = services.report_create(month=november, now=NOW)
    with pytest.raises(DatabaseError, match="figures never change"), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(data={"tampered": True})


def test_reissue_needs_a_reason_and_supersedes_on_issue(fake_sections, alpha_for_reports, november):
    first = _issue(november)
    with pytest.raises(ValidationError, match="Say why"):
        services.report_create(month=november, reason="oops", now=NOW)
    fake_sections["total"] = Decimal("1300")
    second = services.report_create(month=november, reason="Late Azure invoice for 28–30 November", now=NOW)
    assert (second.version, second.trigger, second.status) == (2, "reissue", "draft")
    first.refresh_from_db()
    assert first.status == "issued"  # still the issued one until v2 is issued
    second = services.report_issue(services.report_review(second))
    first.refresh_from_db()
    assert (first.status, second.status) == ("superseded", "issued")
    assert first.data["sections"]["fake"]["total"] == "1234.56"
    assert second.data["sections"]["fake"]["total"] == "1300.00"
    assert AuditEvent.objects.filter(action="report.supersede", object_id=str(first.pk)).exists()


def test_review_and_issue_follow_the_order(fake_sections, alpha_for_reports, november):
    report = services.report_create(month=november, now=NOW)
    with pytest.raises(services.ReportStateError, match="Review the report"):
        services.report_issue(report)
    report = services.report_review(report)
    report = services.report_commentary_save(report, commentary="Changed after review")
    assert report.status == "draft" and report.reviewed_by == ""


def test_snapshot_is_plain_json(fake_sections, alpha_for_reports, november):
    report = services.report_create(month=november, now=NOW)
    assert json.loads(json.dumps(report.data)) == report.data
