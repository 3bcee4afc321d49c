"""Reads of the FinOps ledger: sources, runs, and the cost explorer (set-based, one query per view)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import CharField, Count, F, Max, Min, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDay, TruncMonth

from .models import BillingSource, CostRecord, IngestionRun

# Dimensions a person can filter and group the explorer by: name → (label, ledger expression).
EXPLORER_DIMENSIONS: dict[str, tuple[str, str]] = {
    "provider": ("Provider", "provider_name"),
    "service": ("Service", "service_name"),
    "category": ("Service category", "service_category"),
    "account": ("Billing account", "billing_account_id"),
    "sub_account": ("Sub-account", "sub_account_id"),
    "region": ("Region", "region_id"),
    "charge_category": ("Charge category", "charge_category"),
    "model": ("Model", "x_model"),
    "source": ("Billing source", "source__name"),
    "currency": ("Currency", "billing_currency"),
}
MEASURES = ("effective_cost", "billed_cost", "list_cost", "contracted_cost")


def sources_list() -> QuerySet[BillingSource]:
    """Every source with its latest run (one query)."""
    latest = IngestionRun.objects.filter(source=OuterRef("pk")).order_by("-started_at", "-id")
    return BillingSource.objects.annotate(
        latest_run_id=Subquery(latest.values("id")[:1]),
        latest_run_status=Subquery(latest.values("status")[:1]),
        latest_run_error=Subquery(latest.values("error")[:1]),
    ).order_by("name")


def source_get(*, pk: int) -> BillingSource:
    return BillingSource.objects.get(pk=pk)


def runs_list(*, source: BillingSource | None = None, status: str = "") -> QuerySet[IngestionRun]:
    runs = IngestionRun.objects.select_related("source")
    if source is not None:
        runs = runs.filter(source=source)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-started_at", "-id")


@dataclass
class ExplorerQuery:
    """What the cost explorer shows: a UTC charge-period range, filters, a grouping and a measure."""

    start: dt.date
    end: dt.date  # exclusive
    filters: dict[str, str] = field(default_factory=dict)  # dimension → exact value
    tag_key: str = ""
    tag_value: str = ""
    group_by: str = "service"  # a dimension, or "tag:<key>"
    measure: str = "effective_cost"
    granularity: str = "day"  # day | month


@dataclass
class ExplorerResult:
    groups: list[dict]  # {"key", "currency", "amount", "rows"} sorted by amount desc
    series: list[dict]  # {"period", "key", "currency", "amount"}
    totals: dict[str, Decimal]  # currency → amount
    row_count: int


def _records(query: ExplorerQuery) -> QuerySet[CostRecord]:
    start = dt.datetime(query.start.year, query.start.month, query.start.day, tzinfo=dt.UTC)
    end = dt.datetime(query.end.year, query.end.month, query.end.day, tzinfo=dt.UTC)
    records = CostRecord.objects.filter(charge_period_start__gte=start, charge_period_start__lt=end)
    for name, value in query.filters.items():
        if name in EXPLORER_DIMENSIONS and value != "":
            records = records.filter(**{EXPLORER_DIMENSIONS[name][1]: value})
    if query.tag_key:
        if query.tag_value:
            records = records.filter(tags__contains={query.tag_key: query.tag_value})
        else:
            records = records.filter(tags__has_key=query.tag_key)
    return records


def _group_expression(group_by: str):
    if group_by.startswith("tag:"):
        return Coalesce(KeyTextTransform(group_by[4:], "tags"), Value(""), output_field=CharField())  # '' when untagged
    return F(EXPLORER_DIMENSIONS.get(group_by, EXPLORER_DIMENSIONS["service"])[1])


def cost_explorer(query: ExplorerQuery) -> ExplorerResult:
    """Totals by group and by period for the filtered ledger rows; amounts are exact Decimal sums."""
    measure = query.measure if query.measure in MEASURES else "effective_cost"
    records = _records(query)
    key = _group_expression(query.group_by)
    amount = Coalesce(Sum(measure), Decimal(0))
    groups = list(
        records.annotate(key=key)
        .values("key", "billing_currency")
        .annotate(amount=amount, rows=Count("id"))
        .order_by("-amount", "key")
    )
    trunc = TruncMonth if query.granularity == "month" else TruncDay
    series = list(
        records.annotate(key=key, period=trunc("charge_period_start", tzinfo=dt.UTC))
        .values("period", "key", "billing_currency")
        .annotate(amount=amount)
        .order_by("period", "key")
    )
    totals: dict[str, Decimal] = {}
    row_count = 0
    for group in groups:
        group["currency"] = group.pop("billing_currency")
        totals[group["currency"]] = totals.get(group["currency"], Decimal(0)) + group["amount"]
        row_count += group["rows"]
    for point in series:
        point["currency"] = point.pop("billing_currency")
    return ExplorerResult(groups=groups, series=series, totals=totals, row_count=row_count)


def explorer_choices(query: ExplorerQuery, dimension: str, *, limit: int = 200) -> list[str]:
    """Distinct values of a dimension within the period (for filter drop-downs)."""
    column = EXPLORER_DIMENSIONS[dimension][1]
    base = ExplorerQuery(start=query.start, end=query.end)
    return list(
        _records(base).exclude(**{column: ""}).values_list(column, flat=True).distinct().order_by(column)[:limit]
    )


def tag_keys(query: ExplorerQuery, *, limit: int = 200) -> list[str]:
    from django.db import connection

    start = dt.datetime(query.start.year, query.start.month, query.start.day, tzinfo=dt.UTC)
    end = dt.datetime(query.end.year, query.end.month, query.end.day, tzinfo=dt.UTC)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT jsonb_object_keys(tags) AS k FROM {CostRecord._meta.db_table} "  # noqa: S608
            "WHERE charge_period_start >= %s AND charge_period_start < %s ORDER BY k LIMIT %s",
            [start, end, limit],
        )
        return [row[0] for row in cur.fetchall()]


def ledger_totals(*, source: BillingSource | None = None) -> dict[str, dict[str, Decimal]]:
    """Σ of every cost measure per currency (the figure tests and runs compare to the cent)."""
    records = CostRecord.objects.all()
    if source is not None:
        records = records.filter(source=source)
    out: dict[str, dict[str, Decimal]] = {}
    for row in records.values("billing_currency").annotate(
        billed_cost=Coalesce(Sum("billed_cost"), Decimal(0)),
        effective_cost=Coalesce(Sum("effective_cost"), Decimal(0)),
        rows=Count("id"),
        first=Min("charge_period_start"),
        last=Max("charge_period_end"),
    ):
        out[row.pop("billing_currency")] = row
    return out
