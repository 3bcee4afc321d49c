"""Reads for anomaly detection and its pages: the daily Usage series of every scope from the rollup
(CostDaily, never the raw ledger), the anomaly list with its filters, and one scope's series for a chart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from apps.finops.models import CostDaily

from .detection import Series
from .models import Anomaly, Direction, ScopeKind

USAGE = "Usage"  # credits, taxes, purchases and adjustments never count
CLIENT_LABEL = "All Usage spend"
# The rollup column that keys each scope kind.
SCOPE_COLUMNS = {
    ScopeKind.CLIENT: None,
    ScopeKind.SERVICE: "service_name",
    ScopeKind.ACCOUNT: "billing_account_id",
    ScopeKind.ASSET: "asset_id",
}
HORIZON_SOURCE_DAYS = 28  # sources that fed a scope this recently must have booked a day before it is judged


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


@dataclass
class ScopeSeries:
    """The daily Usage spend of one scope in one currency, and the sources that fed it."""

    kind: str
    key: str
    currency: str
    series: Series = field(default_factory=Series)
    providers: dict[str, Decimal] = field(default_factory=dict)
    recent_sources: set[int] = field(default_factory=set)
    horizon: dt.date | None = None  # the last day every recent source has booked

    @property
    def provider(self) -> str:
        return max(self.providers, key=lambda p: self.providers[p]) if self.providers else ""

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.kind, self.key, self.currency)


def source_last_days() -> dict[int, dt.date]:
    """The last day each billing source has booked anything (the rollup's (source, day) index)."""
    return dict(CostDaily.objects.values("source_id").annotate(last=Max("day")).values_list("source_id", "last"))


def usage_series(*, start: dt.date, end: dt.date, kinds=None) -> dict[tuple, ScopeSeries]:
    """Every scope's daily Usage spend over [start, end] (inclusive), per currency: one grouped query per kind."""
    kinds = list(kinds or SCOPE_COLUMNS)
    recent_from = end - dt.timedelta(days=HORIZON_SOURCE_DAYS)
    found: dict[tuple, ScopeSeries] = {}
    base = CostDaily.objects.filter(charge_category=USAGE, day__gte=start, day__lte=end)
    for kind in kinds:
        column = SCOPE_COLUMNS[kind]
        group = ["day", "billing_currency", "source_id", "provider_name"] + ([column] if column else [])
        rows = base
        if kind == ScopeKind.ASSET:
            rows = rows.filter(asset_id__isnull=False)
        elif column:
            rows = rows.exclude(**{column: ""})
        for row in rows.values(*group).annotate(cost=Sum("effective_cost")).order_by():
            key = "" if column is None else str(row[column])
            ident = (kind, key, row["billing_currency"])
            scope = found.get(ident)
            if scope is None:
                scope = found[ident] = ScopeSeries(kind=kind, key=key, currency=row["billing_currency"])
            scope.series.add(row["day"], row["cost"] or Decimal(0))
            scope.providers[row["provider_name"]] = scope.providers.get(row["provider_name"], Decimal(0)) + abs(
                row["cost"] or 0
            )
            if row["day"] >= recent_from:
                scope.recent_sources.add(row["source_id"])
    last_days = source_last_days()
    for scope in found.values():
        days = [last_days[s] for s in scope.recent_sources if s in last_days]
        scope.horizon = min(days) if days else None
    return found


def asset_names(ids) -> dict[str, str]:
    from apps.inventory.models import Asset

    ids = [int(i) for i in ids if str(i).isdigit()]
    return {str(pk): name for pk, name in Asset.objects.filter(pk__in=ids).values_list("pk", "name")}


def scope_label(kind: str, key: str, provider: str, names: dict[str, str]) -> str:
    if kind == ScopeKind.CLIENT:
        return CLIENT_LABEL
    if kind == ScopeKind.ASSET:
        return names.get(key) or f"Asset #{key} (deleted)"
    if kind == ScopeKind.ACCOUNT:
        return f"{provider} account {key}" if provider else f"Account {key}"
    return key


def ledger_filters(kind: str, key: str, currency: str) -> dict:
    """The ledger-rows filters that select a scope's Usage rows (apps.finops.drilldown.ledger_rows_url)."""
    filters = {"charge_category": USAGE, "currency": currency}
    if kind == ScopeKind.SERVICE:
        filters["service"] = key
    elif kind == ScopeKind.ACCOUNT:
        filters["account"] = key
    elif kind == ScopeKind.ASSET:
        filters["asset"] = key
    return filters


def scope_series(*, kind: str, key: str, currency: str, start: dt.date, end: dt.date) -> ScopeSeries | None:
    """One scope's series over [start, end], for its detail chart."""
    column = SCOPE_COLUMNS[kind]
    rows = CostDaily.objects.filter(
        charge_category=USAGE, day__gte=start, day__lte=end, billing_currency=currency
    ).order_by()
    if column:
        rows = rows.filter(**{column: int(key) if kind == ScopeKind.ASSET else key})
    scope = ScopeSeries(kind=kind, key=key, currency=currency)
    for day, provider, cost in (
        rows.values("day", "provider_name")
        .annotate(cost=Sum("effective_cost"))
        .values_list("day", "provider_name", "cost")
    ):
        scope.series.add(day, cost or Decimal(0))
        scope.providers[provider] = scope.providers.get(provider, Decimal(0)) + abs(cost or 0)
    return scope if scope.series.first_day else None


# --- the list --------------------------------------------------------------------------------------------------

STATUS_FILTERS = {
    "active": ("Open or acknowledged", Q(status__in=[Anomaly.Status.OPEN, Anomaly.Status.ACKNOWLEDGED])),
    "open": ("Open", Q(status=Anomaly.Status.OPEN)),
    "acknowledged": ("Acknowledged", Q(status=Anomaly.Status.ACKNOWLEDGED)),
    "resolved": ("Resolved", Q(status=Anomaly.Status.RESOLVED)),
    "dismissed": ("Dismissed", Q(status=Anomaly.Status.DISMISSED)),
    "all": ("Any status", Q()),
}
PERIODS = {"30": "Last 30 days", "90": "Last 90 days", "180": "Last 6 months", "365": "Last 12 months"}


@dataclass
class ListFilter:
    status: str = "active"
    scope: str = ""
    direction: str = ""
    currency: str = ""
    period: str = "90"
    errors: list[str] = field(default_factory=list)

    def first_day(self, today: dt.date) -> dt.date:
        return today - dt.timedelta(days=int(self.period))

    def querystring(self, **override) -> str:
        from urllib.parse import urlencode

        values = {
            "status": self.status,
            "scope": self.scope,
            "direction": self.direction,
            "currency": self.currency,
            "period": self.period,
            **override,
        }
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def list_filter(params) -> ListFilter:
    """The list's query string, read once; a value it does not know is reported and ignored."""
    selected = ListFilter()
    errors = selected.errors
    checks = {
        "status": STATUS_FILTERS,
        "scope": dict(ScopeKind.choices),
        "direction": dict(Direction.choices),
        "period": PERIODS,
    }
    for name, allowed in checks.items():
        raw = (params.get(name) or "").strip()
        if not raw:
            continue
        if raw in allowed:
            setattr(selected, name, raw)
        else:
            errors.append(f"“{raw}” is not a {name} Keel knows; that filter was ignored.")
    currency = (params.get("currency") or "").strip().upper()
    if currency:
        if len(currency) == 3 and currency.isalpha():
            selected.currency = currency
        else:
            errors.append(f"“{currency}” is not a currency code; that filter was ignored.")
    return selected


def anomalies_list(selected: ListFilter | None = None, *, today: dt.date | None = None) -> QuerySet[Anomaly]:
    rows = Anomaly.objects.select_related("alert")
    if selected is None:
        return rows
    today = today or utc_today()
    rows = rows.filter(STATUS_FILTERS[selected.status][1], day__gte=selected.first_day(today))
    if selected.scope:
        rows = rows.filter(scope_kind=selected.scope)
    if selected.direction:
        rows = rows.filter(direction=selected.direction)
    if selected.currency:
        rows = rows.filter(currency=selected.currency)
    return rows.order_by("-day", "-id")


def anomaly_counts() -> dict[str, int]:
    from django.db.models import Count

    counts = dict(Anomaly.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: counts.get(status, 0) for status in Anomaly.Status.values}


def currencies_seen() -> list[str]:
    return list(Anomaly.objects.order_by("currency").values_list("currency", flat=True).distinct())


def scope_anomalies(anomaly: Anomaly, *, start: dt.date, end: dt.date) -> list[Anomaly]:
    """The other anomalies of the same scope in a period (markers on the detail chart)."""
    return list(
        Anomaly.objects.filter(
            scope_kind=anomaly.scope_kind,
            scope_key=anomaly.scope_key,
            currency=anomaly.currency,
            day__gte=start,
            day__lte=end,
        ).order_by("day")
    )
