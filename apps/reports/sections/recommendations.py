"""Recommendations for next month: the open savings recommendations with the largest estimated monthly saving,
what all open ones add up to, and the recommendations implemented in the month with the saving realised.

Everything is read through apps.recommendations.selectors: recommendations_list (open ones, largest estimated
saving first), estimated_totals (per status and currency) and realised_savings(month) — the realised saving of
every implemented recommendation measured in the month, (baseline unit cost − the month's unit cost) × the
month's volume from the client's own ledger. realised_for_month() is the figure the value section counts as
cost avoided. Open recommendations are as they stand when the report is computed (on the 1st: what to do next
month); "implemented in the month" is by the implementation date people entered, a calendar date. Estimates and
savings are per currency, never converted; the totals are in the reporting currency, the others listed.

Data (money with two decimals):
    currency, as_of (ISO date the open list was read)
    open_count, open_total, open_other_currencies [{currency, amount, count}]
    open_in_currency_count                 how many open ones are in the reporting currency (open_total's)
    accepted_count, accepted_total         accepted, not yet implemented (reporting currency)
    top                                    [{id, title, kind, kind_label, scope, estimated_saving, currency,
                                             url}] the five open ones with the largest estimated saving
    implemented_count                      implemented in the month
    implemented                            [{id, title, kind_label, implemented_on, estimated_saving, realised,
                                             currency, url}] realised: this month's measured saving or None
    realised_total                         savings realised in the month, reporting currency (measured)
    realised_other_currencies              [{currency, amount}]
    realised                               [{id, title, kind_label, implemented_on, amount, currency, method}]
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from apps.recommendations.models import Kind, Method, Status
from apps.recommendations.selectors import estimated_totals, realised_savings, recommendations_list

from ..period import ReportPeriod, money
from .spend import say_money

KEY = "recommendations"
TITLE = "Recommendations for next month"

ZERO = Decimal(0)
TOP = 5
KIND_LABELS = dict(Kind.choices)
METHOD_LABELS = dict(Method.choices)


def realised_for_month(period: ReportPeriod) -> dict:
    """{"total": Decimal in the reporting currency, "others": {currency: Decimal}, "savings": RealisedSavings}:
    the month's realised savings (unrounded), shared with the value section's cost avoided."""
    savings = realised_savings(period.month)
    others = {c: v for c, v in sorted(savings.totals.items()) if c != period.currency}
    return {"total": savings.totals.get(period.currency, ZERO), "others": others, "savings": savings}


def _url(period: ReportPeriod, pk: int) -> str:
    return f"/c/{period.client_slug}/finops/recommendations/{pk}/"


def build(period: ReportPeriod) -> dict:
    currency = period.currency
    totals = estimated_totals()

    def in_currency(status: str) -> tuple[Decimal, int]:
        row = next((r for r in totals[status] if r["currency"] == currency), None)
        return (row["amount"], row["count"]) if row else (ZERO, 0)

    open_total, open_in_currency = in_currency(Status.OPEN)
    accepted_total, _accepted_in_currency = in_currency(Status.ACCEPTED)
    top = list(recommendations_list(status=Status.OPEN)[:TOP])
    implemented = list(
        recommendations_list(status=Status.IMPLEMENTED).filter(
            implemented_on__gte=period.month, implemented_on__lt=period.next
        )
    )
    realised = realised_for_month(period)
    measured = {(row.recommendation_id, row.currency): row.amount for row in realised["savings"].rows}
    return {
        "currency": currency,
        "as_of": timezone.now().astimezone(period.tz).date().isoformat(),
        "open_count": sum(r["count"] for r in totals[Status.OPEN]),
        "open_total": money(open_total),
        "open_other_currencies": [
            {"currency": r["currency"], "amount": money(r["amount"]), "count": r["count"]}
            for r in sorted(totals[Status.OPEN], key=lambda r: r["currency"])
            if r["currency"] != currency
        ],
        "open_in_currency_count": open_in_currency,
        "accepted_count": sum(r["count"] for r in totals[Status.ACCEPTED]),
        "accepted_total": money(accepted_total),
        "top": [
            {
                "id": rec.pk,
                "title": rec.title,
                "kind": rec.kind,
                "kind_label": KIND_LABELS.get(rec.kind, rec.kind),
                "scope": rec.scope_label,
                "estimated_saving": money(rec.estimated_monthly_saving),
                "currency": rec.currency,
                "url": _url(period, rec.pk),
            }
            for rec in top
        ],
        "implemented_count": len(implemented),
        "implemented": [
            {
                "id": rec.pk,
                "title": rec.title,
                "kind_label": KIND_LABELS.get(rec.kind, rec.kind),
                "implemented_on": rec.implemented_on.isoformat(),
                "estimated_saving": money(rec.estimated_monthly_saving),
                "realised": money(measured.get((rec.pk, rec.currency))) if (rec.pk, rec.currency) in measured else None,
                "currency": rec.currency,
                "url": _url(period, rec.pk),
            }
            for rec in sorted(implemented, key=lambda r: (r.implemented_on, r.pk))
        ],
        "realised_total": money(realised["total"]),
        "realised_other_currencies": [{"currency": c, "amount": money(v)} for c, v in realised["others"].items()],
        "realised": [
            {
                "id": row.recommendation_id,
                "title": row.title,
                "kind_label": KIND_LABELS.get(row.kind, row.kind),
                "implemented_on": row.implemented_on.isoformat() if row.implemented_on else None,
                "amount": money(row.amount),
                "currency": row.currency,
                "method": METHOD_LABELS.get(row.method, row.method),
                "url": _url(period, row.recommendation_id),
            }
            for row in realised["savings"].rows
        ],
    }


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """The saving realised this month, how many were implemented, and what the open ones could still save."""
    out = []
    currency = data["currency"]
    if Decimal(data["realised_total"]) > 0:
        out.append(
            {
                "text": f"Savings already put in place cut {say_money(data['realised_total'], currency)} from this "
                "month's bill.",
                "figure": "recommendations.realised_total",
                "tone": "good",
            }
        )
    count = data["implemented_count"]
    if count:
        out.append(
            {
                "text": f"{count} saving recommendation{' was' if count == 1 else 's were'} implemented this month.",
                "figure": "recommendations.implemented_count",
                "tone": "good",
            }
        )
    if Decimal(data["open_total"]) > 0:
        out.append(
            {
                "text": f"Open recommendations could save an estimated {say_money(data['open_total'], currency)} a "
                "month.",
                "figure": "recommendations.open_total",
                "tone": "neutral",
            }
        )
    return out
