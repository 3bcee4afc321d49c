"""Budget pages: the list with each budget's month, the detail with its burn-down chart, the form, the CSV.
Reads go through selectors (the rollup), writes through services; executives and viewers read only."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required
from apps.finops.drilldown import ledger_rows_url

from .charts import burn_down_figure, series_rows
from .forecast import month_days
from .forms import BudgetForm
from .selectors import (
    STATES,
    budget_status,
    budget_statuses,
    budgets_list,
    crossings_history,
    ledger_filters,
    month_start,
    months_offered,
    next_month,
    parse_month,
    previous_month,
    utc_today,
)
from .services import budget_delete, budget_save, budgets_evaluate


def _budget_or_404(pk: int):
    budget = budgets_list().filter(pk=pk).first()
    if budget is None:
        raise Http404("No such budget.")
    return budget


def _month(request, today: dt.date) -> tuple[dt.date, str]:
    """The month asked for (?month=YYYY-MM, not after this month) and a problem to show, if any."""
    current = month_start(today)
    month = parse_month(request.GET.get("month"), default=current)
    if month is None:
        return current, f"“{request.GET.get('month')}” is not a month (YYYY-MM); this month is shown."
    if month > current:
        return current, "Budgets are evaluated up to this month; this month is shown."
    return month, ""


def _month_nav(month: dt.date, today: dt.date) -> dict:
    current = month_start(today)
    offered = months_offered(today)
    if month not in offered:
        offered.append(month)
    return {
        "month": month,
        "months": sorted(offered, reverse=True),
        "previous": previous_month(month),
        "next": next_month(month) if month < current else None,
        "is_current": month == current,
    }


@capability_required(Cap.VIEW)
def budget_list(request):
    today = utc_today()
    month, problem = _month(request, today)
    statuses = budget_statuses(budgets_list(), month=month, today=today)
    totals: dict[str, dict] = {}
    for status in statuses:
        if not status.budget.active:
            continue
        row = totals.setdefault(
            status.currency, {"currency": status.currency, "amount": Decimal(0), "actual": Decimal(0)}
        )
        row["amount"] += status.amount
        row["actual"] += status.actual
    counts = {state: sum(1 for s in statuses if s.state == state) for state in STATES}
    context = {
        **_month_nav(month, today),
        "statuses": statuses,
        "totals": sorted(totals.values(), key=lambda r: r["currency"]),
        "counts": counts,
        "problem": problem,
        "today": today,
        "can_edit": request.access.can(Cap.EDIT),
        "last_evaluated": max(
            (s.budget.last_evaluated_at for s in statuses if s.budget.last_evaluated_at), default=None
        ),
    }
    return render(request, "budgets/list.html", context)


@capability_required(Cap.VIEW)
def budget_detail(request, pk):
    budget = _budget_or_404(pk)
    today = utc_today()
    month, problem = _month(request, today)
    status = budget_status(budget, month=month, today=today)
    rows = series_rows(status)
    days = month_days(month)
    filters = ledger_filters(budget)
    context = {
        **_month_nav(month, today),
        "budget": budget,
        "status": status,
        "forecast": status.forecast,
        "forecast_text": status.forecast.confidence_text(status.currency),
        "rows": rows,
        "figure": burn_down_figure(status, rows),
        "history": crossings_history(budget),
        "problem": problem,
        "month_rows_url": ledger_rows_url(first_day=days[0], last_day=min(days[-1], today), **filters),
        "excluded": [
            {
                "currency": currency,
                "amount": amount,
                "rows": count,
                "url": ledger_rows_url(first_day=days[0], last_day=days[-1], **{**filters, "currency": currency}),
            }
            for currency, amount, count in status.excluded
        ],
        "can_edit": request.access.can(Cap.EDIT),
        "reporting_currency": request.tenant.reporting_currency,
    }
    return render(request, "budgets/detail.html", context)


CENT = Decimal("0.01")
CSV_HEADER = [
    "day",
    "spend",
    "spent_to_date",
    "expected",
    "forecast_to_date",
    "forecast_low_80",
    "forecast_high_80",
    "budget",
    "currency",
]


@capability_required(Cap.VIEW)
def budget_csv(request, pk):
    """The series the chart shows, one row per day of the month."""
    budget = _budget_or_404(pk)
    today = utc_today()
    month, _problem = _month(request, today)
    status = budget_status(budget, month=month, today=today)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="budget-{budget.pk}-{month:%Y-%m}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in series_rows(status):
        values = (row.spend, row.spent_to_date, row.expected, row.forecast_to_date, row.low, row.high)
        writer.writerow(
            [
                row.day.isoformat(),
                *("" if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP) for value in values),
                status.amount,
                status.currency,
            ]
        )
    return response


def _form_page(request, *, form, budget):
    return render(request, "budgets/form.html", {"form": form, "budget": budget})


@capability_required(Cap.EDIT)
def budget_new(request):
    form = BudgetForm(request.POST or None, reporting_currency=request.tenant.reporting_currency)
    if request.method == "POST" and form.is_valid():
        try:
            budget = budget_save(**form.service_fields())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            budgets_evaluate(budgets=[budget])
            messages.success(request, f"Budget “{budget.name}” added.")
            return redirect("budgets:detail", pk=budget.pk)
    return _form_page(request, form=form, budget=None)


@capability_required(Cap.EDIT)
def budget_edit(request, pk):
    budget = _budget_or_404(pk)
    form = BudgetForm(request.POST or None, budget=budget, reporting_currency=request.tenant.reporting_currency)
    if request.method == "POST" and form.is_valid():
        try:
            budget = budget_save(budget=budget, **form.service_fields())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            budgets_evaluate(budgets=[_budget_or_404(budget.pk)])
            messages.success(request, f"Budget “{budget.name}” saved.")
            return redirect("budgets:detail", pk=budget.pk)
    return _form_page(request, form=form, budget=budget)


@capability_required(Cap.EDIT)
def budget_remove(request, pk):
    budget = _budget_or_404(pk)
    if request.method == "POST":
        name = budget.name
        budget_delete(budget=budget)
        messages.success(request, f"Budget “{name}” deleted.")
        return redirect("budgets:list")
    return render(request, "budgets/delete.html", {"budget": budget})


@require_POST
@capability_required(Cap.EDIT)
def budget_evaluate(request, pk):
    budget = _budget_or_404(pk)
    result = budgets_evaluate(budgets=[budget])
    raised = result["alerts_raised"]
    messages.success(
        request,
        f"Checked “{budget.name}”: "
        + (f"{raised} new alert{'s' if raised != 1 else ''} raised." if raised else "no new threshold crossed."),
    )
    month = parse_month(request.POST.get("month"), default=None)
    url = reverse("budgets:detail", kwargs={"pk": budget.pk})
    return redirect(f"{url}?month={month:%Y-%m}" if month else url)
