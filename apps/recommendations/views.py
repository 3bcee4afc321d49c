"""Recommendations portal: the list (open first, by saving) with totals and the realised-savings chart, the
detail with its arithmetic and evidence, decisions (edit capability), CSVs, settings and routing proposals.
Executives and viewers read; only the edit capability changes anything."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.charts import base_layout, colour, figure_json
from apps.core.permissions import capability_required

from . import selectors, services
from . import text as words
from .forms import AcceptForm, DismissForm, ImplementForm, ProposeForm, ReopenForm, SettingsForm
from .models import Kind, Method, Recommendation, Status

logger = logging.getLogger(__name__)

STATUS_CHIPS = {
    Status.OPEN: "sev-low",
    Status.ACCEPTED: "sev-medium",
    Status.IMPLEMENTED: "chip-ok",
    Status.DISMISSED: "chip-muted",
}
CHART_MONTHS = 12


def _rec_or_404(pk: int) -> Recommendation:
    try:
        return selectors.recommendation_get(pk=pk)
    except Recommendation.DoesNotExist as exc:
        raise Http404("No such recommendation in this client.") from exc


def ledger_url(link: dict | None) -> str:
    """The ledger-rows page for an evidence item's {from, to, filters}; empty if the page is not installed."""
    if not link:
        return ""
    from apps.finops.drilldown import ledger_rows_url

    try:
        return ledger_rows_url(
            first_day=dt.date.fromisoformat(link["from"]),
            last_day=dt.date.fromisoformat(link["to"]),
            **link.get("filters", {}),
        )
    except (NoReverseMatch, ValueError, KeyError):
        return ""


def _describe(rec: Recommendation) -> Recommendation:
    rec.status_chip = STATUS_CHIPS.get(rec.status, "chip-muted")
    rec.saving_text = words.money(rec.estimated_monthly_saving, rec.currency)
    rec.scope_in_title = all(part in rec.title for part in rec.scope_label.split(" · "))
    return rec


def _today() -> dt.date:
    return timezone.localdate()


def _month_label(month: dt.date) -> str:
    return f"{month:%B %Y}"


def _realised_figure(rows: list[dict], by_rec: list[dict]):
    """Stacked bars of realised saving per month, one trace per recommendation; a click opens it."""
    if not rows:
        return None
    months = sorted({r["month"] for r in rows})
    currencies = sorted({r["currency"] for r in rows})
    traces = []
    by_id: dict[int, dict] = {}
    for row in by_rec:
        by_id.setdefault(
            row["id"], {"title": row["title"], "currency": row["currency"], "url": row["url"], "values": {}}
        )["values"][row["month"]] = row["amount"]
    for index, (_, item) in enumerate(sorted(by_id.items())):
        name = item["title"] if len(item["title"]) <= 60 else item["title"][:57] + "…"
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": [m.isoformat() for m in months],
                "y": [float(item["values"][m]) if m in item["values"] else None for m in months],  # drawing only
                "customdata": [item["url"]] * len(months),
                "marker": {"color": colour(index)},
                "hovertemplate": f"%{{x|%B %Y}}<br>{name}<br>%{{y:,.2f}} {item['currency']}<extra></extra>",
            }
        )
    layout = base_layout(
        height=300 if len(traces) > 1 else 270,
        y_title=f"Realised saving ({', '.join(currencies)})",
        legend=len(traces) > 1,
        monthly=True,
    )
    layout["barmode"] = "relative"
    layout["xaxis"]["dtick"] = "M1"
    layout["xaxis"]["automargin"] = True
    layout["margin"]["b"] = 8 if len(traces) > 1 else 36
    if len(months) == 1:
        layout["xaxis"]["type"] = "category"
        layout["xaxis"]["tickformat"] = ""
        for trace in traces:
            trace["x"] = [_month_label(m) for m in months]
    return figure_json({"data": traces, "layout": layout})


def _realised_rows(today: dt.date) -> tuple[list[dict], list[dict]]:
    from .models import RealisedSaving

    first = today.replace(day=1)
    for _ in range(CHART_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    totals = selectors.realised_by_month(months=CHART_MONTHS, today=today)
    by_rec = [
        {
            "id": r.recommendation_id,
            "title": r.recommendation.title,
            "month": r.month,
            "amount": r.amount,
            "currency": r.currency,
            "url": reverse("recommendations:detail", args=[r.recommendation_id]),
        }
        for r in RealisedSaving.objects.filter(month__gte=first, month__lte=today)
        .select_related("recommendation")
        .order_by("month", "recommendation_id")
    ]
    return totals, by_rec


@capability_required(Cap.VIEW)
def recommendation_list(request):
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    query = request.GET.get("q", "")
    recs = [_describe(r) for r in selectors.recommendations_list(status=status, kind=kind, query=query)]
    today = _today()
    this_month = selectors.realised_savings(today)
    totals, by_rec = _realised_rows(today)
    latest = max((r for r in totals if r["month"] < today.replace(day=1)), key=lambda r: r["month"], default=None)
    estimated = selectors.estimated_totals()
    context = {
        "recs": recs,
        "status": status,
        "kind": kind,
        "query": query,
        "statuses": Status.choices,
        "kinds": Kind.choices,
        "counts": selectors.status_counts(),
        "estimated": {
            key: [{**t, "text": words.money(t["amount"], t["currency"])} for t in rows]
            for key, rows in estimated.items()
        },
        "this_month": this_month,
        "this_month_totals": [words.money(a, c) for c, a in sorted(this_month.totals.items())],
        "latest_month": latest,
        "latest_text": words.money(latest["amount"], latest["currency"]) if latest else "",
        "month_label": _month_label(today.replace(day=1)),
        "figure": _realised_figure(totals, by_rec),
        "chart_rows": [{**r, "text": words.money(r["amount"], r["currency"])} for r in reversed(totals)],
        "last_refresh": selectors.last_refresh(),
        "can_edit": request.access.can(Cap.EDIT),
        "filtered": bool(status or kind or query),
        "export_query": request.GET.urlencode(),
    }
    return render(request, "recommendations/list.html", context)


@capability_required(Cap.VIEW)
def recommendation_detail(request, pk):
    rec = _describe(_rec_or_404(pk))
    from apps.audit.selectors import audit_events_for_object

    items = [{**item, "url": ledger_url(item.get("ledger"))} for item in rec.evidence]
    realised = selectors.realised_for(recommendation=rec)
    unit = Method(rec.method).label.lower() if rec.method in Method.values else ""
    context = {
        "rec": rec,
        "evidence": items,
        "realised": [
            {
                "row": r,
                "days": (r.last_day - r.first_day).days + 1,
                "amount": words.money(r.amount, r.currency),
                "cost": words.money(r.cost, r.currency),
                "unit_cost": _unit_text(r.unit_cost, r.currency, rec.measure),
                "volume": _volume_text(r.volume, rec.measure),
            }
            for r in realised
        ],
        "realised_total": [words.money(a, c) for c, a in selectors.realised_total_for(recommendation=rec).items()],
        "baseline_unit": _unit_text(rec.baseline_unit_cost, rec.baseline_currency, rec.measure),
        "baseline_cost": words.money(rec.baseline_cost, rec.baseline_currency) if rec.baseline_cost is not None else "",
        "baseline_volume": _volume_text(rec.baseline_volume, rec.measure) if rec.baseline_volume is not None else "",
        "unit": unit,
        "history": list(audit_events_for_object(object_type=rec._meta.label_lower, object_id=str(rec.pk))[:20])
        if request.access.can(Cap.VIEW_AUDIT)
        else None,
        "can_edit": request.access.can(Cap.EDIT),
        "accept_form": AcceptForm(),
        "dismiss_form": DismissForm(),
        "implement_form": ImplementForm(initial={"implemented_on": _today()}),
        "reopen_form": ReopenForm(),
        "today": _today(),
    }
    return render(request, "recommendations/detail.html", context)


def _unit_text(value, currency: str, measure: dict) -> str:
    if value is None:
        return "—"
    method = measure.get("method", "")
    if method == Method.PER_LIST_DOLLAR:
        return f"{Decimal(value):.4f} per 1.00 of list"
    per = {
        Method.PER_UNIT: measure.get("unit_label", "unit"),
        Method.PER_REQUEST: "request",
        Method.PER_1M_TOKENS: "1 M tokens",
        Method.PER_DAY: "day",
    }.get(method, "")
    places = 4 if method in (Method.PER_REQUEST, Method.PER_UNIT) else 2
    return f"{words.money(value, currency, places=places)} per {per}" if per else words.money(value, currency)


def _volume_text(value, measure: dict) -> str:
    if value is None:
        return "—"
    method = measure.get("method", "")
    if method == Method.PER_UNIT:
        return f"{int(value):,} {measure.get('unit_plural', 'units')}"
    if method == Method.PER_REQUEST:
        return f"{int(value):,} requests"
    if method == Method.PER_1M_TOKENS:
        return f"{words.count(Decimal(value) * 1_000_000)} tokens"
    if method == Method.PER_DAY:
        return f"{int(value)} days"
    if method == Method.PER_LIST_DOLLAR:
        return f"{Decimal(value):,.2f} list cost"
    return str(value)


def _decision(request, pk, form_class, act, success: str):
    rec = _rec_or_404(pk)
    form = form_class(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("recommendations:detail", pk=rec.pk)
    try:
        act(rec, form.cleaned_data)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect("recommendations:detail", pk=rec.pk)


@require_POST
@capability_required(Cap.EDIT)
def recommendation_accept(request, pk):
    return _decision(
        request,
        pk,
        AcceptForm,
        lambda rec, d: services.recommendation_accept(recommendation=rec, note=d["note"]),
        "Accepted. Mark it implemented once the change is live.",
    )


@require_POST
@capability_required(Cap.EDIT)
def recommendation_dismiss(request, pk):
    return _decision(
        request,
        pk,
        DismissForm,
        lambda rec, d: services.recommendation_dismiss(recommendation=rec, reason=d["reason"]),
        "Dismissed, with the reason kept. Refreshing will not reopen it.",
    )


@require_POST
@capability_required(Cap.EDIT)
def recommendation_implement(request, pk):
    return _decision(
        request,
        pk,
        ImplementForm,
        lambda rec, d: services.recommendation_implement(
            recommendation=rec, implemented_on=d["implemented_on"], note=d["note"], today=_today()
        ),
        "Marked implemented. The baseline is the 30 days before; the realised saving is measured against it every day.",
    )


@require_POST
@capability_required(Cap.EDIT)
def recommendation_reopen(request, pk):
    return _decision(
        request,
        pk,
        ReopenForm,
        lambda rec, d: services.recommendation_reopen(recommendation=rec, note=d["note"]),
        "Reopened.",
    )


@require_POST
@capability_required(Cap.EDIT)
def refresh_now(request):
    from celery.result import EagerResult

    from .tasks import refresh_task

    who = getattr(request.user, "email", "") or ""
    try:
        outcome = refresh_task.delay("manual", who)
    except Exception as exc:  # eager mode runs the task here and may raise
        logger.exception("refresh now of recommendations failed")
        messages.error(request, f"The refresh could not finish: {exc}")
        return redirect("recommendations:list")
    if isinstance(outcome, EagerResult):
        result = outcome.result or {}
        if result.get("errors"):
            messages.error(request, "Refreshed, but: " + "; ".join(result["errors"]))
        else:
            messages.success(
                request,
                f"Refreshed: {result.get('created', 0)} new, {result.get('updated', 0)} updated, "
                f"{result.get('removed', 0)} gone.",
            )
    else:
        messages.success(request, "Refresh queued: the list updates within a minute.")
    return redirect("recommendations:list")


def _csv_response(filename: str) -> tuple[HttpResponse, csv.writer]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response, csv.writer(response)


@capability_required(Cap.VIEW)
def export_csv(request):
    """The list as shown (same filters and order), one row per recommendation, money unrounded."""
    recs = selectors.recommendations_list(
        status=request.GET.get("status", ""), kind=request.GET.get("kind", ""), query=request.GET.get("q", "")
    )
    slug = getattr(request.tenant, "slug", "client")
    response, writer = _csv_response(f"{slug}-recommendations-{_today():%Y-%m-%d}.csv")
    writer.writerow(
        [
            "id",
            "kind",
            "title",
            "scope",
            "scope_label",
            "status",
            "estimated_monthly_saving",
            "currency",
            "implemented_on",
            "dismiss_reason",
            "data_from",
            "data_to",
            "provider",
            "model",
            "service",
            "account",
            "asset_id",
            "first_seen_at",
            "last_seen_at",
        ]
    )
    for r in recs:
        writer.writerow(
            [
                r.pk,
                r.kind,
                r.title,
                r.scope_kind,
                r.scope_label,
                r.status,
                r.estimated_monthly_saving,
                r.currency,
                r.implemented_on or "",
                r.dismiss_reason,
                r.window_start,
                r.window_end,
                r.provider,
                r.model,
                r.service,
                r.account,
                r.asset_id or "",
                r.first_seen_at.isoformat(),
                r.last_seen_at.isoformat(),
            ]
        )
    return response


@capability_required(Cap.VIEW)
def realised_csv(request):
    """What the realised-savings chart shows: per month and recommendation, the saving and how it was measured."""
    from .models import RealisedSaving

    today = _today()
    first = today.replace(day=1)
    for _ in range(CHART_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    slug = getattr(request.tenant, "slug", "client")
    response, writer = _csv_response(f"{slug}-realised-savings-{first:%Y-%m}-{today:%Y-%m}.csv")
    writer.writerow(
        [
            "month",
            "recommendation_id",
            "title",
            "first_day",
            "last_day",
            "amount",
            "currency",
            "method",
            "cost",
            "volume",
            "unit_cost",
            "baseline_unit_cost",
        ]
    )
    for r in (
        RealisedSaving.objects.filter(month__gte=first, month__lte=today)
        .select_related("recommendation")
        .order_by("month", "recommendation_id")
    ):
        writer.writerow(
            [
                f"{r.month:%Y-%m}",
                r.recommendation_id,
                r.recommendation.title,
                r.first_day,
                r.last_day,
                r.amount,
                r.currency,
                r.method,
                r.cost,
                r.volume,
                r.unit_cost,
                r.baseline_unit_cost,
            ]
        )
    return response


@capability_required(Cap.VIEW)
def settings_page(request):
    current = services.settings_get()
    can_edit = request.access.can(Cap.EDIT)
    if request.method == "POST":
        if not can_edit:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = SettingsForm(request.POST, instance=services.settings_get())
        if form.is_valid():
            try:
                services.settings_save(**{name: form.cleaned_data[name] for name in form.Meta.fields})
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Settings saved. They apply from the next refresh.")
                return redirect("recommendations:settings")
    else:
        form = SettingsForm(instance=current)
    return render(request, "recommendations/settings.html", {"form": form, "can_edit": can_edit, "current": current})


@capability_required(Cap.EDIT)
def propose(request):
    from .generators import Context, workload_choices

    ctx = Context(as_of=timezone.now().astimezone(dt.UTC).date(), settings=services.settings_get())
    choices, targets = workload_choices(ctx)
    form = ProposeForm(request.POST or None, workloads=[(key, label) for key, label, _ in choices])
    if request.method == "POST" and form.is_valid():
        workload = json.loads(form.cleaned_data["workload"])
        try:
            rec = services.recommendation_propose_routing(
                provider_name=workload["provider_name"],
                model=workload["model"],
                sub_account_id=workload["sub_account_id"],
                asset_id=workload["asset_id"],
                target=form.cleaned_data["target"],
                share_percent=form.cleaned_data["share_percent"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Proposal priced from the last 30 days. Accept it when the team agrees.")
            return redirect("recommendations:detail", pk=rec.pk)
    return render(request, "recommendations/propose.html", {"form": form, "targets": targets, "choices": choices})
