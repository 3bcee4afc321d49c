"""What the generators read: the client's daily rollup, ledger and usage events, the model price catalog, and
the measures a realised saving is computed on. Reads only; one query per question, never per row.

Token columns: provider bills book uncached input, cache reads and output on separate rows, so their input
tokens exclude cached ones; rows booked from usage events count cached tokens inside the input (Keel's rule for
events). `uncached_input()` puts both on the first footing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BigIntegerField, Case, Count, F, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from apps.catalog.selectors import catalog_entries_for, provider_names
from apps.finops.focus import AI_CATEGORY
from apps.finops.models import AllocationRule, CostDaily, CostRecord, SourceKind, UsageEvent

from .models import Method

ZERO = Decimal(0)
MILLION = Decimal(1_000_000)


def catalog_provider(written: str) -> str:
    """The catalog's provider name for a provider as a bill or an event writes it (OpenAI → openai)."""
    names = provider_names(written or "")
    return names[0] if names else ""


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


# --- prices ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """One catalog entry's prices in USD per token."""

    key: str
    input: Decimal | None
    cache_read: Decimal | None
    output: Decimal | None
    deprecation_date: dt.date | None

    @property
    def cached(self) -> Decimal | None:
        """Cache reads are billed as input when the catalog has no cache price for the model."""
        return self.cache_read if self.cache_read is not None else self.input

    @property
    def supports_caching(self) -> bool:
        return self.cache_read is not None and self.input is not None and self.cache_read < self.input

    def cost(self, *, uncached: int, cached: int, output: int) -> Decimal | None:
        parts = ((uncached, self.input), (cached, self.cached), (output, self.output))
        if any(tokens and price is None for tokens, price in parts):
            return None
        return sum((Decimal(tokens) * price for tokens, price in parts if tokens), ZERO)


class Catalog:
    """Catalog look-ups for one refresh, batched and remembered: (provider, model id) → Price or None."""

    def __init__(self):
        self._known: dict[tuple[str, str], Price | None] = {}

    def load(self, pairs) -> None:
        wanted = [pair for pair in dict.fromkeys(pairs) if pair not in self._known and pair[1]]
        if not wanted:
            return
        found = catalog_entries_for(wanted)
        for pair in wanted:
            entry = found.get(pair)
            self._known[pair] = (
                Price(
                    key=entry.key,
                    input=entry.input_cost_per_token,
                    cache_read=entry.cache_read_input_token_cost,
                    output=entry.output_cost_per_token,
                    deprecation_date=entry.deprecation_date,
                )
                if entry is not None
                else None
            )

    def get(self, provider: str, model: str) -> Price | None:
        self.load([(provider, model)])
        return self._known.get((provider, model))


# --- workloads -----------------------------------------------------------------------------------------------


def uncached_input():
    return Case(
        When(source__kind=SourceKind.USAGE_EVENTS, then=F("input_tokens") - F("cached_tokens")),
        default=F("input_tokens"),
        output_field=BigIntegerField(),
    )


@dataclass
class Workload:
    """One model's use by one project/workspace and asset over the window, from the daily rollup."""

    provider_name: str  # as the bill writes it
    provider: str  # the catalog's name
    model: str
    sub_account_id: str
    asset_id: int | None
    currency: str
    cost: Decimal
    uncached: int
    cached: int
    output: int
    requests: int

    @property
    def input(self) -> int:
        return self.uncached + self.cached

    @property
    def tokens(self) -> int:
        return self.uncached + self.cached + self.output

    def ledger_filters(self) -> dict:
        filters = {"provider": self.provider_name, "model": self.model, "currency": self.currency}
        if self.sub_account_id:
            filters["sub_account"] = self.sub_account_id
        if self.asset_id:
            filters["asset"] = self.asset_id
        return filters

    def measure_filters(self) -> dict:
        """The workload with every model of its provider: what a change of model is measured on."""
        return {
            "provider_name": self.provider_name,
            "sub_account_id": self.sub_account_id,
            "asset_id": self.asset_id,
            "service_category": AI_CATEGORY,
            "charge_category": "Usage",
            "billing_currency": self.currency,
        }


def ledger_workloads(start: dt.date, end: dt.date) -> list[Workload]:
    rows = (
        CostDaily.objects.filter(day__gte=start, day__lt=end, service_category=AI_CATEGORY, charge_category="Usage")
        .exclude(x_model="")
        .values("provider_name", "x_model", "sub_account_id", "asset_id", "billing_currency")
        .annotate(
            sum_cost=Sum("effective_cost"),
            sum_uncached=Sum(uncached_input()),
            sum_cached=Sum("cached_tokens"),
            sum_output=Sum("output_tokens"),
            sum_requests=Sum("requests"),
        )
        .order_by("provider_name", "x_model", "sub_account_id", "asset_id", "billing_currency")
    )
    return [
        Workload(
            provider_name=row["provider_name"],
            provider=catalog_provider(row["provider_name"]),
            model=row["x_model"],
            sub_account_id=row["sub_account_id"],
            asset_id=row["asset_id"],
            currency=row["billing_currency"],
            cost=row["sum_cost"] or ZERO,
            uncached=max(int(row["sum_uncached"] or 0), 0),
            cached=int(row["sum_cached"] or 0),
            output=int(row["sum_output"] or 0),
            requests=int(row["sum_requests"] or 0),
        )
        for row in rows
    ]


def sub_account_names(ids: set[str], start: dt.date, end: dt.date) -> dict[str, str]:
    """How to name projects and workspaces (the rollup keeps only their ids): the name the bill gives, else the
    department most of its cost is allocated to, with the id."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    found = dict(
        CostRecord.objects.filter(
            charge_period_start__gte=day_start(start), charge_period_start__lt=day_start(end), sub_account_id__in=ids
        )
        .exclude(sub_account_name="")
        .values_list("sub_account_id", "sub_account_name")
        .distinct()
    )
    missing = ids - set(found)
    if missing:
        rows = (
            CostDaily.objects.filter(day__gte=start, day__lt=end, sub_account_id__in=missing, department__isnull=False)
            .values("sub_account_id", "department__name")
            .annotate(total=Sum("effective_cost"))
            .order_by("sub_account_id", "-total")
        )
        for row in rows:
            found.setdefault(row["sub_account_id"], f"{row['department__name']} ({row['sub_account_id']})")
    return found


@dataclass
class EventGroup:
    """One agent's calls to one model over the window, from the usage events; `short_*` count only the calls
    whose prompt is under the threshold asked for."""

    provider: str
    model: str
    agent: str
    currency: str
    calls: int
    uncached: int
    cached: int
    output: int
    cost: Decimal
    short_calls: int = 0
    short_uncached: int = 0
    short_cached: int = 0
    short_output: int = 0
    short_cost: Decimal = ZERO

    @property
    def input(self) -> int:
        return self.uncached + self.cached


def event_groups(start: dt.date, end: dt.date, *, short_below: int | None = None) -> list[EventGroup]:
    short = Q(input_tokens__lt=short_below) if short_below else Q(pk__isnull=True)
    uncached = F("input_tokens") - F("cached_tokens")
    rows = (
        UsageEvent.objects.filter(occurred_at__gte=day_start(start), occurred_at__lt=day_start(end))
        .values("provider", "model", "agent", "currency")
        .annotate(
            n_calls=Count("id"),
            n_uncached=Sum(uncached),
            n_cached=Sum("cached_tokens"),
            n_output=Sum("output_tokens"),
            n_cost=Coalesce(Sum("cost"), Value(ZERO)),
            n_short_calls=Count("id", filter=short),
            n_short_uncached=Coalesce(Sum(uncached, filter=short), 0),
            n_short_cached=Coalesce(Sum("cached_tokens", filter=short), 0),
            n_short_output=Coalesce(Sum("output_tokens", filter=short), 0),
            n_short_cost=Coalesce(Sum("cost", filter=short), Value(ZERO)),
        )
        .order_by("provider", "model", "agent", "currency")
    )
    return [
        EventGroup(
            provider=catalog_provider(row["provider"]) or row["provider"],
            model=row["model"],
            agent=row["agent"],
            currency=row["currency"],
            calls=row["n_calls"],
            uncached=max(int(row["n_uncached"] or 0), 0),
            cached=int(row["n_cached"] or 0),
            output=int(row["n_output"] or 0),
            cost=row["n_cost"],
            short_calls=row["n_short_calls"],
            short_uncached=max(int(row["n_short_uncached"]), 0),
            short_cached=int(row["n_short_cached"]),
            short_output=int(row["n_short_output"]),
            short_cost=row["n_short_cost"],
        )
        for row in rows
    ]


def event_models(start: dt.date, end: dt.date) -> set[tuple[str, str]]:
    """(catalog provider, model) pairs that usage events report in the window."""
    pairs = (
        UsageEvent.objects.filter(occurred_at__gte=day_start(start), occurred_at__lt=day_start(end))
        .values_list("provider", "model")
        .distinct()
    )
    return {(catalog_provider(p) or p, m) for p, m in pairs}


@dataclass
class RepeatedPrompts:
    """Calls of one agent and model whose prompt hash came back at least N times on at least D days."""

    provider: str
    model: str
    agent: str
    currency: str
    hashes: int
    calls: int
    repeat_uncached: int  # uncached input tokens of every repeat after each prompt's first call


def repeated_prompts(start: dt.date, end: dt.date, *, min_calls: int, min_days: int) -> list[RepeatedPrompts]:
    from django.db import connection

    table = UsageEvent._meta.db_table
    sql = f"""
        WITH per_hash AS (
            SELECT provider, model, agent, currency, prompt_hash, count(*) AS calls,
                   count(DISTINCT (occurred_at AT TIME ZONE 'UTC')::date) AS days,
                   sum(GREATEST(input_tokens - cached_tokens, 0)) AS uncached,
                   (array_agg(GREATEST(input_tokens - cached_tokens, 0) ORDER BY occurred_at, id))[1] AS first_uncached
            FROM {table}
            WHERE occurred_at >= %s AND occurred_at < %s AND prompt_hash <> ''
            GROUP BY provider, model, agent, currency, prompt_hash
        )
        SELECT provider, model, agent, currency, count(*), sum(calls), sum(uncached - first_uncached)
        FROM per_hash WHERE calls >= %s AND days >= %s
        GROUP BY provider, model, agent, currency
        ORDER BY provider, model, agent, currency
    """  # noqa: S608 — the table name is a constant
    with connection.cursor() as cur:
        cur.execute(sql, [day_start(start), day_start(end), min_calls, min_days])
        rows = cur.fetchall()
    return [
        RepeatedPrompts(
            provider=catalog_provider(p) or p,
            model=m,
            agent=a,
            currency=c,
            hashes=int(h),
            calls=int(n),
            repeat_uncached=int(u or 0),
        )
        for p, m, a, c, h, n, u in rows
    ]


def agent_assets() -> dict[str, int]:
    """Agent name as events report it (lower case) → inventory asset id: the asset of that name, else the first
    allocation rule on the agent field that names an asset (exact values only: an event names one agent)."""
    from apps.inventory.selectors import assets_list

    found = {name.lower(): pk for pk, name in assets_list(kind="agent").values_list("pk", "name")}
    for value, asset_id in (
        AllocationRule.objects.filter(enabled=True, match_field=AllocationRule.Match.AGENT, asset__isnull=False)
        .order_by("position", "id")
        .values_list("match_value", "asset_id")
    ):
        if "*" not in value and "?" not in value:
            found.setdefault(value.lower(), asset_id)
    return found


def asset_names(ids) -> dict[int, str]:
    from apps.inventory.selectors import assets_list

    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(assets_list().filter(pk__in=ids).values_list("pk", "name"))


# --- compute and endpoints from the ledger ------------------------------------------------------------------


def on_demand_usage(start: dt.date, end: dt.date):
    """Usage rows in the window that no commitment or spot price covers."""
    return (
        CostRecord.objects.filter(
            charge_period_start__gte=day_start(start), charge_period_start__lt=day_start(end), charge_category="Usage"
        )
        .filter(Q(commitment_discount_id="") | Q(commitment_discount_id__isnull=True))
        .exclude(pricing_category__in=["Committed", "Dynamic"])
    )


def daily_cost_by_group(rows, group: tuple[str, ...]) -> dict[tuple, dict[dt.date, Decimal]]:
    from django.db.models.functions import TruncDate

    result: dict[tuple, dict[dt.date, Decimal]] = {}
    for row in (
        rows.annotate(charge_day=TruncDate("charge_period_start", tzinfo=dt.UTC))
        .values(*group, "charge_day")
        .annotate(cost=Sum("effective_cost"))
        .order_by(*group, "charge_day")
    ):
        key = tuple(row[g] for g in group)
        result.setdefault(key, {})[row["charge_day"]] = row["cost"] or ZERO
    return result


def endpoint_resources(start: dt.date, end: dt.date) -> list[dict]:
    """Ledger resources in the window whose id looks like an AI endpoint, with cost, requests and tokens."""
    from .rules import ENDPOINT_RESOURCES

    rows = (
        CostRecord.objects.filter(
            charge_period_start__gte=day_start(start), charge_period_start__lt=day_start(end), charge_category="Usage"
        )
        .filter(Q(resource_id__iregex=ENDPOINT_RESOURCES.pattern))
        .values("resource_id", "provider_name", "service_name", "sub_account_id", "region_id", "billing_currency")
        .annotate(
            cost=Sum("effective_cost"),
            requests=Coalesce(Sum("x_requests"), 0),
            tokens=Coalesce(Sum("x_input_tokens"), 0) + Coalesce(Sum("x_output_tokens"), 0),
            name=Max("resource_name"),
            first_day=Min("charge_period_start"),
            last_day=Max("charge_period_start"),
        )
        .order_by("resource_id")
    )
    return list(rows)


def events_naming(values: set[str], start: dt.date, end: dt.date) -> set[str]:
    """Which of these names or ids usage events mention as their endpoint or resource attribute."""
    if not values:
        return set()
    wanted = {v.lower() for v in values if v}
    found = set()
    for endpoint, resource in (
        UsageEvent.objects.filter(occurred_at__gte=day_start(start), occurred_at__lt=day_start(end))
        .filter(Q(attributes__has_key="endpoint") | Q(attributes__has_key="resource"))
        .values_list("attributes__endpoint", "attributes__resource")
        .distinct()
    ):
        for value in (endpoint, resource):
            if isinstance(value, str) and value.lower() in wanted:
                found.add(value.lower())
    return found


# --- business units (apps.unit_economics) ---------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessUnitRef:
    code: str
    name: str
    label: str  # one of them: claim
    plural: str


def business_units_by_asset() -> dict[int, BusinessUnitRef]:
    """Business units measured against one AI asset: a change to that asset's workload is best measured per
    unit of business (cost per claim), when the client counts one."""
    try:
        from apps.unit_economics.selectors import units_list
    except ImportError:  # unit economics not installed
        return {}
    found: dict[int, BusinessUnitRef] = {}
    for unit in units_list():
        if unit.scope_kind == "asset" and unit.asset_id:
            found.setdefault(unit.asset_id, BusinessUnitRef(unit.code, unit.name, unit.unit_label, unit.plural))
    return found


def _unit_totals(measure: dict, first: dt.date, end: dt.date) -> tuple[Decimal, Decimal]:
    """Cost of the unit's own scope and its units, from apps.unit_economics (nothing when the unit is gone)."""
    from apps.unit_economics.selectors import unit_cost_series, unit_get

    try:
        unit = unit_get(measure["unit"])
    except Exception:  # noqa: BLE001 — a deleted unit measures nothing; the saving is then not computed
        return ZERO, ZERO
    series = unit_cost_series(unit, start=first, end=end, granularity="day", currency=measure.get("currency"))
    return series.cost, Decimal(series.units or 0)


# --- measures -------------------------------------------------------------------------------------------------

MEASURE_FILTERS = {
    "daily": {
        "provider_name",
        "service_name",
        "service_category",
        "charge_category",
        "sub_account_id",
        "region_id",
        "x_model",
        "asset_id",
        "billing_currency",
    },
    "ledger": {"resource_id", "provider_name", "service_name", "charge_category", "billing_currency"},
    "events": {"provider", "model", "agent", "currency"},
}


def _lookups(table: str, filters: dict) -> dict:
    allowed = MEASURE_FILTERS[table]
    lookups = {}
    for name, value in filters.items():
        if name not in allowed:
            raise ValueError(f"{name} is not a filter of the {table} measure")
        if isinstance(value, list):
            lookups[f"{name}__in"] = value
        elif value is None:
            lookups[f"{name}__isnull"] = True
        else:
            lookups[name] = value
    return lookups


def measure_totals(measure: dict, first: dt.date, end: dt.date) -> tuple[Decimal, Decimal]:
    """(cost, volume) of the measured scope over the UTC days [first, end), the volume in the method's unit
    (business units, requests, millions of tokens, days, or list cost)."""
    table, method = measure["table"], measure["method"]
    if table == "unit":
        return _unit_totals(measure, first, end)
    lookups = _lookups(table, measure.get("filters", {}))
    days = Decimal((end - first).days)
    if table == "daily":
        qs = CostDaily.objects.filter(day__gte=first, day__lt=end, **lookups)
        totals = qs.aggregate(
            cost=Sum("effective_cost"),
            requests=Sum("requests"),
            tokens=Sum(uncached_input() + F("cached_tokens") + F("output_tokens")),
            list_cost=Sum("list_cost"),
        )
    elif table == "ledger":
        qs = CostRecord.objects.filter(
            charge_period_start__gte=day_start(first), charge_period_start__lt=day_start(end), **lookups
        )
        totals = qs.aggregate(
            cost=Sum("effective_cost"),
            requests=Sum("x_requests"),
            tokens=Coalesce(Sum("x_input_tokens"), 0)
            + Coalesce(Sum("x_cached_tokens"), 0)
            + Coalesce(Sum("x_output_tokens"), 0),
            list_cost=Sum("list_cost"),
        )
    elif table == "events":
        qs = UsageEvent.objects.filter(occurred_at__gte=day_start(first), occurred_at__lt=day_start(end), **lookups)
        # Events count cached tokens inside the input.
        totals = qs.aggregate(
            cost=Sum("cost"), requests=Count("id"), tokens=Sum(F("input_tokens") + F("output_tokens"))
        )
        totals["list_cost"] = None
    else:
        raise ValueError(f"unknown measure table {table!r}")
    cost = Decimal(totals["cost"] or 0)
    volume = {
        Method.PER_REQUEST: Decimal(totals["requests"] or 0),
        Method.PER_1M_TOKENS: Decimal(totals["tokens"] or 0) / MILLION,
        Method.PER_DAY: days,
        Method.PER_LIST_DOLLAR: Decimal(totals["list_cost"] or 0),
    }[method]
    return cost, volume


def asset_costs(asset_ids: set[int], start: dt.date, end: dt.date) -> dict[int, dict]:
    """Per asset: its allocated cost, tokens and requests over the window (one currency per asset: the largest)."""
    if not asset_ids:
        return {}
    rows = (
        CostDaily.objects.filter(day__gte=start, day__lt=end, asset_id__in=asset_ids)
        .values("asset_id", "billing_currency")
        .annotate(
            cost=Sum("effective_cost"),
            tokens=Sum(F("input_tokens") + F("output_tokens")),
            calls=Sum("requests"),
        )
        .order_by("asset_id", "-cost")
    )
    found: dict[int, dict] = {}
    for row in rows:
        found.setdefault(row["asset_id"], row)
    return found
