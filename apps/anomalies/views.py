"""Anomaly pages: the list with its timeline, one anomaly with its scope's series and expected band, the
actions on it, the detection settings, and CSV of what each chart shows. Reads go through selectors (the
rollup), writes through services; people who may only view see no buttons and get 403 on the actions."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required

from .charts import anomaly_rows_url, detail_figure, detail_rows, timeline_figure
from .detection import Params
from .forms import ActionForm, AnomalySettingsForm
from .models import Anomaly, Direction, ScopeKind
from .selectors import (
    PERIODS,
    STATUS_FILTERS,
    anomalies_list,
    anomaly_counts,
    currencies_seen,
    list_filter,
    scope_anomalies,
    utc_today,
)
from .services import ACTIONS, anomalies_scan, anomaly_act, anomaly_settings, anomaly_settings_save, severity_for

PER_PAGE = 50
CHART_MAX = 2000  # markers on the timeline; the table pages through the rest
CENT = Decimal("0.01")
STATUS_CHIPS = {
    "open": "state-open",
    "acknowledged": "state-acknowledged",
    "resolved": "state-resolved",
    "dismissed": "chip-muted",
}
ACTION_LABELS = {"acknowledge": "Acknowledge", "resolve": "Resolve", "dismiss": "Dismiss", "reopen": "Reopen"}


def _anomaly_or_404(pk: int) -> Anomaly:
    anomaly = Anomaly.objects.select_related("alert").filter(pk=pk).first()
    if anomaly is None:
        raise Http404("No such anomaly.")
    return anomaly


def _decorate(anomaly: Anomaly) -> Anomaly:
    anomaly.rows_url = anomaly_rows_url(anomaly)
    anomaly.status_chip = STATUS_CHIPS[anomaly.status]
    return anomaly


@capability_required(Cap.VIEW)
def anomaly_list(request):
    today = utc_today()
    selected = list_filter(request.GET)
    rows = anomalies_list(selected, today=today)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    for anomaly in page:
        _decorate(anomaly)
    first_day, last_day = selected.first_day(today), today - dt.timedelta(days=1)
    plotted = list(rows.order_by("-day", "-id")[:CHART_MAX])
    impact = (
        rows.filter(status__in=[Anomaly.Status.OPEN, Anomaly.Status.ACKNOWLEDGED])
        .order_by()
        .values("currency", "direction")
        .annotate(total=Sum("impact"), n=Count("id"))
    )
    config = anomaly_settings()
    context = {
        "last_scan_span": _scan_span(config.last_scan),
        "page": page,
        "selected": selected,
        "querystring": selected.querystring(),
        "statuses": [(k, label) for k, (label, _q) in STATUS_FILTERS.items()],
        "scopes": ScopeKind.choices,
        "directions": Direction.choices,
        "periods": PERIODS,
        "currencies": currencies_seen(),
        "counts": anomaly_counts(),
        "spikes": sorted((r for r in impact if r["direction"] == Direction.SPIKE), key=lambda r: r["currency"]),
        "drops": sorted((r for r in impact if r["direction"] == Direction.DROP), key=lambda r: r["currency"]),
        "all_statuses_qs": selected.querystring(status="all"),
        "figure": timeline_figure(plotted, first_day=first_day, last_day=last_day),
        "plotted": len(plotted),
        "chart_max": CHART_MAX,
        "first_day": first_day,
        "last_day": last_day,
        "config": config,
        "can_edit": request.access.can(Cap.EDIT),
    }
    return render(request, "anomalies/list.html", context)


def _scan_span(summary: dict) -> tuple[dt.date, dt.date] | None:
    try:
        return dt.date.fromisoformat(summary["first_day"]), dt.date.fromisoformat(summary["last_day"])
    except (KeyError, TypeError, ValueError):
        return None


LIST_CSV_HEADER = [
    "id",
    "day",
    "scope_kind",
    "scope_key",
    "scope",
    "provider",
    "currency",
    "actual",
    "expected",
    "expected_low",
    "expected_high",
    "impact",
    "direction",
    "score",
    "status",
    "status_note",
    "first_detected_at",
    "alert_id",
]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@capability_required(Cap.VIEW)
def anomaly_csv(request):
    """The anomalies the list (and its timeline) shows, all of them, with the same filters."""
    today = utc_today()
    selected = list_filter(request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="anomalies-{today:%Y%m%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(LIST_CSV_HEADER)
    for a in anomalies_list(selected, today=today).iterator(chunk_size=2000):
        writer.writerow(
            [
                a.pk,
                a.day.isoformat(),
                a.scope_kind,
                a.scope_key,
                a.scope_label,
                a.provider_name,
                a.currency,
                *(_cents(v) for v in (a.actual, a.expected, a.expected_low, a.expected_high, a.impact)),
                a.direction,
                a.score,
                a.status,
                a.status_note,
                a.first_detected_at.isoformat(),
                a.alert_id or "",
            ]
        )
    return response


def _allowed_actions(anomaly: Anomaly) -> list[tuple[str, str]]:
    return [(name, ACTION_LABELS[name]) for name, (allowed, _to, _r) in ACTIONS.items() if anomaly.status in allowed]


@capability_required(Cap.VIEW)
def anomaly_detail(request, pk):
    anomaly = _decorate(_anomaly_or_404(pk))
    today = utc_today()
    config = anomaly_settings()
    rows = detail_rows(anomaly, params=Params.from_settings(config), today=today)
    others = scope_anomalies(anomaly, start=rows[0].day, end=rows[-1].day) if rows else []
    context = {
        "anomaly": anomaly,
        "rows": rows,
        "chart_last": rows[-1].day if rows else None,
        "figure": detail_figure(anomaly, rows, others),
        "others": [_decorate(a) for a in others if a.pk != anomaly.pk],
        "actions": _allowed_actions(anomaly),
        "can_dismiss": anomaly.status in ACTIONS["dismiss"][0],
        "form": ActionForm(),
        "severity": severity_for(anomaly, config),
        "config": config,
        "details": anomaly.details or {},
        "can_edit": request.access.can(Cap.EDIT),
    }
    return render(request, "anomalies/detail.html", context)


SERIES_CSV_HEADER = ["day", "actual", "expected", "expected_low", "expected_high", "flagged_now", "currency"]


@capability_required(Cap.VIEW)
def anomaly_series_csv(request, pk):
    """The series the detail chart shows: the scope's daily spend with the range the detector gives each day."""
    anomaly = _anomaly_or_404(pk)
    rows = detail_rows(anomaly, params=Params.from_settings(anomaly_settings()), today=utc_today())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="anomaly-{anomaly.pk}-series.csv"'
    writer = csv.writer(response)
    writer.writerow(SERIES_CSV_HEADER)
    for r in rows:
        values = [r.expected, r.low, r.high]
        writer.writerow(
            [
                r.day.isoformat(),
                _cents(r.actual),
                *("" if v is None else _cents(v) for v in values),
                r.flagged,
                anomaly.currency,
            ]
        )
    return response


@require_POST
@capability_required(Cap.EDIT)
def anomaly_action(request, pk, action):
    anomaly = _anomaly_or_404(pk)
    if action not in ACTIONS:
        raise Http404("No such action.")
    form = ActionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        anomaly_act(anomaly=anomaly, action=action, note=note)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        done = {"acknowledge": "acknowledged", "resolve": "resolved", "dismiss": "dismissed", "reopen": "reopened"}
        messages.success(request, f"Anomaly {done[action]}.")
    return redirect("anomalies:detail", pk=anomaly.pk)


@capability_required(Cap.VIEW)
def anomaly_settings_page(request):
    config = anomaly_settings()
    can_edit = request.access.can(Cap.EDIT)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    form = AnomalySettingsForm(request.POST or None, instance=config)
    if request.method == "POST" and form.is_valid():
        try:
            anomaly_settings_save(**form.service_fields())
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                form.add_error(key if key in form.fields else None, errors)
        else:
            messages.success(request, "Detection settings saved. They apply from the next scan.")
            return redirect("anomalies:settings")
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "anomalies/settings.html", {"form": form, "config": config, "can_edit": can_edit})


@require_POST
@capability_required(Cap.EDIT)
def anomaly_scan_now(request):
    result = anomalies_scan()
    found = len(result.created) + len(result.reopened)
    messages.success(
        request,
        f"Scanned {result.first_day:%-d %b} – {result.last_day:%-d %b}: {result.days_judged:,} scope-days judged, "
        + (f"{found} new anomal{'y' if found == 1 else 'ies'}" if found else "nothing new")
        + (f", {len(result.resolved)} resolved (back in range)" if result.resolved else "")
        + ".",
    )
    return redirect("anomalies:list")
