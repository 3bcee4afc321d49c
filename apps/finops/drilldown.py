"""Links from any chart or figure to the ledger rows behind it (the portal's ledger-rows page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

# Filters the ledger-rows page understands, besides from/to (inclusive UTC days):
#   provider, service, category, account, sub_account, region, resource, charge_category, model, source,
#   currency (exact values, as in the cost explorer), department=<id>|none, asset=<id>|none, rule=<id>,
#   allocated=yes|no, ai=yes|no, tag=key or key=value.
LEDGER_FILTERS = (
    "provider",
    "service",
    "category",
    "account",
    "sub_account",
    "region",
    "resource",
    "charge_category",
    "model",
    "source",
    "currency",
    "department",
    "asset",
    "rule",
    "allocated",
    "ai",
    "tag",
)


def ledger_rows_url(*, first_day: dt.date, last_day: dt.date, base: str | None = None, **filters) -> str:
    """The ledger rows charged on [first_day, last_day] (inclusive) that match the filters. Pages that
    link hundreds of figures pass `base` (the ledger page's path, reversed once)."""
    unknown = set(filters) - set(LEDGER_FILTERS)
    if unknown:
        raise ValueError(f"unknown ledger filters: {sorted(unknown)}")
    params = {"from": first_day.isoformat(), "to": last_day.isoformat()}
    params.update({name: str(value) for name, value in filters.items() if value not in (None, "")})
    return (base or reverse("finops:ledger")) + "?" + urlencode(params)


# --- the rows behind a figure ----------------------------------------------------------------------------

DIMENSION_COLUMNS = {
    "provider": "provider_name",
    "service": "service_name",
    "category": "service_category",
    "account": "billing_account_id",
    "sub_account": "sub_account_id",
    "region": "region_id",
    "resource": "resource_id",
    "charge_category": "charge_category",
    "model": "x_model",
    "source": "source__name",
    "currency": "billing_currency",
}
ROWS_PER_PAGE = 100
CSV_MAX_ROWS = 200_000


@dataclass
class LedgerFilter:
    """The ledger-rows page's query string, read once; problems are listed for the page, never raised."""

    first_day: dt.date
    last_day: dt.date
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def querystring(self, **override) -> str:
        params = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(), **self.values, **override}
        return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def ledger_filter(params, *, today: dt.date) -> LedgerFilter:
    errors: list[str] = []

    def day(name: str, default: dt.date) -> dt.date:
        raw = (params.get(name) or "").strip()
        if not raw:
            return default
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            errors.append(f"{raw!r} is not a date (YYYY-MM-DD); {default:%-d %b %Y} is used.")
            return default

    last = day("to", today)
    first = day("from", last.replace(day=1))
    if last < first:
        first, last = last, first
        errors.append("The period ended before it started; the dates were swapped.")
    values = {name: params.get(name, "").strip() for name in LEDGER_FILTERS if (params.get(name) or "").strip()}
    for name in ("department", "asset", "rule"):
        if name in values and not values[name].isdigit() and not (name != "rule" and values[name] == "none"):
            errors.append(f"{name.capitalize()} {values[name]!r} is not an id; that filter was ignored.")
            values.pop(name)
    for name in ("allocated", "ai"):
        if name in values and values[name] not in ("yes", "no"):
            errors.append(f"{name} must be yes or no; that filter was ignored.")
            values.pop(name)
    return LedgerFilter(first_day=first, last_day=last, values=values, errors=errors)


def ledger_rows(selected: LedgerFilter):
    """The CostRecord rows the filter selects, newest first. A department or asset filter also selects the
    rows a shared-cost rule spreads over it that month (they carry the rule, not the department)."""
    from django.db.models import DateField, Exists, OuterRef, Q
    from django.db.models.functions import Cast, TruncMonth

    from .focus import AI_CATEGORY
    from .models import AllocationShare, CostRecord

    start = dt.datetime.combine(selected.first_day, dt.time(), dt.UTC)
    end = dt.datetime.combine(selected.last_day + dt.timedelta(days=1), dt.time(), dt.UTC)
    rows = CostRecord.objects.filter(charge_period_start__gte=start, charge_period_start__lt=end)
    values = selected.values
    for name, column in DIMENSION_COLUMNS.items():
        if name in values:
            rows = rows.filter(**{column: values[name]})
    if "department" in values or "asset" in values:
        rows = rows.annotate(share_month=Cast(TruncMonth("charge_period_start", tzinfo=dt.UTC), DateField()))
    for name in ("department", "asset"):
        if name not in values:
            continue
        if values[name] == "none":  # neither booked to one nor spread over any by a shared-cost rule
            spread = AllocationShare.objects.filter(
                rule_id=OuterRef("allocation_rule_id"), month=OuterRef("share_month"), **{f"{name}__isnull": False}
            )
            rows = rows.filter(**{f"{name}_id__isnull": True}).exclude(Exists(spread))
            continue
        shared = AllocationShare.objects.filter(
            rule_id=OuterRef("allocation_rule_id"),
            month=OuterRef("share_month"),
            **{f"{name}_id": int(values[name])},
        )
        rows = rows.filter(Q(**{f"{name}_id": int(values[name])}) | Exists(shared))
    if "rule" in values:
        rows = rows.filter(allocation_rule_id=int(values["rule"]))
    if "allocated" in values:
        unallocated = Q(department_id__isnull=True, asset_id__isnull=True, allocation_rule_id__isnull=True)
        rows = rows.filter(unallocated) if values["allocated"] == "no" else rows.exclude(unallocated)
    if "ai" in values:
        rows = (
            rows.filter(service_category=AI_CATEGORY)
            if values["ai"] == "yes"
            else rows.exclude(service_category=AI_CATEGORY)
        )
    if "tag" in values:
        key, _, value = values["tag"].partition("=")
        rows = rows.filter(tags__contains={key.strip(): value.strip()}) if value else rows.filter(tags__has_key=key)
    return rows.order_by("-charge_period_start", "-id")


def ledger_rows_totals(rows) -> list[dict]:
    from django.db.models import Count, Sum

    return list(
        rows.order_by()
        .values("billing_currency")
        .annotate(effective_cost=Sum("effective_cost"), billed_cost=Sum("billed_cost"), rows=Count("id"))
        .order_by("billing_currency")
    )
