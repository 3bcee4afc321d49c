"""Assessment workflow: create (with prefill from platform signals), answer, score, review, finalise; target
profiles; roadmap items generated from gaps; the public-schema maturity rollup. Every write is audited."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import connection, transaction
from django.utils import timezone

from apps.assessment_templates.models import Dimension, Question, Template, TemplateVersion
from apps.audit.services import audit_record
from apps.core.context import actor_label

from . import scoring
from .models import Answer, Assessment, RoadmapItem, TargetProfile
from .signals import SIGNALS, SignalReading, read_signal

logger = logging.getLogger(__name__)

MAX_COMMENT = 5000
MAX_LINKS = 20
# Roadmap defaults: due dates by priority, from the assessment day.
PRIORITY_HIGH, PRIORITY_MEDIUM = Decimal(20), Decimal(10)
DUE_DAYS = {RoadmapItem.Priority.HIGH: 90, RoadmapItem.Priority.MEDIUM: 180, RoadmapItem.Priority.LOW: 270}


class AssessmentLocked(ValidationError):
    """A final assessment is frozen: answers, scores and targets no longer change."""


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _editable(assessment: Assessment) -> None:
    if assessment.is_final:
        raise AssessmentLocked(
            "This assessment is final and can no longer change. Start a new assessment from it to record progress."
        )


def _clean_emails(values, field: str, errors: dict) -> list[str]:
    cleaned = []
    for value in values or []:
        value = (value or "").strip().lower()
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError:
            errors[field] = f"“{value[:80]}” is not an email address."
            continue
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _assessment_state(assessment: Assessment) -> dict:
    return {
        "title": assessment.title,
        "assessed_on": str(assessment.assessed_on),
        "status": assessment.status,
        "template": assessment.template_version.template.key,
        "template_version": assessment.template_version.version,
        "assessors": assessment.assessors,
        "overall_score": str(assessment.overall_score) if assessment.overall_score is not None else None,
    }


# --- targets -----------------------------------------------------------------------------------------------------


def template_default_targets(version: TemplateVersion) -> dict[str, int]:
    levels = (version.target_profile or {}).get("levels", {})
    return {d.ref: int(levels.get(d.ref, 4)) for d in version.dimensions.all()}


def target_profile_for(template: Template) -> TargetProfile | None:
    return TargetProfile.objects.filter(template_id=template.pk).first()


def targets_for(version: TemplateVersion) -> dict[str, int]:
    """The client's targets for this version's dimensions: its own profile where set, the template's default else."""
    targets = template_default_targets(version)
    profile = target_profile_for(version.template)
    if profile is not None:
        targets.update({ref: int(level) for ref, level in profile.levels.items() if ref in targets})
    return targets


def target_profile_save(*, template: Template, levels: dict, name: str = "") -> TargetProfile:
    """Set the client's target level per dimension; open (not final) assessments of the template re-score."""
    version = template.current
    refs = set(version.dimensions.values_list("ref", flat=True))
    errors, clean = {}, {}
    for ref, level in (levels or {}).items():
        if ref not in refs:
            errors[f"levels.{ref}"] = "Not a dimension of this template."
            continue
        try:
            level = int(level)
        except (TypeError, ValueError):
            level = 0
        if not 1 <= level <= 5:
            errors[f"levels.{ref}"] = "A target level is 1 to 5."
            continue
        clean[ref] = level
    _raise(errors)
    with transaction.atomic():
        profile = target_profile_for(template)
        before = dict(profile.levels) if profile else None
        if profile is None:
            profile = TargetProfile(template_id=template.pk)
        profile.name = (name or "").strip()[:200] or (version.target_profile or {}).get("name") or "Target profile"
        profile.levels = {**(profile.levels or {}), **clean}
        profile.updated_by = actor_label()
        profile.save()
        audit_record(
            action="assessment.target_save",
            target=profile,
            before=before and {"levels": before},
            after={"name": profile.name, "levels": profile.levels},
        )
        for assessment in (
            Assessment.objects.exclude(status=Assessment.Status.FINAL)
            .filter(template_version__template_id=template.pk)
            .select_related("template_version")
        ):
            assessment.target_levels = targets_for(assessment.template_version)
            assessment.save(update_fields=["target_levels"])
            assessment_score(assessment)
    return profile


# --- assessments -------------------------------------------------------------------------------------------------


def assessment_create(
    *,
    template_version: TemplateVersion,
    title: str,
    assessed_on: dt.date,
    assessors=(),
    prefill: bool = True,
    copy_answers_from: Assessment | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    errors: dict[str, str] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = "Give the assessment a title."
    if not isinstance(assessed_on, dt.date):
        errors["assessed_on"] = "Give the day the assessment describes."
    assessors = _clean_emails(assessors, "assessors", errors)
    _raise(errors)
    previous = (
        Assessment.objects.filter(
            status=Assessment.Status.FINAL,
            assessed_on__lte=assessed_on,
            template_version__template_id=template_version.template_id,
        )
        .order_by("-assessed_on", "-pk")
        .first()
    )
    with transaction.atomic():
        assessment = Assessment.objects.create(
            template_version=template_version,
            title=title[:200],
            assessed_on=assessed_on,
            assessors=assessors or ([actor_label()] if "@" in actor_label() else []),
            previous=previous,
            target_levels=targets_for(template_version),
            created_by=actor_label(),
        )
        if copy_answers_from is not None:
            _copy_answers(copy_answers_from, assessment)
        audit_record(action="assessment.create", target=assessment, after=_assessment_state(assessment))
        if prefill:
            assessment_prefill(assessment, now=now, rescore=False)
        assessment_score(assessment)
    return assessment


def _copy_answers(source: Assessment, target: Assessment) -> None:
    """Carry manual answers over to a new assessment, by question ref (the versions may differ)."""
    questions = {q.ref: q for q in target.template_version.questions.all()}
    old = Answer.objects.filter(assessment=source).exclude(source=Answer.Source.SIGNAL)
    old_refs = dict(Question.objects.filter(pk__in=[a.question_id for a in old]).values_list("pk", "ref"))
    for answer in old:
        question = questions.get(old_refs.get(answer.question_id))
        if question is None or (answer.choice_key and question.choice(answer.choice_key) is None):
            continue
        if answer.is_na and not question.allow_na:
            continue
        copy = Answer.objects.create(
            assessment=target,
            question=question,
            choice_key=answer.choice_key,
            level=answer.level,
            is_na=answer.is_na,
            comment=answer.comment,
            links=answer.links,
            answered_by=answer.answered_by,
            answered_at=answer.answered_at,
        )
        copy.evidence.set(answer.evidence.all())


def assessment_update(
    *, assessment: Assessment, title=None, assessed_on=None, assessors=None, summary=None, reviewer_email=None
) -> Assessment:
    _editable(assessment)
    before = _assessment_state(assessment)
    errors: dict[str, str] = {}
    if title is not None:
        title = title.strip()
        if not title:
            errors["title"] = "Give the assessment a title."
        assessment.title = title[:200]
    if assessed_on is not None:
        assessment.assessed_on = assessed_on
    if assessors is not None:
        assessment.assessors = _clean_emails(assessors, "assessors", errors)
    if reviewer_email is not None:
        cleaned = _clean_emails([reviewer_email], "reviewer_email", errors)
        assessment.reviewer_email = cleaned[0] if cleaned else ""
    if summary is not None:
        assessment.summary = summary.strip()[:MAX_COMMENT]
    _raise(errors)
    with transaction.atomic():
        assessment.save()
        audit_record(action="assessment.update", target=assessment, before=before, after=_assessment_state(assessment))
    return assessment


def _signal_fields(reading: SignalReading, question: Question, now: dt.datetime) -> dict:
    choice = question.choice_for_level(reading.level)
    return {
        "signal_key": reading.key,
        "signal_level": reading.level,
        "signal_choice_key": choice["key"],
        "signal_summary": reading.summary,
        "signal_source": reading.source[:120],
        "signal_url": reading.source_url[:300],
        "signal_observed": reading.observed,
        "signal_read_at": now,
    }


def assessment_prefill(assessment: Assessment, *, now: dt.datetime | None = None, rescore: bool = True) -> dict:
    """Read each signal the template's questions name and prefill those answers. An assessor's own answer is
    never replaced; the signal's reading is still recorded next to it (an override keeps what Keel saw)."""
    _editable(assessment)
    now = now or timezone.now()
    questions = [q for q in assessment.template_version.questions.all() if q.signal in SIGNALS]
    existing = {a.question_id: a for a in Answer.objects.filter(assessment=assessment, question__in=questions)}
    counts = {"prefilled": 0, "kept": 0, "no_data": 0}
    readings: dict[str, SignalReading | None] = {}
    with transaction.atomic():
        for question in questions:
            if question.signal not in readings:
                try:
                    readings[question.signal] = read_signal(question.signal, now=now)
                except Exception:  # one broken signal must not stop an assessment: the assessor answers it
                    logger.exception("assessment signal %s failed", question.signal)
                    readings[question.signal] = None
            reading = readings[question.signal]
            answer = existing.get(question.pk)
            if reading is None:
                counts["no_data"] += 1
                continue
            fields = _signal_fields(reading, question, now)
            # Replaceable: no answer, Keel's own, or one carried over from the last assessment and not touched
            # since (Keel's fresh reading says more than last time's answer).
            carried = (
                answer is not None and answer.answered_at is not None and answer.answered_at < assessment.created_at
            )
            if answer is None or answer.source == Answer.Source.SIGNAL or not answer.answered or carried:
                choice = question.choice(fields["signal_choice_key"])
                values = {
                    **fields,
                    "choice_key": choice["key"],
                    "level": choice["level"],
                    "is_na": False,
                    "source": Answer.Source.SIGNAL,
                    "override_reason": "",
                    "answered_by": "Keel",
                    "answered_at": now,
                }
                Answer.objects.update_or_create(assessment=assessment, question=question, defaults=values)
                counts["prefilled"] += 1
            else:
                for name, value in fields.items():
                    setattr(answer, name, value)
                answer.save(update_fields=list(fields))
                counts["kept"] += 1
        audit_record(
            action="assessment.prefill",
            target=assessment,
            after={**counts, "signals": {k: (r.level if r else None) for k, r in readings.items()}},
        )
    if rescore:
        assessment_score(assessment)
    return counts


def _clean_links(links, errors: dict) -> list[dict]:
    clean = []
    validator = URLValidator(schemes=["http", "https"])
    for item in list(links or [])[: MAX_LINKS + 1]:
        url = (item.get("url") if isinstance(item, dict) else str(item or "")).strip()
        if not url:
            continue
        try:
            validator(url)
        except ValidationError:
            errors["links"] = f"“{url[:80]}” is not an http(s) link."
            continue
        title = (item.get("title", "") if isinstance(item, dict) else "").strip()[:200]
        clean.append({"url": url[:1000], "title": title})
    if len(clean) > MAX_LINKS:
        errors["links"] = f"At most {MAX_LINKS} links per answer."
    return clean


def answer_save(
    *,
    assessment: Assessment,
    question: Question,
    choice_key: str = "",
    is_na: bool = False,
    comment: str | None = None,
    override_reason: str = "",
    links=None,
    evidence=None,
) -> Answer:
    """Record one answer. Changing a prefilled answer to another choice is an override and needs a reason; the
    signal's reading stays on the answer. An empty choice (and not N/A) clears the answer."""
    _editable(assessment)
    if question.version_id != assessment.template_version_id:
        raise ValidationError({"question": "That question is not part of this assessment's template."})
    errors: dict[str, str] = {}
    choice = question.choice(choice_key) if choice_key else None
    if choice_key and choice is None:
        errors["choice_key"] = f"“{choice_key[:60]}” is not one of this question's choices."
    if is_na and not question.allow_na:
        errors["is_na"] = "This question cannot be marked not applicable."
    if is_na and choice_key:
        errors["choice_key"] = "Choose an answer or mark it not applicable, not both."
    if comment is not None and len(comment) > MAX_COMMENT:
        errors["comment"] = f"At most {MAX_COMMENT} characters."
    clean_links = _clean_links(links, errors) if links is not None else None
    _raise(errors)
    answer = Answer.objects.filter(assessment=assessment, question=question).first()
    before = _answer_state(answer) if answer else None
    if answer is None:
        answer = Answer(assessment=assessment, question=question)
    answer.choice_key = choice["key"] if choice else ""
    answer.level = choice["level"] if choice else None
    answer.is_na = bool(is_na)
    if comment is not None:
        answer.comment = comment.strip()
    if clean_links is not None:
        answer.links = clean_links
    # Only Keel's own answer (or an override of it) is overridden: an assessor's answer that Keel read
    # differently stays the assessor's, and re-saving it asks for no reason.
    keels = answer.signal_key and answer.source in (Answer.Source.SIGNAL, Answer.Source.OVERRIDDEN)
    if keels and (answer.choice_key != answer.signal_choice_key or answer.is_na):
        reason = (override_reason or "").strip() or (
            answer.override_reason if answer.source == Answer.Source.OVERRIDDEN else ""
        )
        if not reason:
            raise ValidationError(
                {"override_reason": "Keel prefilled this answer from its own data; say why you choose another answer."}
            )
        answer.source, answer.override_reason = Answer.Source.OVERRIDDEN, reason[:MAX_COMMENT]
    elif keels:
        answer.source, answer.override_reason = Answer.Source.SIGNAL, ""
    else:
        answer.source = Answer.Source.MANUAL
    answer.answered_by = actor_label()
    answer.answered_at = timezone.now()
    with transaction.atomic():
        answer.save()
        if evidence is not None:
            answer.evidence.set(list(evidence))
        audit_record(
            action="assessment.answer",
            target=assessment,
            object_repr=f"{assessment} · {question.ref}",
            before=before,
            after=_answer_state(answer),
        )
    assessment_score(assessment)
    return answer


def _answer_state(answer: Answer) -> dict:
    return {
        "question": answer.question.ref if answer.question_id else None,
        "choice": answer.choice_key,
        "level": answer.level,
        "not_applicable": answer.is_na,
        "source": answer.source,
        "override_reason": answer.override_reason,
        "comment": answer.comment[:500],
        "links": len(answer.links or []),
        "evidence": sorted(answer.evidence.values_list("pk", flat=True)) if answer.pk else [],
    }


def answer_attach_upload(*, answer: Answer, file, title: str = "", effective_date: dt.date | None = None):
    """An uploaded file becomes evidence in the client's compliance register (checked, stored, hashed there)
    and is linked to the answer, so the same proof can serve a control too."""
    from apps.compliance.services import evidence_create

    _editable(answer.assessment)
    question = answer.question
    evidence = evidence_create(
        title=(title or "").strip() or f"Assessment: {question.text[:150]}",
        effective_date=effective_date or answer.assessment.assessed_on,
        file=file,
        description=f"Attached to the assessment “{answer.assessment.title}”, question {question.ref}.",
    )
    answer.evidence.add(evidence)
    audit_record(
        action="assessment.evidence_attach",
        target=answer.assessment,
        after={"question": question.ref, "evidence": evidence.pk, "title": evidence.title},
    )
    return evidence


def answer_views(assessment: Assessment) -> tuple[list, list, dict]:
    version = assessment.template_version
    dimensions = [scoring.DimensionView(d.ref, d.name, d.weight) for d in version.dimensions.all()]
    refs = dict(Dimension.objects.filter(version=version).values_list("pk", "ref"))
    questions = [
        scoring.QuestionView(q.pk, q.ref, refs[q.dimension_id], q.weight, q.required, q.hard_question, q.choices)
        for q in version.questions.all()
    ]
    answers = {
        a.question_id: scoring.AnswerView(a.question_id, a.level, a.is_na, a.choice_key)
        for a in Answer.objects.filter(assessment=assessment)
    }
    return dimensions, questions, answers


def assessment_score(assessment: Assessment) -> Assessment:
    """Recompute and store the assessment's results (never on a final one: its figures are frozen)."""
    if assessment.is_final:
        return assessment
    dimensions, questions, answers = answer_views(assessment)
    results = scoring.score(dimensions, questions, answers, assessment.target_levels)
    assessment.results = results
    assessment.overall_score = Decimal(results["overall_score"]) if results["overall_score"] is not None else None
    assessment.computed_at = timezone.now()
    assessment.save(update_fields=["results", "overall_score", "computed_at"])
    return assessment


def _finalise_problems(assessment: Assessment) -> list[str]:
    problems = []
    version = assessment.template_version
    answers = {a.question_id: a for a in Answer.objects.filter(assessment=assessment).prefetch_related("evidence")}
    missing = [q for q in version.questions.all() if q.required and not (answers.get(q.pk) and answers[q.pk].answered)]
    if missing:
        names = ", ".join(q.ref for q in missing[:5]) + (" …" if len(missing) > 5 else "")
        problems.append(f"{len(missing)} required question(s) are not answered: {names}.")
    no_evidence = [
        q
        for q in version.questions.all()
        if q.evidence == Question.Evidence.REQUIRED
        and q.pk in answers
        and not answers[q.pk].is_na
        and answers[q.pk].answered
        and not answers[q.pk].evidence.all()
        and not answers[q.pk].links
        and answers[q.pk].source != Answer.Source.SIGNAL
    ]
    if no_evidence:
        names = ", ".join(q.ref for q in no_evidence[:5]) + (" …" if len(no_evidence) > 5 else "")
        problems.append(f"{len(no_evidence)} answer(s) need evidence (a file or a link): {names}.")
    return problems


def assessment_submit(*, assessment: Assessment) -> Assessment:
    """Draft → in review: the assessors are done; a reviewer checks before it is final."""
    _editable(assessment)
    if assessment.status != Assessment.Status.DRAFT:
        raise ValidationError("Only a draft can be submitted for review.")
    problems = _finalise_problems(assessment)
    if problems:
        raise ValidationError(problems)
    before = _assessment_state(assessment)
    assessment.status = Assessment.Status.IN_REVIEW
    assessment.submitted_at, assessment.submitted_by = timezone.now(), actor_label()
    with transaction.atomic():
        assessment.save(update_fields=["status", "submitted_at", "submitted_by"])
        audit_record(action="assessment.submit", target=assessment, before=before, after=_assessment_state(assessment))
    return assessment


def assessment_return(*, assessment: Assessment, note: str = "") -> Assessment:
    """In review → draft (the reviewer sends it back)."""
    _editable(assessment)
    if assessment.status != Assessment.Status.IN_REVIEW:
        raise ValidationError("Only an assessment in review can be sent back to draft.")
    assessment.status = Assessment.Status.DRAFT
    with transaction.atomic():
        assessment.save(update_fields=["status"])
        audit_record(action="assessment.return", target=assessment, after={"status": "draft", "note": note[:1000]})
    return assessment


def assessment_finalise(*, assessment: Assessment) -> Assessment:
    """In review (or draft) → final: scores, targets and answers are frozen from here on."""
    _editable(assessment)
    problems = _finalise_problems(assessment)
    if problems:
        raise ValidationError(problems)
    assessment_score(assessment)
    before = _assessment_state(assessment)
    with transaction.atomic():
        assessment.status = Assessment.Status.FINAL
        assessment.finalised_at, assessment.finalised_by = timezone.now(), actor_label()
        if not assessment.reviewer_email and "@" in actor_label():
            assessment.reviewer_email = actor_label()
        assessment.save(update_fields=["status", "finalised_at", "finalised_by", "reviewer_email"])
        audit_record(
            action="assessment.finalise",
            target=assessment,
            before=before,
            after={**_assessment_state(assessment), "results": assessment.results},
        )
    maturity_rollup_refresh()
    return assessment


# --- roadmap -----------------------------------------------------------------------------------------------------


def _priority(score: Decimal) -> str:
    """From weight × gap (weights are shares of 100): a heavy dimension two levels short is high, one level
    short medium, less than that low."""
    if score >= PRIORITY_HIGH:
        return RoadmapItem.Priority.HIGH
    if score >= PRIORITY_MEDIUM:
        return RoadmapItem.Priority.MEDIUM
    return RoadmapItem.Priority.LOW


def roadmap_generate(*, assessment: Assessment) -> list[RoadmapItem]:
    """One item per gap (biggest weight × gap first) that has no open item yet, with the template's
    recommendation for the next level up. Idempotent: a second run adds nothing."""
    version = assessment.template_version
    dims = {d.ref: d for d in version.dimensions.all()}
    open_refs = set(
        RoadmapItem.objects.filter(template_id=version.template_id, status__in=RoadmapItem.OPEN_STATUSES).values_list(
            "dimension_ref", flat=True
        )
    )
    rows = {row["ref"]: row for row in assessment.results.get("dimensions", [])}
    created = []
    with transaction.atomic():
        for ref in assessment.results.get("gaps", []):
            if ref in open_refs or ref not in dims:
                continue
            row, dimension = rows[ref], dims[ref]
            level = Decimal(row["level"])
            next_level = min(int(row["target"]), int(level) + 1)
            advice = dimension.recommendation(next_level) or {}
            priority = _priority(Decimal(row["priority"]))
            item = RoadmapItem.objects.create(
                assessment=assessment,
                template_id=version.template_id,
                dimension_ref=ref,
                dimension_name=dimension.name,
                from_level=level,
                target_level=int(row["target"]),
                title=(advice.get("title") or f"Raise {dimension.name} to level {next_level}")[:200],
                detail=advice.get("detail") or dimension.descriptor(next_level),
                priority=priority,
                priority_score=Decimal(row["priority"]),
                effort=advice.get("effort") or RoadmapItem.Effort.MEDIUM,
                due_on=assessment.assessed_on + dt.timedelta(days=DUE_DAYS[priority]),
                created_by=actor_label(),
            )
            audit_record(action="assessment.roadmap_create", target=item, after=_item_state(item))
            created.append(item)
    if assessment.is_final:
        maturity_rollup_refresh()
    return created


def _item_state(item: RoadmapItem) -> dict:
    return {
        "title": item.title,
        "dimension": item.dimension_ref,
        "priority": item.priority,
        "effort": item.effort,
        "owner_email": item.owner_email,
        "due_on": str(item.due_on) if item.due_on else None,
        "status": item.status,
    }


ITEM_FIELDS = ("title", "detail", "priority", "effort", "owner_email", "due_on", "status", "status_note")


def roadmap_item_save(*, item: RoadmapItem, **changes) -> RoadmapItem:
    errors: dict[str, str] = {}
    before = _item_state(item) if item.pk else None
    for name, value in changes.items():
        if name not in ITEM_FIELDS or value is None:
            continue
        if name == "title":
            value = value.strip()
            if not value:
                errors["title"] = "Give the item a title."
            value = value[:200]
        elif name == "owner_email":
            cleaned = _clean_emails([value], "owner_email", errors)
            value = cleaned[0] if cleaned else ""
        elif name == "priority" and value not in RoadmapItem.Priority.values:
            errors["priority"] = "Priority is high, medium or low."
        elif name == "effort" and value not in RoadmapItem.Effort.values:
            errors["effort"] = "Effort is small, medium or large."
        elif name == "status" and value not in RoadmapItem.Status.values:
            errors["status"] = "Not a roadmap status."
        elif name in ("detail", "status_note"):
            value = value.strip()[:MAX_COMMENT]
        setattr(item, name, value)
    _raise(errors)
    if item.status == RoadmapItem.Status.DONE and item.completed_on is None:
        item.completed_on = timezone.now().date()
    elif item.status != RoadmapItem.Status.DONE:
        item.completed_on = None
    if not item.created_by:
        item.created_by = actor_label()
    with transaction.atomic():
        item.save()
        audit_record(
            action="assessment.roadmap_update" if before else "assessment.roadmap_create",
            target=item,
            before=before,
            after=_item_state(item),
        )
        if before and (not item.is_open or (item.due_on and item.due_on >= timezone.now().date())):
            from apps.alerts.services import alert_resolve_condition

            alert_resolve_condition(dedup_key=_overdue_key(item.pk), note="The roadmap item is no longer overdue.")
    maturity_rollup_refresh()
    return item


def roadmap_item_create(*, template: Template, dimension_ref: str, title: str, **fields) -> RoadmapItem:
    dimension = template.current.dimensions.filter(ref=dimension_ref).first()
    if dimension is None:
        raise ValidationError({"dimension_ref": "Not a dimension of this template."})
    item = RoadmapItem(template_id=template.pk, dimension_ref=dimension.ref, dimension_name=dimension.name)
    return roadmap_item_save(item=item, title=title, **fields)


# --- the portfolio's public-schema rollup ------------------------------------------------------------------------


def maturity_rollup_refresh() -> None:
    """Copy the latest final assessment and the roadmap's counts to portfolio.ClientMaturity (public schema)."""
    from apps.portfolio.models import ClientMaturity
    from apps.tenancy.models import Client

    client = Client.objects.filter(schema_name=connection.schema_name).first()
    if client is None:
        return
    latest = (
        Assessment.objects.filter(status=Assessment.Status.FINAL)
        .select_related("template_version__template")
        .order_by("-assessed_on", "-pk")
        .first()
    )
    if latest is None:
        ClientMaturity.objects.filter(client=client).delete()
        return
    previous = (
        Assessment.objects.filter(
            status=Assessment.Status.FINAL,
            assessed_on__lt=latest.assessed_on,
            template_version__template_id=latest.template_version.template_id,
        )
        .order_by("-assessed_on", "-pk")
        .first()
    )
    today = timezone.now().date()
    items = RoadmapItem.objects.filter(template_id=latest.template_version.template_id)
    hard = latest.results.get("hard_questions", {})
    ClientMaturity.objects.update_or_create(
        client=client,
        defaults={
            "template_key": latest.template_version.template.key,
            "template_name": latest.template_version.name,
            "assessment_id": latest.pk,
            "assessed_on": latest.assessed_on,
            "score": latest.overall_score or Decimal(0),
            "previous_score": previous.overall_score if previous else None,
            "previous_assessed_on": previous.assessed_on if previous else None,
            "dimensions": [
                {"ref": r["ref"], "name": r["name"], "level": r["level"], "target": r["target"]}
                for r in latest.results.get("dimensions", [])
            ],
            "red_flags": hard.get("red_flags", 0),
            "hard_questions_satisfied": hard.get("satisfied", 0),
            "hard_questions_total": hard.get("total", 0),
            "roadmap_open": items.filter(status__in=RoadmapItem.OPEN_STATUSES).count(),
            "roadmap_overdue": items.filter(status__in=RoadmapItem.OPEN_STATUSES, due_on__lt=today).count(),
            "roadmap_done": items.filter(status=RoadmapItem.Status.DONE).count(),
        },
    )


# --- the daily roadmap check -------------------------------------------------------------------------------------

OVERDUE_KIND = "roadmap_overdue"


def _overdue_key(item_id: int) -> str:
    return f"roadmap-overdue:{item_id}"


def roadmap_check(*, today: dt.date | None = None) -> dict:
    """Daily: one alert per open roadmap item past its due date (assigned to its owner), cleared when the item is
    done, dropped or rescheduled; then the portfolio rollup, whose overdue count moves with the calendar."""
    from apps.alerts.models import Alert
    from apps.alerts.services import alert_assign, alert_raise, alert_resolve_condition
    from apps.compliance.selectors import client_today

    today = today or client_today()
    overdue = list(RoadmapItem.objects.filter(status__in=RoadmapItem.OPEN_STATUSES, due_on__lt=today))
    for item in overdue:
        days = (today - item.due_on).days
        alert = alert_raise(
            kind=OVERDUE_KIND,
            severity="low",
            subject=f"Roadmap item overdue: {item.title}"[:300],
            body=f"{item.dimension_name}: due {item.due_on:%-d %b %Y}, {days} day{'s' if days != 1 else ''} ago; "
            f"status {item.get_status_display().lower()}. Finish it, or move its due date.",
            dedup_key=_overdue_key(item.pk),
            link=f"/assessments/roadmap/{item.pk}/",
            data={"roadmap_item_id": item.pk, "due_on": item.due_on.isoformat()},
        )
        if item.owner_email and not alert.owner_email:
            alert_assign(alert=alert, owner_email=item.owner_email)
    still = {_overdue_key(item.pk) for item in overdue}
    cleared = 0
    for key in (
        Alert.objects.filter(kind=OVERDUE_KIND).exclude(state=Alert.State.RESOLVED).values_list("dedup_key", flat=True)
    ):
        if key not in still:
            alert_resolve_condition(dedup_key=key, note="The roadmap item is no longer overdue.")
            cleared += 1
    maturity_rollup_refresh()
    return {"overdue": len(overdue), "cleared": cleared}
