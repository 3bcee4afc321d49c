"""Allocation pages: the ordered rules with what each allocated, allocated vs unallocated spend, and the
ledger rows behind any figure (every chart's drill-down lands here). Reads from the rollup except the rows
page, which lists ledger rows a page at a time."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required
from apps.inventory.models import Asset, Department

from .allocation import (
    ALLOCATED_BY_LABELS,
    allocation_overview,
    allocation_rule_delete,
    allocation_rule_save,
    allocation_rules_reorder,
    allocation_status,
    rules_with_targets,
)
from .drilldown import CSV_MAX_ROWS, ROWS_PER_PAGE, ledger_filter, ledger_rows, ledger_rows_totals, ledger_rows_url
from .forms_allocation import AllocationRuleForm
from .models import AllocationRule, AllocationShare

PERIODS = {"last_30_days": "Last 30 days", "this_month": "This month", "last_month": "Last month"}


def _period(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if name == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    if name == "last_30_days":
        return today - dt.timedelta(days=29), today
    return today.replace(day=1), today


def _rule_or_404(pk: int) -> AllocationRule:
    rule = rules_with_targets().filter(pk=pk).first()
    if rule is None:
        raise Http404("No such allocation rule.")
    return rule


@capability_required(Cap.VIEW)
def allocation(request):
    today = timezone.localdate()
    period = request.GET.get("period", "last_30_days")
    period = period if period in PERIODS else "last_30_days"
    first, last = _period(period, today)
    overview = allocation_overview(first_day=first, last_day=last)
    rules = list(rules_with_targets())
    for rule in rules:
        rule.amounts = sorted(
            (currency, amount) for (rule_id, currency), amount in overview["by_rule"].items() if rule_id == rule.pk
        )
        rule.rows_url = ledger_rows_url(first_day=first, last_day=last, rule=rule.pk)
    for row in overview["by_department"]:
        row["url"] = ledger_rows_url(
            first_day=first,
            last_day=last,
            currency=row["billing_currency"],
            **({"department": row["department_id"]} if row["department_id"] else {"allocated": "no"}),
        )
    for total in overview["totals"]:
        total["unallocated_url"] = ledger_rows_url(
            first_day=first, last_day=last, allocated="no", currency=total["currency"]
        )
    context = {
        "rules": rules,
        "overview": overview,
        "implicit": sorted(overview["implicit"].items()),
        "period": period,
        "periods": PERIODS,
        "first_day": first,
        "last_day": last,
        "status": allocation_status(),
        "can_edit": request.access.can(Cap.EDIT),
    }
    return render(request, "finops/allocation.html", context)


def _rule_form_page(request, *, form, rule):
    return render(request, "finops/allocation_rule_form.html", {"form": form, "rule": rule})


@capability_required(Cap.EDIT)
def rule_new(request):
    form = AllocationRuleForm(request.POST or None, initial=_prefill(request.GET))
    if request.method == "POST" and form.is_valid():
        try:
            rule = allocation_rule_save(**form.service_fields())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Rule “{rule.name}” added. History is being re-allocated in the background.")
            return redirect("finops:allocation")
    return _rule_form_page(request, form=form, rule=None)


def _prefill(params) -> dict:
    """A new rule can be started from a figure (e.g. the unallocated rows of one account)."""
    initial = {"enabled": True, "split": AllocationRule.Split.NONE}
    for name in ("name", "match_field", "match_key", "match_value"):
        if params.get(name):
            initial[name] = params[name]
    return initial


@capability_required(Cap.EDIT)
def rule_edit(request, pk):
    rule = _rule_or_404(pk)
    form = AllocationRuleForm(request.POST or None, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            allocation_rule_save(rule=rule, position=rule.position, **form.service_fields())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Rule “{form.cleaned_data['name']}” saved. History is being re-allocated.")
            return redirect("finops:allocation")
    return _rule_form_page(request, form=form, rule=rule)


@capability_required(Cap.EDIT)
def rule_delete(request, pk):
    rule = _rule_or_404(pk)
    if request.method == "POST":
        name = rule.name
        allocation_rule_delete(rule=rule)
        messages.success(request, f"Rule “{name}” deleted. Its rows are being re-allocated by the other rules.")
        return redirect("finops:allocation")
    return render(request, "finops/allocation_rule_delete.html", {"rule": rule})


@require_POST
@capability_required(Cap.EDIT)
def rule_move(request, pk):
    rule = _rule_or_404(pk)
    order = list(AllocationRule.objects.order_by("position", "id").values_list("pk", flat=True))
    index = order.index(rule.pk)
    target = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        allocation_rules_reorder(ordered_ids=order)
        messages.success(request, f"Rule “{rule.name}” moved. History is being re-allocated.")
    return redirect("finops:allocation")


# --- ledger rows ---------------------------------------------------------------------------------------------


def _filter_labels(values: dict) -> list[tuple[str, str]]:
    labels = []
    names = {"department": Department, "asset": Asset, "rule": AllocationRule}
    for key, value in values.items():
        if key in names and value == "none":
            labels.append((key.capitalize(), f"No {key}"))
        elif key in names:
            found = names[key].objects.filter(pk=int(value)).values_list("name", flat=True).first()
            labels.append((key.replace("_", " ").capitalize(), found or f"#{value} (deleted)"))
        else:
            labels.append((key.replace("_", " ").capitalize(), value))
    return labels


def _shares_for(rows) -> dict[tuple[int, dt.date], list[AllocationShare]]:
    """The shares of the shared-cost rules on this page of rows, in one query."""
    keys = {(r.allocation_rule_id, r.charge_period_start.date().replace(day=1)) for r in rows if r.allocation_rule_id}
    if not keys:
        return {}
    found: dict[tuple[int, dt.date], list[AllocationShare]] = {}
    shares = AllocationShare.objects.filter(
        rule_id__in={k[0] for k in keys}, month__in={k[1] for k in keys}
    ).select_related("department", "asset")
    for share in shares:
        found.setdefault((share.rule_id, share.month), []).append(share)
    return found


@capability_required(Cap.VIEW)
def ledger(request):
    selected = ledger_filter(request.GET, today=timezone.localdate())
    rows = ledger_rows(selected).select_related("source", "department", "asset", "allocation_rule")
    if request.GET.get("format") == "csv":
        return _ledger_csv(rows, selected)
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    chunk = list(rows[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE + 1])
    more = len(chunk) > ROWS_PER_PAGE
    chunk = chunk[:ROWS_PER_PAGE]
    shares = _shares_for(chunk)
    for row in chunk:
        row.shares = shares.get((row.allocation_rule_id, row.charge_period_start.date().replace(day=1)), [])
        total = sum((s.weight for s in row.shares), Decimal(0))
        for share in row.shares:
            share.percent = share.weight / total * 100 if total else None
        row.allocated_label = ALLOCATED_BY_LABELS.get(row.allocated_by, row.allocated_by)
    context = {
        "rows": chunk,
        "page": page,
        "more": more,
        "selected": selected,
        "filters": _filter_labels(selected.values),
        "totals": ledger_rows_totals(rows),
        "shared_filter": bool({"department", "asset"} & set(selected.values)),
        "next_qs": selected.querystring(page=page + 1),
        "prev_qs": selected.querystring(page=page - 1) if page > 1 else "",
        "csv_qs": selected.querystring(format="csv"),
        "per_page": ROWS_PER_PAGE,
    }
    return render(request, "finops/ledger.html", context)


class _Echo:
    def write(self, value):
        return value


CSV_COLUMNS = (
    ("ChargePeriodStart", lambda r: r.charge_period_start.isoformat()),
    ("ProviderName", lambda r: r.provider_name),
    ("ServiceName", lambda r: r.service_name),
    ("ServiceCategory", lambda r: r.service_category),
    ("ChargeCategory", lambda r: r.charge_category),
    ("BillingAccountId", lambda r: r.billing_account_id),
    ("SubAccountId", lambda r: r.sub_account_id),
    ("ResourceId", lambda r: r.resource_id),
    ("x_Model", lambda r: r.x_model),
    ("BilledCost", lambda r: r.billed_cost),
    ("EffectiveCost", lambda r: r.effective_cost),
    ("BillingCurrency", lambda r: r.billing_currency),
    ("Department", lambda r: r.department.name if r.department_id and r.department else ""),
    ("Asset", lambda r: r.asset.name if r.asset_id and r.asset else ""),
    ("AllocationRule", lambda r: r.allocation_rule.name if r.allocation_rule_id and r.allocation_rule else ""),
    ("AllocatedBy", lambda r: r.allocated_by),
    ("BillingSource", lambda r: r.source.name),
)


def _ledger_csv(rows, selected) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow([name for name, _ in CSV_COLUMNS])
        for row in rows[:CSV_MAX_ROWS].iterator(chunk_size=2000):
            yield writer.writerow([value(row) for _, value in CSV_COLUMNS])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = f"ledger-rows-{selected.first_day:%Y%m%d}-{selected.last_day:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
