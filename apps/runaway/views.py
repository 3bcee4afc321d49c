"""Runaway pages: incidents, one incident (chart, signals, kill-switch calls, actions) and the settings.
Reads through selectors, writes through services; money stays Decimal up to the template."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.pagination import paginate
from apps.core.permissions import capability_required
from apps.finops.drilldown import ledger_rows_url

from .charts import incident_figure
from .detection import SIGNAL_LABELS
from .forms import ResolveForm, RunawaySettingsForm
from .models import RunawayIncident, ScopeKind
from .selectors import STATUS_FILTERS, incident_get, incident_minutes, incidents_list, incidents_summary
from .selectors import ledger_filters as scope_ledger_filters
from .services import (
    incident_resolve,
    incident_stop,
    runaway_secret_rotate,
    runaway_settings,
    runaway_settings_save,
    signal_rows,
)

STATUS_CHIPS = {
    "open": "sev-critical",
    "stopped": "sev-high",
    "ended": "sev-medium",
    "resolved": "chip-muted",
}


def _incident_or_404(pk: int) -> RunawayIncident:
    try:
        return incident_get(pk)
    except RunawayIncident.DoesNotExist as exc:
        raise Http404("No such runaway incident.") from exc


def _symbol(currency: str) -> str:
    return "$" if currency == "USD" else f"{currency} "


@capability_required(Cap.VIEW)
def incident_list(request):
    status = request.GET.get("status", "all")
    status = status if status in STATUS_FILTERS else "all"
    kind = request.GET.get("kind", "")
    page, querystring = paginate(request, incidents_list(status=status, kind=kind))
    return render(
        request,
        "runaway/incidents.html",
        {
            "page": page,
            "querystring": querystring,
            "status": status,
            "kind": kind,
            "statuses": [(key, label) for key, (label, _q) in STATUS_FILTERS.items()],
            "kinds": ScopeKind.choices,
            "summary": incidents_summary(),
            "chips": STATUS_CHIPS,
            "settings": runaway_settings(),
        },
    )


def _day_urls(incident: RunawayIncident, minutes: list[dict]) -> dict:
    filters = scope_ledger_filters(incident)
    days = sorted({row["minute"].astimezone(dt.UTC).date() for row in minutes})
    return {day: ledger_rows_url(first_day=day, last_day=day, **filters) for day in days}


@capability_required(Cap.VIEW)
def incident_detail(request, pk):
    incident = _incident_or_404(pk)
    minutes = incident_minutes(incident)
    day_urls = _day_urls(incident, minutes)
    zone = timezone.get_current_timezone()
    first_day = incident.started_at.astimezone(dt.UTC).date()
    last_day = (incident.ended_at or incident.last_seen_at).astimezone(dt.UTC).date()
    context = {
        "incident": incident,
        "minutes": minutes,
        "hot_minutes": [row for row in minutes if row["spend"] or row["above"]],
        "figure": incident_figure(incident, minutes, day_urls=day_urls, zone=zone, symbol=_symbol(incident.currency))
        if minutes
        else None,
        "signals": signal_rows(incident),
        "calls": list(incident.kill_switch_calls.all()),
        "ledger_url": ledger_rows_url(first_day=first_day, last_day=last_day, **scope_ledger_filters(incident)),
        "chip": STATUS_CHIPS.get(incident.status, "chip-muted"),
        "symbol": _symbol(incident.currency),
        "can_stop": bool(
            request.access.can(Cap.EDIT) and incident.agent and incident.agent.kill_switch_url and incident.is_active
        ),
        "can_resolve": request.access.can(Cap.MANAGE_ALERTS) and incident.status != RunawayIncident.Status.RESOLVED,
        "resolve_form": ResolveForm(),
        "settings": runaway_settings(),
        "signal_labels": SIGNAL_LABELS,
    }
    return render(request, "runaway/incident_detail.html", context)


@capability_required(Cap.VIEW)
def incident_minutes_csv(request, pk):
    """What the chart shows, minute by minute (UTC and the client's time)."""
    incident = _incident_or_404(pk)
    zone = timezone.get_current_timezone()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="runaway-incident-{incident.pk}-minutes.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "minute_utc",
            "minute_local",
            "scope_kind",
            "scope_key",
            "spend",
            "currency",
            "requests",
            "threshold_per_minute",
            "above_threshold",
        ]
    )
    for row in incident_minutes(incident):
        writer.writerow(
            [
                row["minute"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                timezone.localtime(row["minute"], zone).strftime("%Y-%m-%d %H:%M"),
                incident.scope_kind,
                incident.scope_key,
                row["spend"],
                incident.currency,
                row["requests"],
                incident.threshold_per_minute,
                "yes" if row["above"] else "no",
            ]
        )
    return response


@require_POST
@capability_required(Cap.EDIT)
def incident_stop_view(request, pk):
    incident = _incident_or_404(pk)
    try:
        call = incident_stop(incident=incident)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if call.outcome == call.Outcome.STOPPED:
            messages.success(request, f"Kill-switch called: {incident.agent.name} answered HTTP {call.status_code}.")
        else:
            messages.error(request, f"The kill-switch call failed: {call.error} Stop the agent by hand.")
    return redirect("runaway:detail", pk=incident.pk)


@require_POST
@capability_required(Cap.MANAGE_ALERTS)
def incident_resolve_view(request, pk):
    incident = _incident_or_404(pk)
    form = ResolveForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        incident_resolve(incident=incident, note=note)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Incident resolved, and its alert with it.")
    return redirect("runaway:detail", pk=incident.pk)


@capability_required(Cap.VIEW)
def settings_view(request):
    current = runaway_settings()
    can_edit = request.access.can(Cap.EDIT)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    form = RunawaySettingsForm(request.POST or None, instance=current)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            runaway_settings_save(**{name: form.cleaned_data[name] for name in form.Meta.fields})
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Runaway detection settings saved; the next scan uses them.")
            return redirect("runaway:detection_settings")
    return render(request, "runaway/settings.html", {"form": form, "settings": current, "can_edit": can_edit})


@require_POST
@capability_required(Cap.EDIT)
def settings_rotate_secret(request):
    secret = runaway_secret_rotate()
    form = RunawaySettingsForm(instance=runaway_settings())
    return render(
        request,
        "runaway/settings.html",
        {"form": form, "settings": runaway_settings(), "can_edit": True, "new_secret": secret},
    )
