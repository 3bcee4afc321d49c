"""Reads for the assessment pages and API: lists, the question sheet of one assessment, comparisons, the
roadmap, and the MSP's portfolio maturity (public-schema rollup only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.assessment_templates.models import Dimension, Question, Template, TemplateVersion

from . import scoring
from .models import Answer, Assessment, RoadmapItem


def assessments_list() -> QuerySet[Assessment]:
    return Assessment.objects.all().order_by("-assessed_on", "-pk")


def assessments_with_versions(assessments) -> list[Assessment]:
    """Attach each assessment's template version (public schema: no join across schemas) in one query."""
    assessments = list(assessments)
    ids = {a.template_version_id for a in assessments}
    versions = {v.pk: v for v in TemplateVersion.objects.filter(pk__in=ids).select_related("template")}
    for assessment in assessments:
        assessment.template_version = versions.get(assessment.template_version_id)
    return assessments


def assessment_get(pk) -> Assessment | None:
    assessment = Assessment.objects.filter(pk=pk).select_related("previous").first()
    if assessment is not None:
        assessment.template_version = TemplateVersion.objects.select_related("template").get(
            pk=assessment.template_version_id
        )
    return assessment


def templates_available() -> list[Template]:
    return list(Template.objects.exclude(current=None).select_related("current").order_by("name"))


@dataclass
class QuestionRow:
    question: Question
    answer: Answer | None
    choice: dict | None = None
    signal_choice: dict | None = None
    errors: list[str] = field(default_factory=list)  # a refused answer's messages (shown next to the question)
    posted: dict | None = None  # and what the assessor had entered

    @property
    def selected(self) -> str:
        """The choice to show as checked: what was just posted, else the stored answer."""
        if self.posted is not None:
            return self.posted["choice"]
        if self.answer is None:
            return ""
        return "__na__" if self.answer.is_na else self.answer.choice_key


@dataclass
class DimensionSheet:
    dimension: Dimension
    result: dict
    questions: list[QuestionRow] = field(default_factory=list)

    @property
    def level_descriptor(self) -> str:
        level = self.result.get("level")
        return self.dimension.descriptor(int(Decimal(level))) if level is not None else ""

    @property
    def target_descriptor(self) -> str:
        target = self.result.get("target")
        return self.dimension.descriptor(int(target)) if target else ""


def assessment_sheet(assessment: Assessment) -> list[DimensionSheet]:
    """Dimensions in order, each with its result and its questions with their answers: four queries."""
    version = assessment.template_version
    results = {row["ref"]: row for row in assessment.results.get("dimensions", [])}
    answers = {a.question_id: a for a in Answer.objects.filter(assessment=assessment).prefetch_related("evidence")}
    sheets = {d.pk: DimensionSheet(d, results.get(d.ref, {})) for d in version.dimensions.all()}
    for question in version.questions.all():
        answer = answers.get(question.pk)
        row = QuestionRow(question, answer)
        if answer is not None:
            row.choice = question.choice(answer.choice_key) if answer.choice_key else None
            row.signal_choice = question.choice(answer.signal_choice_key) if answer.signal_choice_key else None
        sheets[question.dimension_id].questions.append(row)
    return list(sheets.values())


def gap_rows(assessment: Assessment) -> list[dict]:
    rows = {row["ref"]: row for row in assessment.results.get("dimensions", [])}
    return [rows[ref] for ref in assessment.results.get("gaps", []) if ref in rows]


def comparison(older: Assessment, newer: Assessment) -> dict:
    rows = scoring.compare(older.results, newer.results)
    delta = None
    if older.overall_score is not None and newer.overall_score is not None:
        delta = newer.overall_score - older.overall_score
    return {"older": older, "newer": newer, "rows": rows, "overall_delta": delta}


def roadmap_items(*, status: str = "", template_id=None) -> QuerySet[RoadmapItem]:
    items = RoadmapItem.objects.all()
    if status == "open":
        items = items.filter(status__in=RoadmapItem.OPEN_STATUSES)
    elif status:
        items = items.filter(status=status)
    if template_id:
        items = items.filter(template_id=template_id)
    return items.order_by(
        # Open work first, then by priority score and due date.
        "-priority_score",
        "due_on",
        "pk",
    )


def roadmap_summary() -> dict:
    today = timezone.now().date()
    open_q = Q(status__in=RoadmapItem.OPEN_STATUSES)
    return RoadmapItem.objects.aggregate(
        total=Count("pk"),
        open=Count("pk", filter=open_q),
        overdue=Count("pk", filter=open_q & Q(due_on__lt=today)),
        in_progress=Count("pk", filter=Q(status=RoadmapItem.Status.IN_PROGRESS)),
        done=Count("pk", filter=Q(status=RoadmapItem.Status.DONE)),
    )


def portfolio_maturity(*, clients) -> list:
    """The clients with their maturity rollup (public schema only: one query), lowest score first and clients
    without a final assessment last."""
    clients = list(clients.select_related("maturity").order_by("name"))
    for client in clients:
        client.maturity_row = getattr(client, "maturity", None)
    return sorted(
        clients,
        key=lambda c: (c.maturity_row is None, c.maturity_row.score if c.maturity_row else 0, c.name),
    )
