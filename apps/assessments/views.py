"""Portal pages of a client's capability assessments (/c/<slug>/assessments/). Reading needs `view` (client
executives read them too); changing needs `edit`. Reads go through selectors, writes through services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.assessment_templates.models import Question, Template, TemplateVersion
from apps.compliance.models import Evidence
from apps.compliance.selectors import client_today
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required

from . import report, services
from .charts import radar_figure
from .forms import AssessmentEditForm, AssessmentForm, RoadmapItemForm, UploadForm
from .models import Assessment, RoadmapItem
from .selectors import (
    assessment_get,
    assessment_sheet,
    assessments_list,
    assessments_with_versions,
    comparison,
    gap_rows,
    roadmap_items,
    roadmap_summary,
    templates_available,
)


def _can_edit(request) -> bool:
    return request.access.can(Cap.EDIT)


def _assessment_or_404(pk) -> Assessment:
    assessment = assessment_get(pk)
    if assessment is None:
        raise Http404("No such assessment.")
    return assessment


def _flash_error(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@capability_required(Cap.VIEW)
def assessment_list(request):
    assessments = assessments_with_versions(assessments_list())
    finals = [a for a in assessments if a.is_final]
    templates = {a.template_version.template_id: a.template_version.template for a in assessments}
    for template in templates_available():
        templates.setdefault(template.pk, template)
    latest = finals[0] if finals else None
    return render(
        request,
        "assessments/list.html",
        {
            "assessments": assessments,
            "latest": latest,
            "latest_delta": (
                latest.overall_score - latest.previous.overall_score
                if latest and latest.previous and latest.previous.overall_score is not None
                else None
            ),
            "radar": radar_figure(latest, latest.previous, height=380) if latest else None,
            "roadmap": roadmap_summary(),
            "templates": list(templates.values()),
            "can_edit": _can_edit(request),
            "compare_default": (finals[1].pk, finals[0].pk) if len(finals) > 1 else None,
        },
    )


@capability_required(Cap.EDIT)
def assessment_new(request):
    versions = TemplateVersion.objects.filter(pk__in=Template.objects.exclude(current=None).values("current_id"))
    last_final = assessments_list().filter(status=Assessment.Status.FINAL).first()
    initial = {
        "title": f"Capability assessment {client_today():%B %Y}",
        "assessed_on": client_today(),
        "assessors": request.user.email,
        "template_version": versions.first(),
    }
    form = AssessmentForm(request.POST or None, initial=initial, versions=versions)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assessment = services.assessment_create(
                template_version=data["template_version"],
                title=data["title"],
                assessed_on=data["assessed_on"],
                assessors=data["assessors"],
                prefill=data["prefill"],
                copy_answers_from=last_final if data["copy_previous"] else None,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            answered = assessment.results.get("answered", 0)
            messages.success(
                request,
                f"Assessment started: {answered} of {assessment.results.get('questions', 0)} "
                "questions already answered from Keel's data and the last assessment.",
            )
            return redirect("assessments:detail", pk=assessment.pk)
    return render(request, "assessments/new.html", {"form": form, "last_final": last_final})


@capability_required(Cap.VIEW)
def assessment_detail(request, pk):
    return _render_detail(request, _assessment_or_404(pk))


def _render_detail(request, assessment, *, failed=None, status=200):
    """The question sheet. `failed`: (question id, messages, the POSTed values) of an answer that was refused,
    shown next to that question with what the assessor had entered."""
    can_edit = _can_edit(request) and not assessment.is_final
    sheet = assessment_sheet(assessment)
    if failed is not None:
        question_id, errors, posted = failed
        for dimension in sheet:
            for row in dimension.questions:
                if row.question.pk == question_id:
                    row.errors, row.posted = errors, posted
    evidence_choices = (
        list(Evidence.objects.exclude(status=Evidence.Status.REJECTED).order_by("title")[:500]) if can_edit else []
    )
    return render(
        request,
        "assessments/detail.html",
        {
            "assessment": assessment,
            "version": assessment.template_version,
            "sheet": sheet,
            "gaps": gap_rows(assessment),
            "hard": assessment.results.get("hard_questions", {}),
            "radar": radar_figure(assessment, assessment.previous),
            "can_edit": can_edit,
            "can_manage": _can_edit(request),
            "evidence_choices": evidence_choices,
            "levels": assessment.template_version.levels,
        },
        status=status,
    )


@require_POST
@capability_required(Cap.EDIT)
def answer_save(request, pk, question_id):
    assessment = _assessment_or_404(pk)
    question = Question.objects.filter(pk=question_id, version_id=assessment.template_version_id).first()
    if question is None:
        raise Http404("No such question in this assessment.")
    choice = request.POST.get("choice", "")
    is_na = choice == "__na__"
    links = [{"url": url, "title": ""} for url in request.POST.getlist("link") if url.strip()]
    evidence_ids = [int(v) for v in request.POST.getlist("evidence") if v.isdigit()]
    try:
        services.answer_save(
            assessment=assessment,
            question=question,
            choice_key="" if is_na else choice,
            is_na=is_na,
            comment=request.POST.get("comment", ""),
            override_reason=request.POST.get("override_reason", ""),
            links=links,
            evidence=Evidence.objects.filter(pk__in=evidence_ids),
        )
    except ValidationError as exc:
        posted = {
            "choice": choice,
            "comment": request.POST.get("comment", ""),
            "override_reason": request.POST.get("override_reason", ""),
        }
        return _render_detail(request, assessment, failed=(question.pk, exc.messages, posted), status=400)
    messages.success(request, f"Answer saved: {question.text[:80]}")
    return redirect(reverse("assessments:detail", args=[assessment.pk]) + f"#q-{question.ref}")


@require_POST
@capability_required(Cap.EDIT)
def answer_upload(request, pk, question_id):
    assessment = _assessment_or_404(pk)
    question = Question.objects.filter(pk=question_id, version_id=assessment.template_version_id).first()
    if question is None:
        raise Http404("No such question in this assessment.")
    form = UploadForm(request.POST, request.FILES)
    anchor = reverse("assessments:detail", args=[assessment.pk]) + f"#q-{question.ref}"
    if not form.is_valid():
        messages.error(request, "Choose a file to attach.")
        return redirect(anchor)
    try:
        answer = assessment.answers.filter(question=question).first()
        if answer is None:
            raise ValidationError("Answer the question before attaching evidence to it.")
        evidence = services.answer_attach_upload(
            answer=answer, file=form.cleaned_data["file"], title=form.cleaned_data["title"]
        )
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(request, f"“{evidence.title}” attached (kept in the evidence register as a draft).")
    return redirect(anchor)


@require_POST
@capability_required(Cap.EDIT)
def assessment_prefill(request, pk):
    assessment = _assessment_or_404(pk)
    try:
        counts = services.assessment_prefill(assessment)
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(
            request,
            f"Read Keel's data again: {counts['prefilled']} answer(s) prefilled, {counts['kept']} of yours kept, "
            f"{counts['no_data']} signal(s) without data.",
        )
    return redirect("assessments:detail", pk=assessment.pk)


@capability_required(Cap.EDIT)
def assessment_edit(request, pk):
    assessment = _assessment_or_404(pk)
    if assessment.is_final:
        messages.error(request, "A final assessment can no longer change.")
        return redirect("assessments:detail", pk=pk)
    initial = {
        "title": assessment.title,
        "assessed_on": assessment.assessed_on,
        "assessors": ", ".join(assessment.assessors),
        "reviewer_email": assessment.reviewer_email,
        "summary": assessment.summary,
    }
    form = AssessmentEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.assessment_update(assessment=assessment, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Assessment details saved.")
            return redirect("assessments:detail", pk=pk)
    return render(request, "assessments/edit.html", {"form": form, "assessment": assessment})


def _transition(request, pk, action, done: str):
    assessment = _assessment_or_404(pk)
    try:
        action(assessment=assessment)
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(request, done)
    return redirect("assessments:detail", pk=pk)


@require_POST
@capability_required(Cap.EDIT)
def assessment_submit(request, pk):
    return _transition(request, pk, services.assessment_submit, "Submitted for review.")


@require_POST
@capability_required(Cap.EDIT)
def assessment_return(request, pk):
    return _transition(request, pk, services.assessment_return, "Sent back to draft.")


@require_POST
@capability_required(Cap.EDIT)
def assessment_finalise(request, pk):
    return _transition(request, pk, services.assessment_finalise, "Assessment is final: its scores are frozen.")


@require_POST
@capability_required(Cap.EDIT)
def roadmap_generate(request, pk):
    assessment = _assessment_or_404(pk)
    created = services.roadmap_generate(assessment=assessment)
    if created:
        messages.success(request, f"{len(created)} roadmap item(s) added from the gaps.")
    else:
        messages.info(request, "No new roadmap items: every gap already has open work.")
    return redirect("assessments:roadmap")


@capability_required(Cap.VIEW)
def assessment_compare(request):
    assessments = assessments_with_versions(assessments_list())
    by_pk = {str(a.pk): a for a in assessments}
    older, newer = by_pk.get(request.GET.get("a", "")), by_pk.get(request.GET.get("b", ""))
    problem = ""
    if older is None or newer is None:
        finals = [a for a in assessments if a.is_final] or assessments
        if len(finals) >= 2:
            newer, older = newer or finals[0], older or finals[1]
        if request.GET.get("a") or request.GET.get("b"):
            problem = "One of the chosen assessments does not exist here; the latest two are shown."
    if older is not None and newer is not None and older.assessed_on > newer.assessed_on:
        older, newer = newer, older
    result = comparison(older, newer) if older is not None and newer is not None and older != newer else None
    return render(
        request,
        "assessments/compare.html",
        {
            "assessments": assessments,
            "result": result,
            "problem": problem,
            "radar": radar_figure(newer, older) if result else None,
        },
    )


@capability_required(Cap.VIEW)
def target_profile(request, template_id):
    template = Template.objects.select_related("current").filter(key=template_id).exclude(current=None).first()
    if template is None:
        raise Http404("No such template.")
    version = template.current
    targets = services.targets_for(version)
    dimensions = list(version.dimensions.all())
    profile = services.target_profile_for(template)
    if request.method == "POST":
        if not _can_edit(request):
            raise Http404
        levels = {d.ref: request.POST.get(f"level-{d.ref}", "") for d in dimensions}
        try:
            services.target_profile_save(template=template, levels=levels, name=request.POST.get("name", ""))
        except ValidationError as exc:
            _flash_error(request, exc)
        else:
            messages.success(request, "Target profile saved; open assessments re-scored against it.")
            return redirect("assessments:list")
    rows = [
        {"dimension": d, "target": targets.get(d.ref), "descriptor": d.descriptor(targets.get(d.ref) or 4)}
        for d in dimensions
    ]
    return render(
        request,
        "assessments/targets.html",
        {
            "template": template,
            "version": version,
            "rows": rows,
            "profile": profile,
            "can_edit": _can_edit(request),
            "levels": version.levels,
            "default_name": (version.target_profile or {}).get("name", "Target profile"),
        },
    )


@capability_required(Cap.VIEW)
def roadmap(request):
    status = request.GET.get("status", "open")
    if status not in {"open", "all", *RoadmapItem.Status.values}:
        status = "open"
    items = list(roadmap_items(status="" if status == "all" else status))
    return render(
        request,
        "assessments/roadmap.html",
        {
            "items": items,
            "status": status,
            "statuses": RoadmapItem.Status.choices,
            "summary": roadmap_summary(),
            "today": timezone.now().date(),
            "can_edit": _can_edit(request),
        },
    )


@capability_required(Cap.EDIT)
def roadmap_item_edit(request, pk):
    item = RoadmapItem.objects.filter(pk=pk).first()
    if item is None:
        raise Http404("No such roadmap item.")
    form = RoadmapItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        fresh = RoadmapItem.objects.get(pk=pk)  # the form wrote into `item`; the service compares with the stored row
        try:
            services.roadmap_item_save(item=fresh, **{k: v for k, v in form.cleaned_data.items()})
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"“{fresh.title}” saved.")
            return redirect("assessments:roadmap")
    return render(request, "assessments/roadmap_item.html", {"form": form, "item": item})


@capability_required(Cap.VIEW)
def assessment_report(request, pk):
    assessment = _assessment_or_404(pk)
    return HttpResponse(report.report_html(assessment, web=True))


@capability_required(Cap.VIEW)
def assessment_report_pdf(request, pk):
    assessment = _assessment_or_404(pk)
    response = HttpResponse(report.report_pdf(assessment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.report_filename(assessment)}"'
    return response
