"""AI incident pages: the register with every open clock, the incident with its clocks table, timeline and
actions, the forms, the settings and the regimes Keel knows. Reads go through selectors, writes through
services; executives and viewers read only."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.alerts.models import Severity
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required

from .forms import (
    ClassifyForm,
    IncidentForm,
    NoteForm,
    NotRequiredForm,
    RegimesForm,
    ReopenForm,
    SettingsForm,
    StatusForm,
    SubmitForm,
)
from .models import IncidentKind, IncidentStatus, Obligation, SourceKind
from .regimes import load_regimes
from .selectors import (
    STATUS_FILTERS,
    client_zone,
    clock_for,
    clocks_for,
    incident_get,
    incident_settings,
    incidents_list,
    open_clocks,
    suggest_regimes,
    suggestions_for,
    timeline,
)
from .services import (
    client_defaults_text,
    incident_add_note,
    incident_change,
    incident_open_from_anomaly,
    incident_open_from_runaway,
    incident_save,
    incident_set_regimes,
    incident_set_status,
    incident_settings_save,
    obligation_mark_not_required,
    obligation_reopen,
    obligation_submit,
)

OBLIGATION_ACTIONS = ("submit", "not-required", "reopen")
SOURCE_ROUTES = {
    SourceKind.RUNAWAY: "runaway:detail",
    SourceKind.ANOMALY: "anomalies:detail",
    SourceKind.ALERT: "alerts:detail",
}


def _incident_or_404(pk) -> object:
    incident = incident_get(pk)
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(f"{m}" for messages_ in exc.message_dict.values() for m in messages_)
    return " ".join(exc.messages)


def _form_errors(form) -> str:
    return " ".join(
        f"{form.fields[k].label or k}: {' '.join(v)}" if k in form.fields else " ".join(v)
        for k, v in form.errors.items()
    )


def _detail_url(incident, anchor: str = "") -> str:
    return reverse("incidents:detail", kwargs={"pk": incident.pk}) + (f"#{anchor}" if anchor else "")


def source_url(incident) -> str:
    route = SOURCE_ROUTES.get(incident.source_kind)
    if not route or not incident.source_id:
        return ""
    try:
        return reverse(route, kwargs={"pk": incident.source_id})
    except NoReverseMatch:
        return ""


@capability_required(Cap.VIEW, Cap.VIEW_REGISTER)  # auditors read the register
def incident_list(request):
    params = request.GET
    status = params.get("status") or "active"
    if status not in STATUS_FILTERS:
        status = "active"
    kind = params.get("kind", "") if params.get("kind", "") in IncidentKind.values else ""
    severity = params.get("severity", "") if params.get("severity", "") in Severity.values else ""
    book = load_regimes()
    regime = params.get("regime", "") if book.get(params.get("regime", "")) else ""
    q = (params.get("q") or "").strip()[:100]
    now = timezone.now()
    incidents = list(incidents_list(status=status, kind=kind, severity=severity, regime=regime, q=q))
    for incident in incidents:
        incident.clocks = clocks_for(incident, now=now)
        incident.regime_names = [book.get(r).short_name for r in incident.regimes if book.get(r)]
        incident.open_clocks = sorted(
            (c for c in incident.clocks if c.is_open and c.state != "on_request"), key=lambda c: c.sort_key
        )
    # "What is due when" covers every incident with a pending report, whatever the filters show.
    due = open_clocks(
        incidents_list(status="all").filter(obligations__status=Obligation.Status.PENDING).distinct(), now=now
    )
    context = {
        "incidents": incidents,
        "deadlines": due,
        "overdue": sum(1 for _, c in due if c.state == "overdue"),
        "due_24h": sum(
            1 for _, c in due if c.remaining is not None and dt.timedelta(0) < c.remaining <= dt.timedelta(hours=24)
        ),
        "active_count": incidents_list(status="active").count(),
        "filters": {"status": status, "kind": kind, "severity": severity, "regime": regime, "q": q},
        "status_choices": [
            ("active", "Active (open, investigating, contained)"),
            ("all", "All"),
            *IncidentStatus.choices,
        ],
        "kind_choices": IncidentKind.choices,
        "severity_choices": Severity.choices,
        "regimes": book.regimes,
        "can_edit": request.access.can(Cap.EDIT),
        "tz_name": request.tenant.time_zone,
    }
    return render(request, "incidents/list.html", context)


@capability_required(Cap.VIEW, Cap.VIEW_REGISTER)  # auditors read the register
def incident_detail(request, pk):
    incident = _incident_or_404(pk)
    now = timezone.now()
    book = load_regimes()
    clocks = clocks_for(incident, now=now)
    applied = set(incident.regimes)
    suggestions = [s for s in suggestions_for(incident) if s.regime.id not in applied]
    context = {
        "incident": incident,
        "clocks": clocks,
        "open_clocks": sorted((c for c in clocks if c.is_open and c.state != "on_request"), key=lambda c: c.sort_key),
        "events": timeline(incident),
        "suggestions": suggestions,
        "suggested_ids": [s.regime.id for s in suggestions],
        "regimes": book.regimes,
        "applied": [book.get(r) for r in incident.regimes if book.get(r)],
        "flags": book.flags,
        "flag_labels": book.flag_labels(),
        "source_url": source_url(incident),
        "can_edit": request.access.can(Cap.EDIT),
        "status_form": StatusForm(initial={"status": incident.status}),
        "note_form": NoteForm(),
        "classify_form": ClassifyForm(initial={"classified_major_at": now}),
        "tz_name": request.tenant.time_zone,
        "settings": incident_settings(request.tenant),
        "now": now,
    }
    return render(request, "incidents/detail.html", context)


def _form_page(request, *, form, incident):
    return render(
        request, "incidents/form.html", {"form": form, "incident": incident, "tz_name": request.tenant.time_zone}
    )


@capability_required(Cap.EDIT)
def incident_new(request):
    form = IncidentForm(
        request.POST or None,
        initial=None if request.POST else {"detected_at": timezone.now(), "aware_at": timezone.now()},
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        if form.cleaned_data.get("apply_suggested"):
            suggested = suggest_regimes(
                kind=fields["kind"],
                personal_data=fields["personal_data"] or bool(fields["personal_data_categories"]),
                assets=fields["assets"],
            )
            fields["regimes"] = [
                *fields["regimes"],
                *(s.regime.id for s in suggested if s.regime.id not in fields["regimes"]),
            ]
        try:
            incident = incident_save(**fields)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"{incident.reference} recorded.")
            return redirect(_detail_url(incident, "clocks"))
    return _form_page(request, form=form, incident=None)


@capability_required(Cap.EDIT)
def incident_edit(request, pk):
    incident = _incident_or_404(pk)
    form = IncidentForm(request.POST or None, incident=incident)
    if request.method == "POST" and form.is_valid():
        try:
            incident = incident_save(incident=incident, **form.service_fields())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"{incident.reference} saved; its clocks are recomputed.")
            return redirect(_detail_url(incident))
    return _form_page(request, form=form, incident=incident)


def _post_action(request, incident, form, run, success: str, anchor: str = ""):
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_detail_url(incident, anchor))
    try:
        run(form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, success)
    return redirect(_detail_url(incident, anchor))


@require_POST
@capability_required(Cap.EDIT)
def incident_status(request, pk):
    incident = _incident_or_404(pk)
    form = StatusForm(request.POST)
    label = dict(IncidentStatus.choices).get(request.POST.get("status", ""), "")
    return _post_action(
        request,
        incident,
        form,
        lambda data: incident_set_status(incident=incident, status=data["status"], note=data["note"]),
        f"Status set to {label.lower()}.",
        "timeline",
    )


@require_POST
@capability_required(Cap.EDIT)
def incident_note(request, pk):
    incident = _incident_or_404(pk)
    return _post_action(
        request,
        incident,
        NoteForm(request.POST),
        lambda data: incident_add_note(incident=incident, text=data["text"]),
        "Note added to the timeline.",
        "timeline",
    )


@require_POST
@capability_required(Cap.EDIT)
def incident_regimes(request, pk):
    incident = _incident_or_404(pk)
    return _post_action(
        request,
        incident,
        RegimesForm(request.POST),
        lambda data: incident_set_regimes(incident=incident, regimes=data["regimes"], flags=data["flags"]),
        "Notification regimes saved; the clocks follow.",
        "clocks",
    )


@require_POST
@capability_required(Cap.EDIT)
def incident_classify(request, pk):
    incident = _incident_or_404(pk)
    return _post_action(
        request,
        incident,
        ClassifyForm(request.POST),
        lambda data: incident_change(incident=incident, classified_major_at=data["classified_major_at"]),
        "Classification as major recorded; DORA's initial notification clock runs from it.",
        "clocks",
    )


@require_POST
@capability_required(Cap.EDIT)
def obligation_action(request, pk, obligation_id, action):
    incident = _incident_or_404(pk)
    obligation = next((o for o in incident.obligations.all() if o.pk == obligation_id), None)
    if obligation is None or action not in OBLIGATION_ACTIONS:
        raise Http404("No such report.")
    clock = clock_for(obligation)
    name = f"{clock.regime_name} {clock.report_name.lower()}"
    if action == "submit":
        form, success = SubmitForm(request.POST), f"{name}: submission recorded."

        def run(data):
            obligation_submit(
                obligation=obligation, submitted_at=data["submitted_at"], reference=data["reference"], note=data["note"]
            )

    elif action == "not-required":
        form, success = NotRequiredForm(request.POST), f"{name}: marked not required."

        def run(data):
            obligation_mark_not_required(obligation=obligation, reason=data["reason"])

    else:
        form, success = ReopenForm(request.POST), f"{name}: reopened."

        def run(data):
            obligation_reopen(obligation=obligation, note=data["note"])

    return _post_action(request, incident, form, run, success, "clocks")


@require_POST
@capability_required(Cap.EDIT)
def open_from_runaway(request, runaway_id):
    from apps.runaway.models import RunawayIncident

    runaway = RunawayIncident.objects.select_related("agent").filter(pk=runaway_id).first()
    if runaway is None:
        raise Http404("No such runaway incident.")
    incident, created = incident_open_from_runaway(runaway)
    messages.success(
        request,
        f"{incident.reference} opened from the runaway incident."
        if created
        else f"{incident.reference} was already open for it.",
    )
    return redirect(_detail_url(incident))


@require_POST
@capability_required(Cap.EDIT)
def open_from_anomaly(request, anomaly_id):
    from apps.anomalies.models import Anomaly

    anomaly = Anomaly.objects.select_related("alert").filter(pk=anomaly_id).first()
    if anomaly is None:
        raise Http404("No such anomaly.")
    incident, created = incident_open_from_anomaly(anomaly)
    messages.success(
        request,
        f"{incident.reference} opened from the anomaly."
        if created
        else f"{incident.reference} was already open for it.",
    )
    return redirect(_detail_url(incident))


@capability_required(Cap.VIEW)
def settings_view(request):
    settings = incident_settings(request.tenant)
    can_edit = request.access.can(Cap.EDIT)
    form = SettingsForm(request.POST or None, settings=settings)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                incident_settings_save(**form.cleaned_data)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Incident settings saved; the clocks of active incidents are recomputed.")
                return redirect("incidents:settings")
    context = {
        "form": form,
        "settings": settings,
        "saved": settings.pk is not None and not settings._state.adding,
        "defaults_text": client_defaults_text(request.tenant),
        "can_edit": can_edit,
        "tz_name": request.tenant.time_zone,
    }
    return render(request, "incidents/settings.html", context)


@capability_required(Cap.VIEW, Cap.VIEW_REGISTER)  # auditors read the register
def regimes_view(request):
    book = load_regimes()
    return render(
        request,
        "incidents/regimes.html",
        {"book": book, "flag_labels": book.flag_labels(), "zone": client_zone(request.tenant)},
    )
