"""Reads of recommendations for the portal, the API and the monthly report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, QuerySet, Sum, Value, When

from .models import Kind, RealisedSaving, Recommendation, RefreshRun, Status

STATUS_ORDER = Case(
    When(status=Status.OPEN, then=Value(0)),
    When(status=Status.ACCEPTED, then=Value(1)),
    When(status=Status.IMPLEMENTED, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def recommendations_list(*, status: str = "", kind: str = "", query: str = "") -> QuerySet[Recommendation]:
    """Open first, then accepted, implemented, dismissed; within each the largest estimated saving first."""
    qs = Recommendation.objects.select_related("asset").annotate(status_order=STATUS_ORDER)
    if status in Status.values:
        qs = qs.filter(status=status)
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    if query.strip():
        qs = qs.filter(title__icontains=query.strip())
    return qs.order_by("status_order", "-estimated_monthly_saving", "id")


def recommendation_get(*, pk: int) -> Recommendation:
    """Recommendation.DoesNotExist for another client's id too: each client's rows live in its own schema."""
    return Recommendation.objects.select_related("asset").get(pk=pk)


def estimated_totals() -> dict[str, list[dict]]:
    """{status: [{currency, amount, count}]} of estimated monthly savings, for open, accepted and implemented."""
    totals: dict[str, list[dict]] = {s: [] for s in (Status.OPEN, Status.ACCEPTED, Status.IMPLEMENTED)}
    rows = (
        Recommendation.objects.filter(status__in=list(totals))
        .values("status", "currency")
        .annotate(amount=Sum("estimated_monthly_saving"), count=Count("id"))
        .order_by("status", "-amount")
    )
    for row in rows:
        totals[row["status"]].append({"currency": row["currency"], "amount": row["amount"], "count": row["count"]})
    return totals


def status_counts() -> dict[str, int]:
    counts = dict(Recommendation.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {s: counts.get(s, 0) for s in Status.values}


@dataclass
class RealisedRow:
    recommendation_id: int
    title: str
    kind: str
    month: dt.date
    first_day: dt.date
    last_day: dt.date
    amount: Decimal
    currency: str
    method: str
    implemented_on: dt.date | None


@dataclass
class RealisedSavings:
    month: dt.date
    rows: list[RealisedRow] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)  # currency → amount

    @property
    def total(self) -> Decimal | None:
        """The single-currency total, or None when the savings are in several currencies (use totals)."""
        if len(self.totals) == 1:
            return next(iter(self.totals.values()))
        return Decimal(0) if not self.totals else None


def realised_savings(month: dt.date) -> RealisedSavings:
    """Cost avoided in `month` (any day of it) by the recommendations implemented so far.

    One row per implemented recommendation measured in that month, with the amount
    (baseline unit cost − the month's unit cost) × the month's volume, computed from the client's own data on
    the latest refresh; `totals` sums them per currency (no conversion). The monthly executive report shows
    these as "cost avoided". Amounts are Decimal, unrounded; a negative amount means the unit cost rose.
    """
    first = month.replace(day=1)
    saved = (
        RealisedSaving.objects.filter(month=first)
        .select_related("recommendation")
        .order_by("-amount", "recommendation_id")
    )
    result = RealisedSavings(month=first)
    for row in saved:
        result.rows.append(
            RealisedRow(
                recommendation_id=row.recommendation_id,
                title=row.recommendation.title,
                kind=row.recommendation.kind,
                month=row.month,
                first_day=row.first_day,
                last_day=row.last_day,
                amount=row.amount,
                currency=row.currency,
                method=row.method,
                implemented_on=row.recommendation.implemented_on,
            )
        )
        result.totals[row.currency] = result.totals.get(row.currency, Decimal(0)) + row.amount
    return result


def realised_by_month(*, months: int = 12, today: dt.date) -> list[dict]:
    """[{month, currency, amount}] for the last `months` months up to `today`'s, for the chart and its CSV."""
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(
        RealisedSaving.objects.filter(month__gte=first, month__lte=today)
        .values("month", "currency")
        .annotate(amount=Sum("amount"), recommendations=Count("recommendation", distinct=True))
        .order_by("month", "currency")
    )


def realised_for(*, recommendation: Recommendation) -> list[RealisedSaving]:
    return list(recommendation.realised.order_by("month"))


def realised_total_for(*, recommendation: Recommendation) -> dict[str, Decimal]:
    rows = recommendation.realised.values("currency").annotate(amount=Sum("amount")).order_by("currency")
    return {row["currency"]: row["amount"] for row in rows}


def last_refresh() -> RefreshRun | None:
    return RefreshRun.objects.order_by("-started_at", "-id").first()
