"""The assessment report an account manager hands to the client: one HTML document, shown in the browser and
printed to PDF by WeasyPrint (the radar as static SVG, so both look the same)."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from .charts import radar_svg_for
from .selectors import assessment_sheet, comparison, gap_rows


def _context(assessment, *, web: bool) -> dict:
    from apps.tenancy.selectors import current_client

    client = current_client()
    previous = assessment.previous
    if previous is not None:
        from .selectors import assessment_get

        previous = assessment_get(previous.pk)
    sheet = assessment_sheet(assessment)
    return {
        "assessment": assessment,
        "version": assessment.template_version,
        "client": client,
        "msp_name": settings.KEEL_MSP_NAME,
        "sheet": sheet,
        "gaps": gap_rows(assessment),
        "hard": assessment.results.get("hard_questions", {}),
        "hard_questions": {
            row.question.hard_question: row for dim in sheet for row in dim.questions if row.question.hard_question
        },
        "radar_svg": radar_svg_for(assessment, previous),
        "comparison": comparison(previous, assessment) if previous is not None else None,
        "roadmap": _roadmap(assessment, previous),
        "generated_at": timezone.now(),
        "web": web,
    }


def _roadmap(assessment, previous):
    """The work in flight for this template, and what was finished since the previous assessment."""
    from django.db.models import Q

    from .models import RoadmapItem

    done_since = Q(status=RoadmapItem.Status.DONE)
    if previous is not None:
        done_since &= Q(completed_on__gte=previous.assessed_on)
    return list(
        RoadmapItem.objects.filter(template_id=assessment.template_version.template_id)
        .filter(Q(status__in=RoadmapItem.OPEN_STATUSES) | done_since)
        .order_by("-priority_score", "due_on")
    )


def report_html(assessment, *, web: bool = False) -> str:
    return render_to_string("assessments/report.html", _context(assessment, web=web))


def report_pdf(assessment) -> bytes:
    from weasyprint import HTML

    return HTML(string=report_html(assessment, web=False)).write_pdf()


def report_filename(assessment) -> str:
    return f"assessment-{slugify(assessment.title)[:60] or assessment.pk}-{assessment.assessed_on:%Y-%m-%d}.pdf"
