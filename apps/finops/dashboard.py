"""The FinOps dashboard's figures, read from the daily rollup (CostDaily) only — never the raw ledger.

Two SQL statements per dashboard, GROUPING SETS aggregates over the rollup rows of the period and of the
previous equal period, with the department and asset names joined from the inventory. Everything is per
currency (amounts in different currencies are never added); money stays Decimal.

Previous period: a period made of whole calendar months (or month-to-date) is compared with the same days
of the months before it (1–15 Dec with 1–15 Nov, November with October); any other period with the same
number of days just before it (the last 30 days with the 30 days before those).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import reverse

from apps.inventory.models import Asset, Department

from .drilldown import ledger_rows_url
from .focus import AI_CATEGORY
from .models import CostDaily
from .selectors import PRESETS, analytics_cursor, preset_range

ROLLUP = CostDaily._meta.db_table
DEPARTMENTS = Department._meta.db_table
ASSETS = Asset._meta.db_table

# What the spend chart stacks by and top movers compare: name → (label, rollup column).
GROUPS: dict[str, tuple[str, str]] = {
    "service": ("Service", "service_name"),
    "provider": ("Provider", "provider_name"),
    "department": ("Department", "department_id"),
    "asset": ("AI asset", "asset_id"),
}
ID_GROUPS = ("department", "asset")
DEFAULT_GROUP = "service"
DEFAULT_PRESET = "last_30_days"  # bills arrive a day late: on the 1st, "this month" is still empty
DAILY_UP_TO_DAYS = 93  # longer periods are drawn by month
MAX_RANGE_DAYS = 366 * 3
ZERO = Decimal(0)


# --- the period ---------------------------------------------------------------------------------------------


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def previous_period(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period a dashboard compares [first, last] (inclusive) with — see the module docstring."""
    if first.day == 1:
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        previous_first = _add_months(first, -months)
        previous_last = (
            _month_end(_add_months(last, -months)) if last == _month_end(last) else _add_months(last, -months)
        )
        return previous_first, previous_last
    length = (last - first).days + 1
    return first - dt.timedelta(days=length), first - dt.timedelta(days=1)


@dataclass
class DashboardQuery:
    """What a dashboard shows: an inclusive UTC day range, a currency ("" = pick one), and a grouping."""

    first_day: dt.date
    last_day: dt.date
    currency: str = ""
    group: str = DEFAULT_GROUP
    preset: str = ""  # the preset the dates equal, or "" (custom)
    errors: list[str] = field(default_factory=list)

    @property
    def previous(self) -> tuple[dt.date, dt.date]:
        return previous_period(self.first_day, self.last_day)

    @property
    def granularity(self) -> str:
        return "day" if (self.last_day - self.first_day).days < DAILY_UP_TO_DAYS else "month"


def _day(value: str, label: str, errors: list[str]) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.append(f"{label} {value!r} is not a date (use YYYY-MM-DD); the default period is shown.")
        return None


def dashboard_query(params: Mapping[str, str], *, today: dt.date, to_exclusive: bool = False) -> DashboardQuery:
    """Read ?preset= or ?from=&to=, ?currency= and ?group=. Mistakes fall back to defaults, with a message.

    The portal's `to` is the last day shown; the API's is the day after (to_exclusive), as in its other
    endpoints."""
    errors: list[str] = []
    preset = (params.get("preset") or "").strip()
    if preset and preset not in PRESETS and preset != "custom":
        errors.append(f"Unknown period {preset!r}; the last 30 days are shown.")
        preset = ""
    if preset in PRESETS:
        first, last = preset_range(preset, today)
    else:
        first = _day(params.get("from", ""), "From", errors)
        last = _day(params.get("to", ""), "To", errors)
        if last is not None and to_exclusive:
            last -= dt.timedelta(days=1)
        if first is None and last is None:
            first, last = preset_range(DEFAULT_PRESET, today)
        elif first is None:
            first = last - dt.timedelta(days=29)
        elif last is None:
            last = max(first, today)
        if last < first:
            errors.append("The period ends before it starts; the dates were swapped.")
            first, last = last, first
        if (last - first).days > MAX_RANGE_DAYS:
            errors.append(f"At most {MAX_RANGE_DAYS // 366} years at a time; the period was shortened.")
            first = last - dt.timedelta(days=MAX_RANGE_DAYS)
    group = (params.get("group") or "").strip() or DEFAULT_GROUP
    if group not in GROUPS:
        errors.append(f"Cannot group by {group!r}; grouped by service instead.")
        group = DEFAULT_GROUP
    currency = (params.get("currency") or "").strip().upper()
    if currency and not (len(currency) == 3 and currency.isalpha()):
        errors.append(f"{currency!r} is not a currency code; the default currency is shown.")
        currency = ""
    active = next((name for name in PRESETS if preset_range(name, today) == (first, last)), "")
    return DashboardQuery(first_day=first, last_day=last, currency=currency, group=group, preset=active, errors=errors)


# --- links to the ledger rows behind a figure -------------------------------------------------------------


class LedgerLinks:
    """apps.finops.drilldown.ledger_rows_url for a page with hundreds of figures: the same URLs, with the
    ledger page's path reversed once instead of once per bar."""

    def __init__(self):
        self.base = reverse("finops:ledger")

    def url(self, *, first_day: dt.date, last_day: dt.date, **filters) -> str:
        return ledger_rows_url(first_day=first_day, last_day=last_day, base=self.base, **filters)


# --- the figures --------------------------------------------------------------------------------------------


@dataclass
class Totals:
    """Sums over some rollup rows: EffectiveCost, its AI and allocated parts, and the tokens."""

    cost: Decimal = ZERO
    ai_cost: Decimal = ZERO
    allocated_cost: Decimal = ZERO
    token_cost: Decimal = ZERO  # the cost of the rollup rows that carry tokens
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    requests: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cached_tokens

    @property
    def unallocated_cost(self) -> Decimal:
        return self.cost - self.allocated_cost

    @property
    def non_ai_cost(self) -> Decimal:
        return self.cost - self.ai_cost

    @property
    def ai_share(self) -> Decimal | None:
        return percent(self.ai_cost, self.cost)

    @property
    def allocated_share(self) -> Decimal | None:
        return percent(self.allocated_cost, self.cost)

    @property
    def cost_per_million_tokens(self) -> Decimal | None:
        """What a million tokens cost: the cost of the rows that carry tokens, over those tokens."""
        return self.token_cost * 1_000_000 / self.tokens if self.tokens else None


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """part / whole in %, to 0.1; None when the whole is not positive (credits can make it negative)."""
    if whole is None or whole <= 0:
        return None
    share = (part * 100 / whole).quantize(Decimal("0.1"))
    # Never "100.0 %" while something is left out, nor "0.0 %" while something is in.
    if share == 100 and part != whole:
        return Decimal("99.9")
    if share == 0 and part > 0:
        return Decimal("0.1")
    return share


def change_percent(now: Decimal, before: Decimal) -> Decimal | None:
    if before is None or before <= 0:
        return None
    return ((now - before) * 100 / before).quantize(Decimal("0.1"))


@dataclass
class Mover:
    key: object  # a provider/service name, or a department/asset id (None: none)
    current: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def change_percent(self) -> Decimal | None:
        return change_percent(self.current, self.previous)


@dataclass
class TokenLine:
    key: int | None  # department or asset id; None: not attributed
    totals: Totals


@dataclass
class Dashboard:
    query: DashboardQuery
    currency: str
    currencies: list[tuple[str, Decimal]]  # every currency with spend in either period, biggest first
    current: Totals
    previous: Totals
    buckets: list[dt.date]  # the days (or months) of the period, every one even without spend
    spend: dict[tuple[dt.date, object], Decimal]  # (bucket, group key) → EffectiveCost
    group_totals: dict[object, Decimal]  # group key → EffectiveCost in the period
    movers: list[Mover]  # every group of either period, biggest absolute change first
    by_bucket: dict[dt.date, Totals]  # bucket → its totals (AI and allocated parts)
    tokens_by_department: list[TokenLine]
    tokens_by_asset: list[TokenLine]
    departments: dict[int, str] = field(default_factory=dict)  # id → name
    assets: dict[int, dict] = field(default_factory=dict)  # id → {"name", "kind", "department"}

    @property
    def has_spend(self) -> bool:
        return bool(self.currencies)

    def bucket_range(self, bucket: dt.date) -> tuple[dt.date, dt.date]:
        """The days of the period a bucket covers (a month bucket is clipped to the period)."""
        if self.query.granularity == "day":
            return bucket, bucket
        return max(bucket, self.query.first_day), min(_month_end(bucket), self.query.last_day)

    def group_name(self, key) -> str:
        group = self.query.group
        if group == "department":
            return self.departments.get(key, f"Deleted department #{key}") if key is not None else "No department"
        if group == "asset":
            return self.assets.get(key, {}).get("name", f"Deleted asset #{key}") if key is not None else "No AI asset"
        return key or "(not set)"


def _buckets(first: dt.date, last: dt.date, granularity: str) -> list[dt.date]:
    if granularity == "day":
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = _add_months(month, 1)
    return out


# Two reads of the rollup for the period and the previous one (each a few thousand rows a month):
# - spend: EffectiveCost, its AI part and its allocated part per (currency, day or month, group) and per
#   (currency, period, group); the totals, the per-day figures and the top movers are sums of these;
# - tokens: only the rows that carry tokens, per (currency, period, department), (…, asset) and (…, day).
# Few aggregates per read keeps them fast; names come joined from the inventory, never one query per name.
_SPEND_SETS = {"spend": ("cur", "bucket", "g"), "movers": ("cur", "in_period", "g")}
_TOKEN_SETS = {
    "department": ("cur", "in_period", "department_id"),
    "asset": ("cur", "in_period", "asset_id"),
    "bucket": ("cur", "bucket"),
}
_SPEND_COLUMNS = ("cur", "in_period", "bucket", "g")
_TOKEN_COLUMNS = ("cur", "in_period", "bucket", "department_id", "asset_id")


def _grouping_mask(columns: tuple[str, ...], all_columns: tuple[str, ...]) -> int:
    """GROUPING(all columns) of a set: a 1 bit for each column the set does not group by (first = highest)."""
    mask = 0
    for column in all_columns:
        mask = (mask << 1) | (0 if column in columns else 1)
    return mask


_SPEND_MASKS = {_grouping_mask(c, _SPEND_COLUMNS): name for name, c in _SPEND_SETS.items()}
_TOKEN_MASKS = {_grouping_mask(c, _TOKEN_COLUMNS): name for name, c in _TOKEN_SETS.items()}


def _sets(sets: dict) -> str:
    return ", ".join("(" + ", ".join(columns) + ")" for columns in sets.values())


def _bucket(granularity: str) -> str:
    bucket = "d.day" if granularity == "day" else "date_trunc('month', d.day)::date"
    return f"CASE WHEN d.day >= %(first)s THEN {bucket} END"  # previous-period rows have no bucket


def _spend_sql(group: str, granularity: str) -> str:
    column = GROUPS[group][1]
    names = ""
    if group == "department":
        names = f"LEFT JOIN {DEPARTMENTS} n ON n.id = agg.g"
    elif group == "asset":
        names = f"LEFT JOIN {ASSETS} n ON n.id = agg.g"
    name = "n.name" if names else "NULL"
    return f"""
WITH r AS (
    SELECT d.billing_currency AS cur, d.day >= %(first)s AS in_period, {_bucket(granularity)} AS bucket,
           d.{column} AS g, d.service_category = %(ai)s AS ai,
           (d.department_id IS NOT NULL OR d.asset_id IS NOT NULL) AS allocated, d.effective_cost
    FROM {ROLLUP} d
    WHERE d.day >= %(previous_first)s AND d.day <= %(last)s
), agg AS (
    SELECT {", ".join(_SPEND_COLUMNS)}, GROUPING({", ".join(_SPEND_COLUMNS)}) AS grouping_set,
           COALESCE(sum(effective_cost), 0) AS cost,
           COALESCE(sum(effective_cost) FILTER (WHERE ai), 0) AS ai_cost,
           COALESCE(sum(effective_cost) FILTER (WHERE allocated), 0) AS allocated_cost
    FROM r
    GROUP BY GROUPING SETS ({_sets(_SPEND_SETS)})
)
SELECT agg.*, {name} FROM agg {names}
"""  # noqa: S608 — table and column names are constants


def _tokens_sql(granularity: str) -> str:
    return f"""
WITH r AS (
    SELECT d.billing_currency AS cur, d.day >= %(first)s AS in_period, {_bucket(granularity)} AS bucket,
           d.department_id, d.asset_id, d.effective_cost, d.input_tokens, d.output_tokens, d.cached_tokens,
           d.requests
    FROM {ROLLUP} d
    WHERE d.day >= %(previous_first)s AND d.day <= %(last)s
      AND d.input_tokens + d.output_tokens + d.cached_tokens > 0
), agg AS (
    SELECT {", ".join(_TOKEN_COLUMNS)}, GROUPING({", ".join(_TOKEN_COLUMNS)}) AS grouping_set,
           COALESCE(sum(effective_cost), 0), sum(input_tokens), sum(output_tokens), sum(cached_tokens),
           sum(requests)
    FROM r
    GROUP BY GROUPING SETS ({_sets(_TOKEN_SETS)})
)
SELECT agg.*, dep.name, ast.name, ast.kind, ast.department_id
FROM agg
LEFT JOIN {DEPARTMENTS} dep ON dep.id = agg.department_id
LEFT JOIN {ASSETS} ast ON ast.id = agg.asset_id
"""  # noqa: S608 — table and column names are constants


def _add_spend(totals: Totals, cost: Decimal, ai_cost: Decimal, allocated_cost: Decimal) -> None:
    totals.cost += cost
    totals.ai_cost += ai_cost
    totals.allocated_cost += allocated_cost


def _add_tokens(totals: Totals, row, first: int) -> None:
    cost, input_tokens, output_tokens, cached_tokens, requests = row[first : first + 5]
    totals.token_cost += cost
    totals.input_tokens += int(input_tokens)
    totals.output_tokens += int(output_tokens)
    totals.cached_tokens += int(cached_tokens)
    totals.requests += int(requests)


def _choose_currency(asked: str, spend: dict[str, Decimal], reporting: str) -> str:
    if asked:
        return asked
    if reporting in spend or not spend:
        return reporting
    return min(spend.items(), key=lambda item: (-item[1], item[0]))[0]  # the most spend, then A–Z


def finops_dashboard(query: DashboardQuery, *, reporting_currency: str) -> Dashboard:
    """Every figure of the dashboard for one currency (the asked one, else the client's reporting currency
    when it has spend, else the currency with the most spend), from two reads of the rollup."""
    previous_first, _previous_last = query.previous
    params = {"first": query.first_day, "last": query.last_day, "previous_first": previous_first, "ai": AI_CATEGORY}
    with analytics_cursor() as cur:
        cur.execute(_spend_sql(query.group, query.granularity), params)
        spend_rows = cur.fetchall()
        cur.execute(_tokens_sql(query.granularity), params)
        token_rows = cur.fetchall()
    spend_now: dict[str, Decimal] = {}  # currency → EffectiveCost in the period (every currency of either)
    for row in spend_rows:  # (cur, in_period, bucket, g, grouping, cost, …)
        if _SPEND_MASKS.get(row[4]) == "movers":
            spend_now[row[0]] = spend_now.get(row[0], ZERO) + (row[5] if row[1] else ZERO)
    currency = _choose_currency(query.currency, spend_now, reporting_currency)
    current, previous = Totals(), Totals()
    spend: dict[tuple[dt.date, object], Decimal] = {}
    group_totals: dict[object, Decimal] = {}
    group_previous: dict[object, Decimal] = {}
    by_bucket: dict[dt.date, Totals] = {}
    names: dict[object, str] = {}
    for cur_, in_period, bucket, key, grouping, cost, ai_cost, allocated_cost, name in spend_rows:
        if cur_ != currency:
            continue
        if name is not None:
            names[key] = name
        kind = _SPEND_MASKS.get(grouping)
        if kind == "spend" and bucket is not None:
            spend[(bucket, key)] = cost
            _add_spend(by_bucket.setdefault(bucket, Totals()), cost, ai_cost, allocated_cost)
        elif kind == "movers":
            (group_totals if in_period else group_previous)[key] = cost
            _add_spend(current if in_period else previous, cost, ai_cost, allocated_cost)
    departments: dict[int, str] = {}
    assets: dict[int, dict] = {}
    tokens: dict[str, dict] = {"department": {}, "asset": {}}
    for row in token_rows:
        cur_, in_period, bucket, department_id, asset_id, grouping = row[:6]
        kind = _TOKEN_MASKS.get(grouping)
        if department_id is not None and row[11] is not None:
            departments[department_id] = row[11]
        if asset_id is not None and row[12] is not None:
            assets[asset_id] = {"name": row[12], "kind": row[13], "department": row[14]}
        if cur_ != currency:
            continue
        if kind == "department":
            _add_tokens(current if in_period else previous, row, 6)  # the departments partition the rows
            if in_period:
                _add_tokens(tokens["department"].setdefault(department_id, Totals()), row, 6)
        elif kind == "asset" and in_period:
            _add_tokens(tokens["asset"].setdefault(asset_id, Totals()), row, 6)
        elif kind == "bucket" and bucket is not None:
            _add_tokens(by_bucket.setdefault(bucket, Totals()), row, 6)
    if query.group == "department":
        departments.update(names)
    elif query.group == "asset":
        for key, name in names.items():
            assets.setdefault(key, {"name": name, "kind": "", "department": None})
    keys = set(group_totals) | set(group_previous)
    movers = [Mover(key, group_totals.get(key, ZERO), group_previous.get(key, ZERO)) for key in keys]
    movers.sort(key=lambda m: (-abs(m.change), -m.current, str(m.key)))
    return Dashboard(
        query=query,
        currency=currency,
        currencies=sorted(spend_now.items(), key=lambda item: (-item[1], item[0])),
        current=current,
        previous=previous,
        buckets=_buckets(query.first_day, query.last_day, query.granularity),
        spend=spend,
        group_totals=dict(sorted(group_totals.items(), key=lambda item: (-item[1], str(item[0])))),
        movers=movers,
        by_bucket=by_bucket,
        tokens_by_department=_token_lines(tokens["department"]),
        tokens_by_asset=_token_lines(tokens["asset"]),
        departments=departments,
        assets=assets,
    )


def _token_lines(found: dict) -> list[TokenLine]:
    lines = [TokenLine(key, totals) for key, totals in found.items()]
    lines.sort(key=lambda line: (line.key is None, -line.totals.tokens, -line.totals.ai_cost, line.key or 0))
    return lines


def rollup_has_rows() -> bool:
    """Whether anything was ever booked (the empty state differs from "nothing in this period")."""
    return CostDaily.objects.exists()
