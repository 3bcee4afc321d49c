"""Capability-assessment demo: every client has two final assessments about six months apart that show
progress, and a roadmap in flight.

The earlier one is answered by hand from a per-client profile (the maturity level the account manager saw in
each dimension). The later one starts from Keel's platform signals (billing freshness, token monitoring, MFA,
agent kill switches, compliance readiness …, read from the demo data the other steps made) and the rest is
answered from the later profile; one prefilled answer is overridden with a reason. Roadmap items come from the
earlier assessment's gaps; some are done, some in progress, and the later assessment adds the gaps still open.

Idempotent: a client that has any assessment is left alone.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.context import acting_as

logger = logging.getLogger(__name__)

MANAGER = "am@northwind.example"
ENGINEER = "engineer@northwind.example"
TEMPLATE = "ai-era-msp"
DIMENSIONS = (
    "cloud-strategy",
    "security",
    "ai-support",
    "billing-review",
    "monitoring",
    "agent-guardrails",
    "compliance",
    "data-sovereignty",
    "cost-optimisation",
    "drift-management",
)
# Level per dimension, in DIMENSIONS order: (six months ago, now).
PROFILES = {
    "acme": ((2, 3, 2, 2, 2, 1, 2, 2, 2, 1), (3, 4, 3, 4, 3, 3, 3, 2, 3, 2)),
    "maple": ((2, 2, 1, 1, 2, 1, 2, 3, 1, 1), (2, 3, 2, 3, 2, 2, 3, 4, 2, 2)),
    "harbor": ((3, 3, 2, 2, 3, 2, 2, 2, 2, 2), (3, 4, 3, 3, 4, 3, 3, 3, 3, 3)),
    "northwind": ((3, 4, 3, 3, 3, 2, 3, 3, 3, 2), (4, 4, 4, 4, 4, 3, 4, 3, 4, 3)),
}
SUMMARIES = {
    "acme": "Security and cost optimisation moved a level: phishing-resistant MFA is rolled out to finance and "
    "budgets with anomaly alerting watch every AI workload. Billing data still comes from monthly uploads, and drift "
    "management remains the biggest gap against DORA's expectations.",
    "maple": "Real-time cost data is in place; agents and drift monitoring are still ad hoc. Residency is strong "
    "(Canadian region, documented).",
    "harbor": "Monitoring now covers user experience and token efficiency; the claims agent's guardrails are next.",
    "northwind": "Our own practice: most dimensions at level 4; agent guardrails and drift management lag.",
}


def _choice_near(question, level: int) -> dict:
    """The choice whose level is nearest `level` (the lower one on a tie)."""
    return min(question.choices, key=lambda c: (abs(c["level"] - level), c["level"]))


def _answer_all(assessment, levels: dict[str, int], *, skip_prefilled: bool) -> None:
    from apps.assessments.models import Answer
    from apps.assessments.services import answer_save

    prefilled = set(
        Answer.objects.filter(assessment=assessment, source=Answer.Source.SIGNAL).values_list("question_id", flat=True)
    )
    for question in assessment.template_version.questions.select_related("dimension"):
        if skip_prefilled and question.pk in prefilled:
            continue
        level = levels[question.dimension.ref]
        choice = _choice_near(question, level)
        links = None
        if question.evidence == "required":
            links = [{"url": f"https://docs.example/{question.ref}", "title": "Working document"}]
        answer_save(assessment=assessment, question=question, choice_key=choice["key"], links=links)


def _override_one(assessment) -> None:
    """An assessor who knows better than the data: one prefilled answer moved a level down, with the reason."""
    from apps.assessments.models import Answer
    from apps.assessments.services import answer_save

    answer = (
        Answer.objects.filter(assessment=assessment, source=Answer.Source.SIGNAL, level__gte=3)
        .order_by("question_id")
        .first()
    )
    if answer is None:
        return
    question = answer.question
    lower = [c for c in question.choices if c["level"] < answer.level]
    if not lower:
        return
    answer_save(
        assessment=assessment,
        question=question,
        choice_key=max(lower, key=lambda c: c["level"])["key"],
        comment="Discussed with the client's operations lead.",
        override_reason="The data is there, but nobody acts on it yet outside month end.",
    )


def _roadmap_progress(items, today: dt.date) -> None:
    from apps.assessments.services import roadmap_item_save

    plan = [
        ("done", ENGINEER, "Delivered and verified with the client."),
        ("in_progress", ENGINEER, "Half of the work is in place."),
        ("planned", MANAGER, "Agreed at the last QBR."),
    ]
    for index, item in enumerate(items):
        status, owner, note = plan[index] if index < len(plan) else ("proposed", "", "")
        # Work still open is due in the coming months (the defaults count from the assessment, six months ago).
        due = today + dt.timedelta(days=30 * (index + 1)) if status != "done" else item.due_on
        roadmap_item_save(item=item, status=status, owner_email=owner, status_note=note, due_on=due)


def demo_assessments(clients) -> None:
    from apps.assessment_templates.library import templates_load_bundled
    from apps.assessment_templates.models import Template
    from apps.assessments.models import Assessment
    from apps.assessments.services import assessment_create, assessment_finalise, roadmap_generate

    with schema_context("public"), acting_as(source="command", user_email="demo-loader"):
        templates_load_bundled(loaded_by="demo-loader")
        version = Template.objects.select_related("current").get(key=TEMPLATE).current
    for slug, (before, after) in PROFILES.items():
        client = clients.get(slug)
        if client is None:
            continue
        with schema_context(client.schema_name), acting_as(source="command", user_email=MANAGER):
            if Assessment.objects.exists():
                continue
            today = timezone.now().astimezone(client.tz).date()
            first = assessment_create(
                template_version=version,
                title=f"Capability assessment {today - dt.timedelta(days=190):%B %Y}",
                assessed_on=today - dt.timedelta(days=190),
                assessors=[MANAGER],
                prefill=False,
            )
            _answer_all(first, dict(zip(DIMENSIONS, before, strict=True)), skip_prefilled=False)
            assessment_finalise(assessment=first)
            _roadmap_progress(roadmap_generate(assessment=first), today)

            second = assessment_create(
                template_version=version,
                title=f"Capability assessment {today - dt.timedelta(days=12):%B %Y}",
                assessed_on=today - dt.timedelta(days=12),
                assessors=[MANAGER, ENGINEER],
                prefill=True,
            )
            _answer_all(second, dict(zip(DIMENSIONS, after, strict=True)), skip_prefilled=True)
            _override_one(second)
            second.summary = SUMMARIES[slug]
            second.save(update_fields=["summary"])
            assessment_finalise(assessment=second)
            added = roadmap_generate(assessment=second)
            logger.info(
                "demo assessments for %s: %s → %s, %d roadmap items added",
                slug,
                first.overall_score,
                second.overall_score,
                len(added),
            )
