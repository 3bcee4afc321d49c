"""Portal pages of a client's service levels (/c/<slug>/service-levels/): SLOs with their live error budgets,
breaches and the service credits they owe, business calendars, OpenSLO files and drift monitors.

Reading needs `view` (client executives follow attainment and credits); changing needs `edit`. Reads go
through selectors, writes through services; times are shown in the client's zone (AccessMiddleware activates
it), ratios as percent text computed here from Decimals (never floats)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required
from apps.inventory.models import Asset

from . import budget, drift, evaluation, services, windows
from .charts import budget_figure, distribution_figure, plain, psi_history_figure, sli_figure
from .clock import DAYS
from .evaluation import client_tz
from .forms import CalendarForm, OpenSloUploadForm, SettleForm, SloForm, hours_text
from .models import INCIDENT_KINDS, SLO, BusinessCalendar, DriftCheck, SliKind, SloStatus
from .selectors import (
    STATE_ORDER,
    breaches_list,
    credits_by_month,
    credits_list,
    daily_series,
    drift_checks,
    drift_monitors,
    latency_percentiles,
    latest_checks,
    slo_status,
    slos_list,
)

STATE_CHIPS = {"ok": "chip-ok", "at_risk": "sev-medium", "exhausted": "sev-critical", "no_data": "chip-muted"}
BAR_COLOURS = {"ok": "#079455", "at_risk": "#f79009", "exhausted": "#d92d20", "no_data": "#98a2b3"}
ALERT_CHIPS = {"page": "sev-critical", "ticket": "sev-high"}
ALERT_ORDER = {"page": 0, "ticket": 1, "": 2}
DRIFT_CHIPS = {"stable": "chip-ok", "moderate": "sev-medium", "significant": "sev-critical"}
DRIFT_ORDER = {"significant": 0, "moderate": 1, "stable": 2}
CREDIT_CHIPS = {"due": "sev-medium", "issued": "chip-ok", "waived": "chip-muted"}
STATE_LABELS = dict(SloStatus.State.choices)
ALERT_LABELS = {"page": "Page", "ticket": "Ticket"}
RATE = Decimal("0.01")
MAX_ROWS = 200  # breaches and credits shown on one page (newest first); the API pages through all of them


def _can_edit(request) -> bool:
    return request.access.can(Cap.EDIT)


def _flash_error(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


# --- numbers as text ---------------------------------------------------------------------------------------


def percent(ratio: Decimal | None, places: int = 3) -> str | None:
    """A ratio as percent text, rounded down so a window just under its objective never reads as met."""
    if ratio is None:
        return None
    return f"{(Decimal(ratio) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR):f}"


def exact_percent(ratio: Decimal | None) -> str | None:
    """An objective or a tier as typed: 0.99900000 → "99.9"."""
    return None if ratio is None else plain(Decimal(ratio) * 100)


def rate_text(value) -> str | None:
    if value in (None, ""):
        return None
    return f"{Decimal(str(value)).quantize(RATE, rounding=ROUND_HALF_EVEN):f}"


def pvalue_text(value: float | None) -> str | None:
    if value is None:
        return None
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def window_text(slo: SLO) -> str:
    window = "Calendar month" if slo.window_kind == SLO.WindowKind.CALENDAR_MONTH else f"Rolling {slo.window_days} days"
    if slo.budgeting == SLO.Budgeting.TIMESLICES:
        window += f" · {slo.timeslice_minutes}-minute slices"
    return window


def threshold_text(slo: SLO) -> str:
    """What the threshold means for this SLO's kind, in words."""
    value = slo.threshold
    if slo.sli_kind == SliKind.LATENCY:
        return f"good when it answers within {plain(value)} ms" if value is not None else "—"
    if slo.sli_kind == SliKind.QUALITY:
        return f"good at a score of {plain(value)} or more" if value is not None else "each score's passed flag"
    if slo.sli_kind == SliKind.DRIFT:
        return f"good while the statistic stays under {plain(value) if value is not None else '0.2'}"
    if slo.sli_kind in INCIDENT_KINDS:
        clock = slo.calendar.name if slo.calendar_id else "24×7"
        what = "first response" if slo.sli_kind == SliKind.INCIDENT_RESPONSE else "resolution"
        return f"{what} within {plain(value)} business minutes ({clock})" if value is not None else "—"
    return "not used" if value is None else plain(value)


def source_text(slo: SLO) -> str:
    if slo.source == SLO.Source.KEEL:
        return f"Computed by Keel from {SLO.KeelSource(slo.keel_source).label.lower()}"
    return "Pushed through the API"


@dataclass
class SloRow:
    """One SLO with its live status as the list and the detail show it."""

    slo: SLO
    status: SloStatus | None
    state: str
    attainment: str | None
    remaining: str | None
    bar_width: str
    burn_1h: str | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def state_chip(self) -> str:
        return STATE_CHIPS[self.state]

    @property
    def bar_colour(self) -> str:
        return BAR_COLOURS[self.state]

    @property
    def alert_level(self) -> str:
        return self.status.alert_level if self.status else ""

    @property
    def alert_label(self) -> str:
        return ALERT_LABELS.get(self.alert_level, "")

    @property
    def alert_chip(self) -> str:
        return ALERT_CHIPS.get(self.alert_level, "")

    @property
    def objective(self) -> str:
        return exact_percent(self.slo.objective)

    @property
    def window(self) -> str:
        return window_text(self.slo)

    def sort_key(self) -> tuple:
        remaining = self.status.budget_remaining if self.status and self.status.budget_remaining is not None else 2
        return STATE_ORDER[self.state], ALERT_ORDER.get(self.alert_level, 2), remaining, self.slo.display_name.lower()


def slo_row(slo: SLO) -> SloRow:
    status = slo_status(slo)  # select_related by slos_list: no query
    state = status.state if status else SloStatus.State.NO_DATA
    remaining = status.budget_remaining if status else None
    width = "0" if remaining is None else f"{min(max(remaining, Decimal(0)), Decimal(1)) * 100:.1f}"
    return SloRow(
        slo=slo,
        status=status,
        state=state if state in STATE_ORDER else SloStatus.State.NO_DATA,
        attainment=percent(status.attainment) if status else None,
        remaining=percent(remaining, 1),
        bar_width=width,
        burn_1h=rate_text(status.burn_rates.get("1h")) if status else None,
    )


def _slo_or_404(pk: int) -> SLO:
    slo = slos_list(include_retired=True).filter(pk=pk).first()
    if slo is None:
        raise Http404("No such SLO.")
    return slo


# --- SLOs --------------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def slo_list(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in SliKind.values else ""
    state = request.GET.get("state", "")
    state = state if state in STATE_ORDER else ""
    retired = request.GET.get("retired") == "1"
    slos = slos_list(include_retired=retired)
    if kind:
        slos = slos.filter(sli_kind=kind)
    rows = [slo_row(slo) for slo in slos]
    counts = Counter(row.state for row in rows)
    alerting = sum(1 for row in rows if row.alert_level)
    shown = sorted((row for row in rows if not state or row.state == state), key=SloRow.sort_key)
    filtered = bool(kind or state)
    return render(
        request,
        "service_levels/list.html",
        {
            "rows": shown,
            "counts": counts,
            "total": len(rows),
            "alerting": alerting,
            "kinds": SliKind.choices,
            "states": sorted(SloStatus.State.choices, key=lambda choice: STATE_ORDER[choice[0]]),
            "selected": {"kind": kind, "state": state, "retired": retired},
            "filtered": filtered,
            "any_slo": bool(rows) or (filtered and slos_list(include_retired=True).exists()),
            "can_edit": _can_edit(request),
        },
    )


def _slo_form_page(request, form: SloForm, slo: SLO | None):
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = form.save()
            except ValidationError as exc:
                form.show_errors(exc)
            else:
                if saved.active:  # the live numbers under the new contract at once, not in a minute
                    evaluation.statuses_refresh([saved], now=timezone.now(), tz=client_tz())
                verb = "saved" if slo else "added"
                messages.success(request, f"SLO “{saved.display_name}” {verb}.")
                return redirect("service_levels:detail", pk=saved.pk)
        status = 400
    return render(
        request,
        "service_levels/form.html",
        {"form": form, "slo": slo, "threshold_needed": services.THRESHOLD_NEEDED},
        status=status,
    )


@capability_required(Cap.EDIT)
def slo_new(request):
    return _slo_form_page(request, SloForm(request.POST or None, tz=client_tz()), None)


@capability_required(Cap.EDIT)
def slo_edit(request, pk):
    slo = _slo_or_404(pk)
    return _slo_form_page(request, SloForm(request.POST or None, slo=slo, tz=client_tz()), slo)


def _burn_rows(status: SloStatus | None, window_minutes: int) -> tuple[list[dict], list[dict]]:
    """Burn rate per lookback, and each page/ticket pair with its factor k = f·W/L and whether it fired."""
    rates = status.burn_rates if status else {}
    fired = {(entry.get("long"), entry.get("short")) for entry in rates.get("fired", []) if isinstance(entry, dict)}
    lookbacks = [{"name": name, "rate": rate_text(rates.get(name))} for name in budget.LOOKBACK_MINUTES]
    pairs = []
    for pair in budget.BURN_PAIRS:
        factor = budget.burn_factor(pair, window_minutes)
        pairs.append(
            {
                "level": pair.level,
                "label": ALERT_LABELS[pair.level],
                "chip": ALERT_CHIPS[pair.level],
                "long": pair.long,
                "short": pair.short,
                "share": percent(pair.budget_share, 0),
                "factor": plain(factor.quantize(Decimal("0.01"))),  # 14.4, 6, 1.03: no more places than the rates
                "long_rate": rate_text(rates.get(pair.long)),
                "short_rate": rate_text(rates.get(pair.short)),
                "fired": (pair.long, pair.short) in fired,
            }
        )
    return lookbacks, pairs


@capability_required(Cap.VIEW)
def slo_detail(request, pk):
    slo = _slo_or_404(pk)
    row = slo_row(slo)
    tz, now = client_tz(), timezone.now()
    window = windows.live_window(slo.window_kind, slo.window_days, now, tz)
    lookbacks, pairs = _burn_rows(row.status, window.minutes)
    series = daily_series(slo, window.start, window.end, tz)
    percentiles = (
        latency_percentiles(slo, window.start, min(window.end, now)) if slo.sli_kind == SliKind.LATENCY else None
    )
    periods = [
        {
            "period": period,
            "attainment": percent(period.attainment),
            "consumed": percent(period.budget_consumed, 1),
        }
        for period in slo.periods.all()[:24]
    ]
    breaches = [_breach_row(breach) for breach in breaches_list().filter(slo=slo)[:MAX_ROWS]]
    tiers = [
        {"below": plain(Decimal(str(t["below"]))), "credit": plain(Decimal(str(t["credit_percent"])))}
        for t in slo.credit_tiers or []
    ]
    return render(
        request,
        "service_levels/detail.html",
        {
            "slo": slo,
            "row": row,
            "status": row.status,
            "window": window,
            "window_end_shown": window.end - dt.timedelta(seconds=1),
            "threshold": threshold_text(slo),
            "source": source_text(slo),
            "tiers": tiers,
            "timeslice_target": exact_percent(slo.timeslice_target),
            "lookbacks": lookbacks,
            "pairs": pairs,
            "runs_out": _runs_out(row.status, window.minutes, _minutes_left(slo, window, now)),
            "series": [
                {**day, "sli_text": percent(day["sli"]), "budget_text": percent(day["budget_remaining"], 1)}
                for day in series
            ],
            "sli_figure": sli_figure(series, slo.objective),
            "budget_figure": budget_figure(series),
            "percentiles": percentiles,
            "periods": periods,
            "breaches": breaches,
            "can_edit": _can_edit(request),
        },
    )


def _minutes_left(slo: SLO, window: windows.Period, now: dt.datetime) -> int:
    """Calendar months close at their end; a rolling window always has its whole length ahead."""
    if slo.window_kind == SLO.WindowKind.CALENDAR_MONTH:
        return max(0, int((window.end - now).total_seconds() // 60))
    return window.minutes


def _runs_out(status: SloStatus | None, window_minutes: int, minutes_left: int) -> str | None:
    """How long the budget left lasts at the last hour's burn rate (rate 1 spends a whole budget in W), when
    that is before the window closes."""
    if status is None or status.budget_remaining is None or status.budget_remaining <= 0:
        return None
    rate = status.burn_rates.get("1h")
    if rate in (None, "") or Decimal(str(rate)) <= 0:
        return None
    minutes = status.budget_remaining * window_minutes / Decimal(str(rate))
    if minutes >= minutes_left:
        return None
    hours = int(minutes // 60)
    if hours >= 48:
        return f"about {hours // 24} days"
    return f"about {hours} hour{'s' if hours != 1 else ''}" if hours else "under an hour"


@require_POST
@capability_required(Cap.EDIT)
def slo_retire(request, pk):
    slo = _slo_or_404(pk)
    try:
        services.slo_save(slo=slo, active=False)
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(
            request, f"“{slo.display_name}” retired: it is no longer evaluated; its periods and breaches stay."
        )
    return redirect("service_levels:detail", pk=slo.pk)


@require_POST
@capability_required(Cap.EDIT)
def slo_delete(request, pk):
    slo = _slo_or_404(pk)
    name = slo.display_name
    try:
        services.slo_delete(slo=slo)
    except ValidationError as exc:
        _flash_error(request, exc)
        return redirect("service_levels:detail", pk=pk)
    messages.success(request, f"SLO “{name}” deleted with its measurements.")
    return redirect("service_levels:list")


# --- breaches and credits ----------------------------------------------------------------------------------


def _breach_row(breach) -> dict:
    credit = getattr(breach, "credit", None)
    return {
        "breach": breach,
        "attainment": percent(breach.attainment),
        "objective": exact_percent(breach.objective),
        "consumed": percent(breach.budget_consumed, 1),
        "incidents": [{"id": pk, "url": reverse("incidents:detail", args=[pk])} for pk in breach.incident_ids],
        "credit": credit,
        "credit_chip": CREDIT_CHIPS.get(credit.status, "") if credit else "",
    }


@capability_required(Cap.VIEW)
def breach_list(request):
    breaches = [_breach_row(breach) for breach in breaches_list()[:MAX_ROWS]]
    credits = [
        {"credit": credit, "chip": CREDIT_CHIPS.get(credit.status, "chip-muted")}
        for credit in credits_list()[:MAX_ROWS]
    ]
    months = credits_by_month()
    due = {}
    for month in months:
        if month["due"]:
            due[month["currency"]] = due.get(month["currency"], Decimal(0)) + month["due"]
    return render(
        request,
        "service_levels/breaches.html",
        {
            "breaches": breaches,
            "credits": credits,
            "months": months,
            "due_totals": sorted(due.items()),
            "can_edit": _can_edit(request),
            "settle_form": SettleForm(),
            "max_rows": MAX_ROWS,
        },
    )


@require_POST
@capability_required(Cap.EDIT)
def credit_settle(request, pk):
    credit = credits_list().filter(pk=pk).first()
    if credit is None:
        raise Http404("No such service credit.")
    back = reverse("service_levels:breaches") + f"#credit-{credit.pk}"
    form = SettleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether the credit was issued or waived.")
        return redirect(back)
    try:
        services.credit_settle(credit=credit, status=form.cleaned_data["status"], note=form.cleaned_data["note"])
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(
            request,
            f"Credit of {credit.amount:,.2f} {credit.currency} for {credit.breach.slo.display_name} "
            f"({credit.breach.period_label}) marked {credit.get_status_display().lower()}.",
        )
    return redirect(back)


# --- business calendars ------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def calendar_list(request):
    calendars = BusinessCalendar.objects.annotate(slo_count=Count("slos")).order_by("name")
    rows = [
        {
            "calendar": calendar,
            "days": [(day, hours_text((calendar.hours or {}).get(day))) for day in DAYS],
            "always_open": not calendar.hours,
        }
        for calendar in calendars
    ]
    return render(request, "service_levels/calendars.html", {"rows": rows, "can_edit": _can_edit(request)})


def _calendar_form_page(request, form: CalendarForm, calendar: BusinessCalendar | None):
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = form.save()
            except ValidationError as exc:
                form.show_errors(exc)
            else:
                messages.success(request, f"Business calendar “{saved.name}” saved.")
                return redirect("service_levels:calendars")
        status = 400
    return render(request, "service_levels/calendar_form.html", {"form": form, "calendar": calendar}, status=status)


@capability_required(Cap.EDIT)
def calendar_new(request):
    return _calendar_form_page(request, CalendarForm(request.POST or None), None)


@capability_required(Cap.EDIT)
def calendar_edit(request, pk):
    calendar = BusinessCalendar.objects.filter(pk=pk).first()
    if calendar is None:
        raise Http404("No such business calendar.")
    return _calendar_form_page(request, CalendarForm(request.POST or None, calendar=calendar), calendar)


# --- OpenSLO -----------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def openslo_export(request):
    """Every active SLO as OpenSLO v1 YAML (the API's GET slos/openslo/ reads with `view` too)."""
    response = HttpResponse(services.openslo_export(slos_list()), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{request.tenant.slug}-slos.openslo.yaml"'
    return response


@capability_required(Cap.EDIT)
def openslo_import(request):
    form = OpenSloUploadForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = services.openslo_import(form.cleaned_data["file"])
            except ValidationError as exc:
                problems = exc.messages
                messages.error(
                    request,
                    f"Nothing imported: the file has {len(problems)} problem{'s' if len(problems) != 1 else ''}.",
                )
            else:
                if saved:
                    messages.success(
                        request,
                        f"{len(saved)} SLO{'s' if len(saved) != 1 else ''} imported (created or updated by name): "
                        + ", ".join(slo.name for slo in saved[:10])
                        + ("…" if len(saved) > 10 else "."),
                    )
                else:
                    messages.info(request, "The file holds no SLO documents: nothing was imported.")
                return redirect("service_levels:list")
        status = 400
    return render(request, "service_levels/openslo_import.html", {"form": form, "problems": problems}, status=status)


# --- drift -------------------------------------------------------------------------------------------------


def _worst(statuses) -> str | None:
    known = [s for s in statuses if s in DRIFT_ORDER]
    return min(known, key=DRIFT_ORDER.__getitem__) if known else None


@capability_required(Cap.VIEW)
def drift_list(request):
    monitors = list(drift_monitors().order_by("asset__name", "feature"))
    latest = latest_checks([monitor.pk for monitor in monitors])
    groups: dict[int, dict] = {}
    for monitor in monitors:
        check = latest.get(monitor.pk)
        group = groups.setdefault(monitor.asset_id, {"asset": monitor.asset, "rows": []})
        group["rows"].append(
            {"monitor": monitor, "check": check, "chip": DRIFT_CHIPS.get(check.status, "") if check else ""}
        )
    for group in groups.values():
        group["worst"] = _worst(row["check"].status for row in group["rows"] if row["check"])
        group["worst_label"] = dict(DriftCheck.Status.choices).get(group["worst"], "")
        group["worst_chip"] = DRIFT_CHIPS.get(group["worst"], "chip-muted")
    ordered = sorted(groups.values(), key=lambda g: (DRIFT_ORDER.get(g["worst"], 3), g["asset"].name.lower()))
    counts = Counter(check.status for check in latest.values())
    return render(
        request,
        "service_levels/drift.html",
        {"groups": ordered, "counts": counts, "monitors": len(monitors)},
    )


@capability_required(Cap.VIEW)
def drift_asset(request, asset_id):
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None:
        raise Http404("No such asset.")
    tz = client_tz()
    features = []
    for monitor in drift_monitors(asset.pk).order_by("feature"):
        checks = list(drift_checks(monitor))
        latest = checks[0] if checks else None
        result, problem = None, ""
        if latest is not None:
            try:
                # The stored reference has no sample (drift_submit drops it): KS falls back to the binned
                # approximation, which only matters for the statistic; the shares are the same.
                result = drift.compare(latest.reference, latest.current)
            except ValueError as exc:
                problem = str(exc)
        key = f"m{monitor.pk}"
        features.append(
            {
                "monitor": monitor,
                "key": key,
                "latest": latest,
                "chip": DRIFT_CHIPS.get(latest.status, "") if latest else "",
                "thresholds": {name: plain(getattr(monitor, name)) for name in ("psi_warn", "psi_alert", "js_alert")},
                "ks_pvalue": pvalue_text(latest.ks_pvalue) if latest else None,
                "checks": checks[:12],
                "psi_figure": psi_history_figure(checks, psi_warn=monitor.psi_warn, psi_alert=monitor.psi_alert, tz=tz),
                "result": result,
                "shares": (
                    [
                        {"label": label, "reference": percent(ref, 1), "current": percent(cur, 1)}
                        for label, ref, cur in zip(
                            result.labels, result.reference_share, result.current_share, strict=True
                        )
                    ]
                    if result
                    else []
                ),
                "distribution_figure": (
                    distribution_figure(result, reference_label=monitor.reference_label or "Reference")
                    if result
                    else None
                ),
                "problem": problem,
            }
        )
    features.sort(key=lambda f: (DRIFT_ORDER.get(f["latest"].status, 3) if f["latest"] else 4, f["monitor"].feature))
    return render(request, "service_levels/drift_asset.html", {"asset": asset, "features": features})
