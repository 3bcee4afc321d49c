"""The report pages and API: who sees which versions, constant query counts for the lists, the PDF, and
another client's report answering 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.reports import services
from tests.conftest import auth_header, make_user

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def _reports(months: int, *, issue: bool) -> list:
    made = []
    for offset in range(months):
        month = dt.date(2026, 11 - offset, 1)
        report = services.report_create(month=month, now=NOW)
        if issue:
            report = services.report_issue(services.report_review(report))
        made.append(report)
    return made


def _count(http, path: str, **headers) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = http.get(path, **headers)
    return response.status_code, len(queries)


def test_the_list_and_the_api_list_take_the_same_queries_for_one_or_three_reports(
    fake_sections, alpha_for_reports, alpha_manager, login_as, api_key_for
):
    http = login_as(alpha_manager)
    headers = auth_header(api_key_for(alpha_for_reports, ["read", "write"])[1])
    with schema_context(alpha_for_reports.schema_name):
        _reports(1, issue=True)
    http.get("/c/alpha/api/v1/reports/", **headers)  # a key's first use records it: not part of the list's cost
    one = (_count(http, "/c/alpha/reports/"), _count(http, "/c/alpha/api/v1/reports/", **headers))
    with schema_context(alpha_for_reports.schema_name):
        for month in (dt.date(2026, 10, 1), dt.date(2026, 9, 1)):
            services.report_create(month=month, now=NOW)
    three = (_count(http, "/c/alpha/reports/"), _count(http, "/c/alpha/api/v1/reports/", **headers))
    assert [status for status, _ in one + three] == [200, 200, 200, 200]
    assert [n for _, n in one] == [n for _, n in three]


def test_executives_and_read_keys_see_issued_versions_only(
    fake_sections, alpha_for_reports, alpha_executive, login_as, api_key_for
):
    (issued,) = _reports(1, issue=True)
    draft = services.report_create(month=dt.date(2026, 10, 1), now=NOW)
    http = login_as(alpha_executive)
    page = http.get("/c/alpha/reports/").content.decode()
    assert "November 2026" in page and "October 2026" not in page and "Compute report" not in page
    assert http.get(f"/c/alpha/reports/{draft.pk}/").status_code == 404
    detail = http.get(f"/c/alpha/reports/{issued.pk}/").content.decode()
    assert "Fake total" in detail and "Mark reviewed" not in detail and "Save commentary" not in detail
    assert http.post(f"/c/alpha/reports/{issued.pk}/reissue/", {"reason": "I would like another"}).status_code == 403
    headers = auth_header(api_key_for(alpha_for_reports, ["read"])[1])
    rows = http.get("/c/alpha/api/v1/reports/", **headers).json()["results"]
    assert [(r["id"], r["status"]) for r in rows] == [(issued.pk, "issued")]
    write = auth_header(api_key_for(alpha_for_reports, ["read", "write"])[1])
    drafts = http.get("/c/alpha/api/v1/reports/?status=draft", **write).json()["results"]
    assert [r["id"] for r in drafts] == [draft.pk]
    november = http.get("/c/alpha/api/v1/reports/?month=2026-11-01", **write).json()["results"]
    assert [r["id"] for r in november] == [issued.pk]


def test_the_api_returns_the_stored_snapshot_and_pdf(fake_sections, alpha_for_reports, login_as, api_key_for):
    from django.test import Client

    (issued,) = _reports(1, issue=True)
    headers = auth_header(api_key_for(alpha_for_reports, ["read"])[1])
    http = Client()
    row = http.get(f"/c/alpha/api/v1/reports/{issued.pk}/", **headers).json()
    assert row["summary_status"] == "amber" and row["pdf_sha256"] == issued.pdf_sha256
    assert row["snapshot_url"].endswith(f"/c/alpha/api/v1/reports/{issued.pk}/snapshot/")
    assert http.get(f"/c/alpha/api/v1/reports/{issued.pk}/snapshot/", **headers).json() == issued.data
    pdf = http.get(f"/c/alpha/api/v1/reports/{issued.pk}/pdf/", **headers)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    import hashlib

    assert hashlib.sha256(b"".join(pdf.streaming_content)).hexdigest() == issued.pdf_sha256
    letter = http.get(f"/c/alpha/api/v1/reports/{issued.pk}/pdf/?paper=letter", **headers)
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")


def test_another_clients_report_is_a_404(fake_sections, alpha_for_reports, beta, login_as, api_key_for):
    (issued,) = _reports(1, issue=True)
    stranger = make_user("exec@beta-only.test", role="client_executive", client=beta)
    http = login_as(stranger)
    assert http.get(f"/c/beta/reports/{issued.pk}/").status_code == 404
    headers = auth_header(api_key_for(beta, ["read"])[1])
    assert http.get(f"/c/beta/api/v1/reports/{issued.pk}/snapshot/", **headers).status_code == 404


def test_an_engineer_computes_but_cannot_issue(fake_sections, alpha_for_reports, login_as):
    engineer = make_user("eng@msp.test", role="engineer", client=alpha_for_reports)
    http = login_as(engineer)
    response = http.post("/c/alpha/reports/new/", {"month": "2026-11-01"})
    assert response.status_code == 302
    report = alpha_for_reports and services.Report.objects.get(month=dt.date(2026, 11, 1))
    assert http.post(f"/c/alpha/reports/{report.pk}/review/").status_code == 403
    assert http.get(f"/c/alpha/reports/{report.pk}/pdf/").content.startswith(b"%PDF")  # draft preview
