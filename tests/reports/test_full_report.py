"""A whole report through the real sections: every section computes, every highlight sentence is traceable to
the figure it states, and the issued PDF's extracted text carries the key figures the snapshot holds."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from django.core.files.storage import default_storage

from apps.reports import services
from apps.reports.models import Report
from apps.reports.render import report_html
from apps.reports.sections import sections
from apps.reports.snapshot import figure_at
from tests.conftest import make_user
from tests.reports.money_factories import *  # noqa: F403
from tests.reports.money_factories import MONTH, book_rows, day_row, ledger_sum

from .section_support import assert_highlights

pytestmark = pytest.mark.django_db
APRIL = dt.date(2026, 4, 1)
NOW = dt.datetime(2026, 4, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def march_report(alpha_for_reports, org, source):
    from apps.budgets.services import budget_save

    book_rows(
        source,
        [
            day_row("2025-03-15", "100.00", tags={"team": "claims"}),
            day_row("2026-02-10", "200.00", tags={"team": "claims"}),
            day_row("2026-03-01", "300.0049", tags={"team": "claims"}),
            day_row("2026-03-15", "120.0031", tags={"agent": "claims-triage"}),
            day_row("2026-03-20", "80.00", tags={"team": "risk"}),
            day_row("2026-03-31", "40.00"),
        ],
        first=dt.date(2025, 3, 1),
        last=APRIL,
    )
    budget_save(name="Whole client", amount="500", scope="client")
    return services.report_create(month=MONTH, now=NOW)


def test_every_section_computes_and_every_highlight_states_its_figure(march_report):
    data = march_report.data
    keys = [module.KEY for module in sections()]
    assert list(data["sections"]) == keys
    assert [k for k in keys if "error" in data["sections"][k]] == []
    assert data["highlights"], "a month with spend over budget says so"
    for key in keys:
        mine = [h for h in data["highlights"] if h["section"] == key]
        assert_highlights(key, data["sections"][key], mine)
    for item in data["summary"]["highlights"]:
        assert item in data["highlights"]
        assert figure_at(data, item["figure"]) is not None

    # Read back from PostgreSQL (jsonb keeps no key order), the page still follows the reading order.
    stored = Report.objects.get(pk=march_report.pk)
    html = report_html(stored, web=True)
    positions = [html.index(f'id="section-{key}"') for key in keys]
    assert positions == sorted(positions)

    total = data["sections"]["spend"]["total"]
    assert total == str(ledger_sum(first=MONTH, end=APRIL)) == "540.01"
    over = [h for h in data["highlights"] if h["section"] == "spend" and h["tone"] == "bad"]
    assert over, data["highlights"]  # 540.01 against a 500 budget


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_the_issued_pdf_reads_the_snapshot_figures(march_report, alpha_for_reports, tmp_path):
    make_user("cfo@alpha.example", role="client_executive", client=alpha_for_reports)
    report = services.report_review(march_report)
    report = services.report_issue(report)
    with default_storage.open(report.pdf.name, "rb") as handle:
        text = _pdf_text(handle.read(), tmp_path)
    data = report.data
    assert "Alpha" in text and "March 2026" in text
    assert "issued 2 April 2026" in text and "NOT ISSUED" not in text  # rendered as the issued document
    assert "No AI incident was opened or closed in March 2026." in text  # sections name the month
    for title in data["titles"].values():
        assert title in text, title
    assert "540.01" in text  # the month's spend, as the snapshot froze it
    assert data["sections"]["spend"]["budget_total"] == "500.00" and "500" in text
    for item in data["summary"]["highlights"]:
        first_words = " ".join(item["text"].split()[:3])
        assert first_words in " ".join(text.split()), item["text"]
    assert "Page 1 of" in text
