"""A report version as HTML (the portal view and the PDF's source) and as PDF (WeasyPrint, charts as SVG).
Everything comes from the frozen snapshot and the commentary: rendering never queries the client's data."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from apps.core.branding import branding

from .sections import SECTION_MODULES
from .snapshot import period_of

PAPER_SIZES = {"a4": "A4", "letter": "Letter"}


def _stylesheet() -> str:
    path = finders.find("reports/report.css")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def section_order(data: dict) -> list[str]:
    """The sections in reading order. PostgreSQL's jsonb keeps no key order, so a snapshot read back from the
    database is put in SECTION_MODULES order (any section no longer listed follows, by key)."""
    present = data["sections"]
    known = [key for key in SECTION_MODULES if key in present]
    return known + sorted(key for key in present if key not in SECTION_MODULES)


def document_context(report, *, web: bool, paper: str = "a4") -> dict:
    data = report.data
    sections = [
        {"key": key, "title": data["titles"].get(key, key), "s": data["sections"][key]} for key in section_order(data)
    ]
    return {
        "report": report,
        "data": data,
        "sections": sections,
        "period": period_of(data),  # the section templates name the month ("in March 2026")
        "brand": branding(),
        "web": web,
        "paper": PAPER_SIZES.get(paper, "A4"),
        "stylesheet": "" if web else _stylesheet(),
        "rendered_at": timezone.now(),
    }


def report_html(report, *, web: bool, paper: str = "a4") -> str:
    template = "reports/document_web.html" if web else "reports/document_pdf.html"
    with timezone.override(report.data["client"]["time_zone"]):  # times read in the client's zone, PDF too
        return render_to_string(template, document_context(report, web=web, paper=paper))


def report_pdf(report, *, paper: str | None = None) -> bytes:
    from weasyprint import HTML

    paper = paper or settings.KEEL_REPORT_PAPER
    return HTML(string=report_html(report, web=False, paper=paper), base_url=settings.KEEL_BASE_URL).write_pdf()
