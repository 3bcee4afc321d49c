"""Portal pages of the compliance register. Reading needs `view_register` (auditors have it, and nothing else);
changing needs `edit` (MSP staff). Reads go through selectors, writes through services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.pagination import paginate
from apps.core.permissions import capability_required
from apps.frameworks.models import Framework, Requirement

from . import files
from .charts import sparkline_figure, trend_figure
from .forms import (
    AssessForm,
    ClientFrameworkForm,
    ControlForm,
    EnableFrameworkForm,
    EvidenceEditForm,
    EvidenceForm,
    MappingForm,
    RejectForm,
    RevisionForm,
)
from .generated import evidence_generate
from .models import Control, ControlMapping, Evidence
from .selectors import (
    STATUS_LABELS,
    STATUSES,
    client_framework_get,
    client_frameworks,
    client_today,
    control_get,
    control_mappings,
    controls_list,
    crosswalk_matrix,
    evidence_get,
    evidence_list,
    evidence_state,
    filter_rows,
    library_equivalents,
    library_frameworks,
    orphaned_mappings,
    readiness,
    readiness_many,
    requirement_choices,
    revisions_of,
    suggestions_for,
    trend,
    upgrade_available,
    version_diff,
)
from .services import (
    EvidenceIntegrityError,
    client_framework_adopt,
    client_framework_disable,
    client_framework_update,
    control_review,
    control_save,
    evidence_add_revision,
    evidence_approve,
    evidence_create,
    evidence_reject,
    evidence_update,
    framework_enable,
    mapping_add,
    mapping_remove,
    requirement_assess,
)


def _can_edit(request) -> bool:
    return request.access.can(Cap.EDIT)


def _cf_or_404(pk):
    cf = client_framework_get(pk)
    if cf is None:
        raise Http404("No such framework for this client.")
    return cf


def _control_or_404(pk):
    control = control_get(pk)
    if control is None:
        raise Http404("No such control.")
    return control


def _evidence_or_404(pk):
    evidence = evidence_get(pk)
    if evidence is None:
        raise Http404("No such evidence.")
    return evidence


# --- overview and frameworks -----------------------------------------------------------------------------------


@capability_required(Cap.VIEW_REGISTER)
def overview(request):
    cfs = list(client_frameworks())
    results = readiness_many(cfs)
    trends = trend([cf.pk for cf in cfs], days=60)
    cards = [
        {
            "cf": cf,
            "r": results[cf.pk],
            "upgrade": upgrade_available(cf),
            "sparkline": sparkline_figure(trends.get(cf.pk, [])) if len(trends.get(cf.pk, [])) > 1 else None,
        }
        for cf in cfs
    ]
    gaps = []
    for card in cards:
        r = card["r"]
        gaps += [(card["cf"], "no_control", row) for row in r.no_control]
        gaps += [(card["cf"], "control", gap) for gap in r.control_gaps]
    expiring = [evidence_state(e, client_today()) for e in evidence_list(expiring=True).order_by("expires_on")[:10]]
    context = {
        "cards": cards,
        "gaps": gaps[:10],
        "gap_total": len(gaps),
        "expiring": expiring,
        "generated": list(evidence_list(kind=Evidence.Kind.GENERATED)),
        "available": library_frameworks().exclude(pk__in=[cf.framework_id for cf in cfs]).exclude(current=None).count(),
        "can_edit": _can_edit(request),
    }
    return render(request, "compliance/overview.html", context)


@capability_required(Cap.EDIT)
def framework_enable_view(request):
    enabled = set(client_frameworks().values_list("framework_id", flat=True))
    frameworks = [f for f in library_frameworks().exclude(current=None) if f.pk not in enabled]
    chosen_id = request.POST.get("framework") or request.GET.get("framework")
    chosen = next((f for f in frameworks if str(f.pk) == str(chosen_id)), None)
    form = EnableFrameworkForm(
        request.POST or None, frameworks=frameworks, chosen=chosen, initial={"framework": getattr(chosen, "pk", None)}
    )
    if request.method == "POST" and chosen is not None and form.is_valid():
        try:
            cf = framework_enable(
                framework=chosen,
                roles=form.cleaned_data["roles"],
                assets=form.cleaned_data["assets"],
                owner_email=form.cleaned_data["owner_email"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"{cf.framework.short_name} enabled at v{cf.version.version}.")
            return redirect("compliance:framework", pk=cf.pk)
    return render(
        request, "compliance/framework_enable.html", {"form": form, "chosen": chosen, "frameworks": frameworks}
    )


@capability_required(Cap.VIEW_REGISTER)
def framework_detail(request, pk):
    cf = _cf_or_404(pk)
    result = readiness(cf)
    status = request.GET.get("status", "")
    status = status if status in STATUSES else ""
    query = request.GET.get("q", "").strip()
    shown = filter_rows(result, status=status, query=query)
    upgrade = upgrade_available(cf)
    snapshots = trend([cf.pk]).get(cf.pk, [])
    context = {
        "cf": cf,
        "r": result,
        "keep": {row.requirement.urn for row in shown} if (status or query) else None,
        "shown": sum(1 for row in shown if row.status != "group"),
        "filtered": bool(status or query),
        "status": status,
        "query": query,
        "statuses": [(s, STATUS_LABELS[s]) for s in STATUSES],
        "upgrade": upgrade,
        "diff": version_diff(cf.version, upgrade) if upgrade else None,
        "orphans": orphaned_mappings(cf),
        "figure": trend_figure(snapshots) if snapshots else None,
        "snapshots": snapshots[-10:],
        "assets": list(cf.assets.order_by("name")),
        "can_edit": _can_edit(request),
    }
    return render(request, "compliance/framework_detail.html", context)


@capability_required(Cap.EDIT)
def framework_edit(request, pk):
    cf = _cf_or_404(pk)
    form = ClientFrameworkForm(request.POST or None, client_framework=cf)
    if request.method == "POST" and form.is_valid():
        try:
            client_framework_update(
                client_framework=cf,
                roles=form.cleaned_data["roles"],
                assets=form.cleaned_data["assets"],
                owner_email=form.cleaned_data["owner_email"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"{cf.framework.short_name}: roles and scope saved.")
            return redirect("compliance:framework", pk=cf.pk)
    return render(request, "compliance/framework_edit.html", {"cf": cf, "form": form})


@capability_required(Cap.EDIT)
def framework_adopt(request, pk):
    cf = _cf_or_404(pk)
    upgrade = upgrade_available(cf)
    if upgrade is None:
        messages.info(request, f"{cf.framework.short_name} v{cf.version.version} is the newest version loaded.")
        return redirect("compliance:framework", pk=cf.pk)
    if request.method == "POST":
        try:
            orphans = client_framework_adopt(client_framework=cf, version=upgrade)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            note = (
                f" {len(orphans)} mapping(s) point at removed requirements: see “Orphaned mappings”." if orphans else ""
            )
            messages.success(request, f"Now on {cf.framework.short_name} v{upgrade.version}; mappings kept.{note}")
        return redirect("compliance:framework", pk=cf.pk)
    diff = version_diff(cf.version, upgrade)
    mapped = set(ControlMapping.objects.filter(framework_id=cf.framework_id).values_list("urn", flat=True))
    context = {"cf": cf, "upgrade": upgrade, "diff": diff, "would_orphan": [r for r in diff.removed if r.urn in mapped]}
    return render(request, "compliance/framework_adopt.html", context)


@capability_required(Cap.EDIT)
def framework_disable(request, pk):
    cf = _cf_or_404(pk)
    if request.method == "POST":
        name = cf.framework.short_name
        client_framework_disable(client_framework=cf)
        messages.success(request, f"{name} is no longer tracked. Its controls and mappings stay.")
        return redirect("compliance:overview")
    return render(request, "compliance/framework_disable.html", {"cf": cf})


def _requirement_or_404(cf, req_pk) -> Requirement:
    requirement = Requirement.objects.filter(pk=req_pk, version_id=cf.version_id).first()
    if requirement is None:
        raise Http404("No such requirement in this framework version.")
    return requirement


@capability_required(Cap.VIEW_REGISTER)
def requirement_detail(request, pk, req_pk):
    cf = _cf_or_404(pk)
    requirement = _requirement_or_404(cf, req_pk)
    result = readiness(cf)
    row = result.row(requirement.urn)
    equivalents = library_equivalents({requirement.urn}).get(requirement.urn, [])
    controls = [link.control for link in row.links]
    suggestions = [s for s in suggestions_for(controls) if s.via == requirement.urn]
    assessment = row.assessment
    form = AssessForm(
        initial={
            "not_applicable": bool(assessment and assessment.not_applicable),
            "justification": assessment.justification if assessment else "",
            "owner_email": assessment.owner_email if assessment else "",
        }
    )
    enabled = {c.framework_id: c for c in client_frameworks()}
    context = {
        "cf": cf,
        "requirement": requirement,
        "row": row,
        "equivalents": [(e, enabled.get(e.requirement.version.framework_id)) for e in equivalents],
        "suggestions": suggestions,
        "form": form,
        "controls": Control.objects.exclude(status=Control.Status.RETIRED).exclude(pk__in=[c.pk for c in controls]),
        "can_edit": _can_edit(request),
    }
    return render(request, "compliance/requirement_detail.html", context)


@require_POST
@capability_required(Cap.EDIT)
def requirement_assess_view(request, pk, req_pk):
    cf = _cf_or_404(pk)
    requirement = _requirement_or_404(cf, req_pk)
    form = AssessForm(request.POST)
    url = reverse("compliance:requirement", kwargs={"pk": cf.pk, "req_pk": requirement.pk})
    if form.is_valid():
        try:
            requirement_assess(client_framework=cf, urn=requirement.urn, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{requirement.ref_id}: saved.")
    else:
        messages.error(request, "Enter a valid owner email address.")
    return redirect(url)


@require_POST
@capability_required(Cap.EDIT)
def requirement_map(request, pk, req_pk):
    """Map an existing control to this requirement (from the requirement's page)."""
    cf = _cf_or_404(pk)
    requirement = _requirement_or_404(cf, req_pk)
    control_id = request.POST.get("control", "")
    control = control_get(int(control_id)) if control_id.isdigit() else None
    url = reverse("compliance:requirement", kwargs={"pk": cf.pk, "req_pk": requirement.pk})
    if control is None:
        messages.error(request, "Choose the control that meets this requirement.")
        return redirect(url)
    try:
        mapping_add(
            control=control,
            urn=requirement.urn,
            coverage=request.POST.get("coverage", "full"),
            rationale=request.POST.get("rationale", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{control.code} now covers {requirement.ref_id}.")
    return redirect(request.POST.get("next") if _safe_next(request) else url)


def _safe_next(request) -> bool:
    target = request.POST.get("next", "")
    return target.startswith(f"/c/{request.tenant.slug}/compliance/") and "//" not in target


# --- controls --------------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW_REGISTER)
def control_list(request):
    status = request.GET.get("status", "")
    status = status if status in Control.Status.values else ""
    query = request.GET.get("q", "").strip()
    controls = list(controls_list(status=status, query=query).prefetch_related("evidence__current_revision"))
    today = client_today()
    rows = []
    for control in controls:
        states = [evidence_state(e, today) for e in control.evidence.all()]
        rows.append(
            {
                "control": control,
                "mappings": len(control.mappings.all()),
                "valid": sum(1 for s in states if s.valid),
                "evidence": len(states),
                "review_due": control.status == Control.Status.ACTIVE
                and control.next_review_on is not None
                and control.next_review_on < today,
            }
        )
    context = {
        "rows": rows,
        "status": status,
        "query": query,
        "statuses": Control.Status.choices,
        "can_edit": _can_edit(request),
    }
    return render(request, "compliance/control_list.html", context)


@capability_required(Cap.VIEW_REGISTER)
def control_detail(request, pk):
    control = _control_or_404(pk)
    today = client_today()
    cells = control_mappings(control)
    cfs = {cf.framework_id: cf for cf in client_frameworks()}
    frameworks = {f.pk: f for f in Framework.objects.filter(pk__in={c.mapping.framework_id for c in cells})}
    grouped: dict[int, list] = {}
    for cell in cells:
        grouped.setdefault(cell.mapping.framework_id, []).append(cell)
    by_framework = [
        {"framework": frameworks.get(fid), "cf": cfs.get(fid), "cells": items} for fid, items in sorted(grouped.items())
    ]
    context = {
        "control": control,
        "by_framework": by_framework,
        "evidence": [
            evidence_state(e, today) for e in control.evidence.select_related("current_revision").order_by("title")
        ],
        "suggestions": suggestions_for([control]),
        "map_form": MappingForm(choices=requirement_choices()),
        "can_edit": _can_edit(request),
        "today": today,
    }
    return render(request, "compliance/control_detail.html", context)


def _control_form(request, control):
    form = ControlForm(request.POST or None, control=control)
    if request.method == "POST" and form.is_valid():
        try:
            control = control_save(control=control, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Control {control.code} saved.")
            return redirect("compliance:control", pk=control.pk)
    return render(request, "compliance/control_form.html", {"form": form, "control": control})


@capability_required(Cap.EDIT)
def control_new(request):
    return _control_form(request, None)


@capability_required(Cap.EDIT)
def control_edit(request, pk):
    return _control_form(request, _control_or_404(pk))


@require_POST
@capability_required(Cap.EDIT)
def control_review_view(request, pk):
    control = control_review(control=_control_or_404(pk), note=request.POST.get("note", ""))
    messages.success(request, f"{control.code} reviewed; next review by {control.next_review_on:%-d %b %Y}.")
    return redirect("compliance:control", pk=control.pk)


@require_POST
@capability_required(Cap.EDIT)
def control_map(request, pk):
    control = _control_or_404(pk)
    # The picker and the "would also cover" suggestions both post a URN; the service checks it exists.
    data = {k: request.POST.get(k, "") for k in ("urn", "coverage", "rationale")}
    try:
        mapping = mapping_add(
            control=control, urn=data["urn"], coverage=data["coverage"] or "full", rationale=data["rationale"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{control.code} mapped to {mapping.urn}.")
    return redirect("compliance:control", pk=control.pk)


@require_POST
@capability_required(Cap.EDIT)
def mapping_remove_view(request, pk):
    mapping = ControlMapping.objects.select_related("control").filter(pk=pk).first()
    if mapping is None:
        raise Http404("No such mapping.")
    control = mapping.control
    mapping_remove(mapping=mapping)
    messages.success(request, f"Mapping of {control.code} to {mapping.urn} removed.")
    if _safe_next(request):
        return redirect(request.POST["next"])
    return redirect("compliance:control", pk=control.pk)


@capability_required(Cap.VIEW_REGISTER)
def crosswalk(request):
    frameworks, rows = crosswalk_matrix(controls_list().exclude(status=Control.Status.RETIRED))
    table = [(control, [cells.get(cf.framework_id, []) for cf in frameworks]) for control, cells in rows]
    context = {
        "frameworks": frameworks,
        "table": table,
        "suggestions": suggestions_for([c for c, _ in rows]),
        "can_edit": _can_edit(request),
    }
    return render(request, "compliance/crosswalk.html", context)


# --- evidence --------------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW_REGISTER)
def evidence_list_view(request):
    status = request.GET.get("status", "")
    status = status if status in Evidence.Status.values else ""
    kind = request.GET.get("kind", "")
    kind = kind if kind in Evidence.Kind.values else ""
    expiring = request.GET.get("expiring") == "1"
    query = request.GET.get("q", "").strip()
    page, querystring = paginate(request, evidence_list(status=status, kind=kind, expiring=expiring, query=query))
    today = client_today()
    context = {
        "page": page,
        "querystring": querystring,
        "rows": [evidence_state(e, today) for e in page.object_list],
        "status": status,
        "kind": kind,
        "expiring": expiring,
        "query": query,
        "statuses": Evidence.Status.choices,
        "kinds": Evidence.Kind.choices,
        "can_edit": _can_edit(request),
        "prev_label": "Previous",
        "next_label": "Next",
    }
    return render(request, "compliance/evidence_list.html", context)


@capability_required(Cap.VIEW_REGISTER)
def evidence_detail(request, pk):
    evidence = _evidence_or_404(pk)
    context = {
        "evidence": evidence,
        "state": evidence_state(evidence, client_today()),
        "revisions": list(revisions_of(evidence)),
        "reject_form": RejectForm(),
        "can_edit": _can_edit(request),
    }
    return render(request, "compliance/evidence_detail.html", context)


@capability_required(Cap.EDIT)
def evidence_new(request):
    initial = {"effective_date": client_today()}
    control_id = request.GET.get("control", "")
    if control_id.isdigit():
        initial["controls"] = [int(control_id)]
    form = EvidenceForm(request.POST or None, request.FILES or None, initial=initial, max_bytes=files.max_bytes())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            evidence = evidence_create(
                title=data["title"],
                description=data["description"],
                file=data["file"] if data["kind"] == Evidence.Kind.UPLOAD else None,
                url=data["url"] if data["kind"] == Evidence.Kind.LINK else "",
                effective_date=data["effective_date"],
                expires_on=data["expires_on"],
                controls=data["controls"],
                assets=data["assets"],
                owner_email=data["owner_email"],
                approve=data["approve"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            state = "approved" if evidence.status == Evidence.Status.APPROVED else "saved as a draft (needs approval)"
            messages.success(request, f"“{evidence.title}” {state}.")
            return redirect("compliance:evidence", pk=evidence.pk)
    return render(request, "compliance/evidence_form.html", {"form": form, "evidence": None, "mode": "new"})


@capability_required(Cap.EDIT)
def evidence_edit(request, pk):
    evidence = _evidence_or_404(pk)
    form = EvidenceEditForm(request.POST or None, evidence=evidence)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            evidence_update(
                evidence=evidence,
                title=data["title"],
                description=data["description"],
                expires_on=data.get("expires_on", evidence.expires_on),
                controls=data["controls"],
                assets=data["assets"],
                owner_email=data["owner_email"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"“{evidence.title}” saved.")
            return redirect("compliance:evidence", pk=evidence.pk)
    return render(request, "compliance/evidence_form.html", {"form": form, "evidence": evidence, "mode": "edit"})


@capability_required(Cap.EDIT)
def evidence_revise(request, pk):
    evidence = _evidence_or_404(pk)
    if evidence.kind == Evidence.Kind.GENERATED:
        messages.info(request, "Keel generates this evidence; use “Generate now” instead.")
        return redirect("compliance:evidence", pk=evidence.pk)
    form = RevisionForm(
        request.POST or None,
        request.FILES or None,
        evidence=evidence,
        initial={"effective_date": client_today(), "expires_on": evidence.expires_on},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            revision = evidence_add_revision(
                evidence=evidence,
                file=data.get("file"),
                url=data.get("url", ""),
                effective_date=data["effective_date"],
                expires_on=data["expires_on"],
                note=data["note"],
                approve=data["approve"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Revision {revision.number} of “{evidence.title}” stored.")
            return redirect("compliance:evidence", pk=evidence.pk)
    return render(request, "compliance/evidence_form.html", {"form": form, "evidence": evidence, "mode": "revise"})


@require_POST
@capability_required(Cap.EDIT)
def evidence_approve_view(request, pk):
    evidence = _evidence_or_404(pk)
    try:
        evidence_approve(evidence=evidence, note=request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        self_note = " (your own upload: recorded as a self-approval)" if evidence.self_approved else ""
        messages.success(request, f"“{evidence.title}” approved{self_note}.")
    return redirect("compliance:evidence", pk=evidence.pk)


@require_POST
@capability_required(Cap.EDIT)
def evidence_reject_view(request, pk):
    evidence = _evidence_or_404(pk)
    try:
        evidence_reject(evidence=evidence, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{evidence.title}” rejected.")
    return redirect("compliance:evidence", pk=evidence.pk)


@require_POST
@capability_required(Cap.EDIT)
def evidence_generate_view(request):
    results = evidence_generate()
    changed = [r for r in results if r.changed]
    messages.success(
        request,
        f"Generated {len(results)} evidence files: {len(changed)} changed (new revision), "
        f"{len(results) - len(changed)} unchanged.",
    )
    return redirect("compliance:evidence_list")


def download_response(revision) -> FileResponse:
    """The stored file as an attachment, never rendered by the browser, after its SHA-256 was verified."""
    handle = revision_open_checked(revision)
    response = FileResponse(
        handle, as_attachment=True, filename=revision.display_name, content_type=revision.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Evidence-SHA256"] = revision.sha256
    return response


def revision_open_checked(revision):
    from .services import revision_open

    return revision_open(revision=revision)


@capability_required(Cap.VIEW_REGISTER)
def evidence_download(request, pk, number):
    evidence = _evidence_or_404(pk)
    revision = evidence.revisions.filter(number=number).exclude(file_name="").first()
    if revision is None:
        raise Http404("No such file.")
    try:
        return download_response(revision)
    except EvidenceIntegrityError as exc:
        context = {"evidence": evidence, "revision": revision, "message": str(exc)}
        return render(request, "compliance/integrity_failed.html", context, status=409)
