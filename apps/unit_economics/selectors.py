"""Cost per business unit, read from the daily cost rollup (CostDaily, effective_cost) — never the raw ledger.

Public functions (pure reads; the monthly ROI report and the recommendations reuse them):

    unit_cost_series(unit, *, start, end, granularity="month", scope=None, currency=None) -> UnitCostSeries
        Cost, units and cost per unit for every day or month of [start, end) (end exclusive, UTC days).
    unit_cost_for_month(unit, month, *, scope=None, currency=None) -> UnitCostPoint
        The same for one calendar month (any day of it).
    unit_cost_drivers(unit, month, *, scope=None, by="service", currency=None, top=8) -> UnitCostDrivers
        Month over month: how much of the cost change is volume and how much unit cost, and which services,
        models, assets, departments or providers moved the cost per unit.
    units_overview(units, month) -> list[UnitOverview]
        Every unit's month and the month before, in a constant number of queries.
    unit_scope(unit) -> CostScope, scope_from_params(params, unit) -> ScopeChoice, scope_label(scope) -> str

`scope=None` means the unit's own scope (unit_scope). A CostScope is a conjunction: department, asset, model
(exact ledger x_model) and "AI spend only" (service category AI and Machine Learning); an empty one is the
whole client. Departments and assets include their share of shared costs (the rollup has spread them).

Formulas (Decimal throughout; money is never added across currencies):
- cost of a period  C = Σ effective_cost of the scope's rollup rows in one currency (the one asked for, else
  the one with the largest spend); spend in other currencies is reported beside it, not converted.
- units of a period N = Σ of the period's daily volumes; a day's volume is the count reported for it (see
  daily_volume for counts reported per department or asset).
- cost per unit     u = C ÷ N, rounded half up to 8 decimal places; no ratio when N is 0 or nothing was
  reported (never infinity or zero).
- month over month  ΔC = C₁ − C₀ = volume effect + unit-cost effect, with
  volume effect = (N₁ − N₀) × u₀ (what the change in volume cost at last month's unit cost) and
  unit-cost effect = ΔC − volume effect = (u₁ − u₀) × N₁; a contributor g moved the cost per unit by
  c_g,1 ÷ N₁ − c_g,0 ÷ N₀, and these add up to u₁ − u₀.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.db.models import Case, CharField, F, Q, Sum, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.finops.focus import AI_CATEGORY
from apps.finops.models import CostDaily
from apps.inventory.models import Asset, Department

from .models import BusinessUnit, ScopeKind, UnitCount

ZERO = Decimal(0)
PER_UNIT_PLACES = Decimal("1e-8")
MONEY_PLACES = Decimal("1e-12")  # the rollup's own precision
GRANULARITIES = ("day", "month")
MAX_RANGE_DAYS = 366 * 5
DEFAULT_TOP = 8
# Contributor dimensions: name → (label, rollup column)
DRIVER_DIMENSIONS: dict[str, tuple[str, str]] = {
    "service": ("Service", "service_name"),
    "model": ("Model", "x_model"),
    "asset": ("AI asset", "asset_id"),
    "department": ("Department", "department_id"),
    "provider": ("Provider", "provider_name"),
}
EMPTY_LABELS = {
    "service": "(no service)",
    "model": "No model (non-token charges)",
    "asset": "No AI asset",
    "department": "No department",
    "provider": "(no provider)",
}
BASIS_LABELS = {
    "total": "the unit's total counts",
    "department": "the counts reported for this department",
    "asset": "the counts reported for this asset",
}


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def per_unit(cost: Decimal | None, units: int | None) -> Decimal | None:
    """cost ÷ units rounded half up to 8 places, or None when there is nothing to divide by."""
    if cost is None or not units:
        return None
    with localcontext() as context:
        context.prec = 60  # a 30-digit amount divided exactly enough before rounding
        return (cost / units).quantize(PER_UNIT_PLACES, rounding=ROUND_HALF_UP)


def _exact_ratio(cost: Decimal, units: int) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        return cost / units


# --- scope ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostScope:
    """Which rollup rows a unit's cost is: all of them must match (an empty scope is the whole client)."""

    department_id: int | None = None
    asset_id: int | None = None
    model: str = ""
    ai_only: bool = False
    missing: str = ""  # set when the unit's scope cannot be measured: its department or asset was deleted

    @property
    def is_client(self) -> bool:
        return self.department_id is None and self.asset_id is None and not self.model

    def rollup_filter(self) -> Q:
        condition = Q()
        if self.department_id is not None:
            condition &= Q(department_id=self.department_id)
        if self.asset_id is not None:
            condition &= Q(asset_id=self.asset_id)
        if self.model:
            condition &= Q(x_model=self.model)
        if self.ai_only:
            condition &= Q(service_category=AI_CATEGORY)
        return condition

    def matches(self, *, department_id, asset_id, model: str, is_ai: bool) -> bool:
        """The same test as rollup_filter, on a row already read (units_overview)."""
        if self.missing:
            return False
        return (
            (self.department_id is None or department_id == self.department_id)
            and (self.asset_id is None or asset_id == self.asset_id)
            and (not self.model or model == self.model)
            and (not self.ai_only or is_ai)
        )

    def ledger_filters(self) -> dict[str, str]:
        """The filters of apps.finops.drilldown.ledger_rows_url that select the same rows."""
        filters: dict[str, str] = {}
        if self.department_id is not None:
            filters["department"] = str(self.department_id)
        if self.asset_id is not None:
            filters["asset"] = str(self.asset_id)
        if self.model:
            filters["model"] = self.model
        if self.ai_only:
            filters["ai"] = "yes"
        return filters

    def token(self) -> str:
        """The page's ?scope= value of a single-dimension scope ("" when it combines several)."""
        if self.is_client:
            return "client"
        parts = [
            ("department", self.department_id),
            ("asset", self.asset_id),
            ("model", self.model or None),
        ]
        present = [(name, value) for name, value in parts if value is not None]
        return f"{present[0][0]}:{present[0][1]}" if len(present) == 1 else ""


def unit_scope(unit: BusinessUnit) -> CostScope:
    """The scope the unit is measured against, as its owner defined it."""
    kind = unit.scope_kind
    if kind == ScopeKind.DEPARTMENT:
        if unit.department_id is None:
            return CostScope(ai_only=unit.ai_only, missing="Its department was deleted.")
        return CostScope(department_id=unit.department_id, ai_only=unit.ai_only)
    if kind == ScopeKind.ASSET:
        if unit.asset_id is None:
            return CostScope(ai_only=unit.ai_only, missing="Its AI asset was deleted.")
        return CostScope(asset_id=unit.asset_id, ai_only=unit.ai_only)
    if kind == ScopeKind.MODEL:
        return CostScope(model=unit.model, ai_only=unit.ai_only)
    return CostScope(ai_only=unit.ai_only)


@dataclass
class ScopeChoice:
    scope: CostScope
    is_default: bool
    errors: list[str] = field(default_factory=list)


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def scope_from_params(params: Mapping[str, str], unit: BusinessUnit) -> ScopeChoice:
    """The scope a page or API query asks for.

    `scope=default|client|department:<id>|asset:<id>|model:<id>` (the page), or `department=<id>`, `asset=<id>`,
    `model=<name>` combined (the API); `ai=yes|no` restricts to (or widens from) AI spend. Nothing given: the
    unit's own scope. Unknown departments or assets are reported and the unit's own scope is used."""
    default = unit_scope(unit)
    errors: list[str] = []
    ai_raw = (params.get("ai") or "").strip().lower()
    ai = True if ai_raw in TRUE else False if ai_raw in FALSE else None
    if ai_raw and ai is None:
        errors.append("ai must be yes or no.")
    department_id = asset_id = None
    model = ""
    token = (params.get("scope") or "").strip()
    explicit = any((params.get(name) or "").strip() for name in ("department", "asset", "model"))
    if token and token != "default":
        kind, _, value = token.partition(":")
        if kind == "client" and not value:
            pass
        elif kind == "department" and _int(value) is not None:
            department_id = _int(value)
        elif kind == "asset" and _int(value) is not None:
            asset_id = _int(value)
        elif kind == "model" and value.strip():
            model = value.strip()[:200]
        else:
            errors.append(f"Unknown scope {token!r}; the unit's own scope is shown.")
            return ScopeChoice(default, True, errors)
    elif explicit:
        for name in ("department", "asset"):
            raw = (params.get(name) or "").strip()
            if raw and _int(raw) is None:
                errors.append(f"{name} must be an id.")
                return ScopeChoice(default, True, errors)
        department_id = _int(params.get("department", ""))
        asset_id = _int(params.get("asset", ""))
        model = (params.get("model") or "").strip()[:200]
    else:
        if ai is not None and ai != default.ai_only:
            default = CostScope(
                department_id=default.department_id,
                asset_id=default.asset_id,
                model=default.model,
                ai_only=ai,
                missing=default.missing,
            )
            return ScopeChoice(default, False, errors)
        return ScopeChoice(default, True, errors)
    if department_id is not None and not Department.objects.filter(pk=department_id).exists():
        errors.append(f"There is no department #{department_id}; the unit's own scope is shown.")
        return ScopeChoice(unit_scope(unit), True, errors)
    if asset_id is not None and not Asset.objects.filter(pk=asset_id).exists():
        errors.append(f"There is no AI asset #{asset_id}; the unit's own scope is shown.")
        return ScopeChoice(unit_scope(unit), True, errors)
    scope = CostScope(department_id=department_id, asset_id=asset_id, model=model, ai_only=bool(ai))
    return ScopeChoice(scope, scope == default, errors)


def scope_label(scope: CostScope, *, department: Department | None = None, asset: Asset | None = None) -> str:
    """In words, e.g. "AI spend of the Claims processing agent (agent)". Looks names up unless given."""
    if scope.missing:
        return f"Nothing: {scope.missing}"
    parts = []
    if scope.department_id is not None:
        department = department or Department.objects.filter(pk=scope.department_id).first()
        parts.append(f"the {department.name} department" if department else f"department #{scope.department_id}")
    if scope.asset_id is not None:
        asset = asset or Asset.objects.filter(pk=scope.asset_id).first()
        parts.append(f"{asset.name} ({asset.get_kind_display().lower()})" if asset else f"asset #{scope.asset_id}")
    if scope.model:
        parts.append(f"model {scope.model}")
    where = " and ".join(parts) if parts else "the whole client"
    return f"AI spend of {where}" if scope.ai_only else f"All spend of {where}"


def unit_scope_label(unit: BusinessUnit) -> str:
    """The unit's own scope in words, from its (select_related) department and asset: no query."""
    return scope_label(unit_scope(unit), department=unit.department, asset=unit.asset)


# --- volume -----------------------------------------------------------------------------------------------

CountRow = tuple[dt.date, int | None, int | None, int]  # day, department_id, asset_id, count


def _count_rows(unit: BusinessUnit, start: dt.date, end: dt.date) -> list[CountRow]:
    return list(
        UnitCount.objects.filter(unit=unit, day__gte=start, day__lt=end)
        .order_by()
        .values_list("day", "department_id", "asset_id", "count")
    )


def daily_volume(rows: Iterable[CountRow], scope: CostScope) -> tuple[dict[dt.date, int], str]:
    """Units per day for a scope, and which counts they are ("total", "department" or "asset").

    Counts reported for the scope's asset (or else its department) are that asset's (department's) volume,
    when any were reported in the period. Otherwise a day's total is its count without department and asset;
    a day reported only by department adds those up (only by asset: those)."""
    rows = list(rows)
    if scope.asset_id is not None and any(r[2] == scope.asset_id for r in rows):
        return _sum_by_day(r for r in rows if r[2] == scope.asset_id), "asset"
    if scope.department_id is not None and any(r[1] == scope.department_id for r in rows):
        return _sum_by_day(r for r in rows if r[1] == scope.department_id), "department"
    levels: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, department_id, asset_id, count in rows:
        if department_id is None and asset_id is None:
            level = "total"
        elif asset_id is None:
            level = "department"
        elif department_id is None:
            level = "asset"
        else:
            level = "both"
        levels[day][level] += count
    volume = {}
    for day, by_level in levels.items():
        for level in ("total", "department", "asset", "both"):
            if level in by_level:
                volume[day] = by_level[level]
                break
    return volume, "total"


def _sum_by_day(rows: Iterable[CountRow]) -> dict[dt.date, int]:
    volume: dict[dt.date, int] = defaultdict(int)
    for day, _department, _asset, count in rows:
        volume[day] += count
    return dict(volume)


# --- cost ---------------------------------------------------------------------------------------------------


def _rollup(scope: CostScope, start: dt.date, end: dt.date):
    rows = CostDaily.objects.filter(day__gte=start, day__lt=end)
    if scope.missing:
        return rows.none()
    return rows.filter(scope.rollup_filter())


def _cost_by_period(scope: CostScope, start: dt.date, end: dt.date, granularity: str) -> list[tuple]:
    """[(period, currency, cost)] in one query."""
    rows = _rollup(scope, start, end).order_by()
    period = TruncMonth("day") if granularity == "month" else F("day")
    return list(
        rows.annotate(period=period)
        .values("period", "billing_currency")
        .annotate(cost=Sum("effective_cost"))
        .values_list("period", "billing_currency", "cost")
    )


def _pick_currency(totals: Mapping[str, Decimal], wanted: str | None) -> str:
    if wanted:
        return wanted.upper()
    if not totals:
        return ""
    return sorted(totals.items(), key=lambda item: (-abs(item[1]), item[0]))[0][0]


# --- the series ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitCostPoint:
    """One day or month: cost in the series' currency, units, and their ratio (None when no units)."""

    period: dt.date  # the day, or the first of the month
    first_day: dt.date  # inside the asked range (a month may be cut by it)
    last_day: dt.date  # inclusive
    cost: Decimal
    units: int | None  # None: no count reported on any day of the period
    days_with_counts: int
    measurable: bool = True  # False when the unit's scope is gone (its department or asset was deleted)

    @property
    def cost_per_unit(self) -> Decimal | None:
        return per_unit(self.cost, self.units) if self.measurable else None


@dataclass
class UnitCostSeries:
    unit: BusinessUnit
    scope: CostScope
    granularity: str
    start: dt.date
    end: dt.date  # exclusive
    currency: str
    other_currencies: dict[str, Decimal]  # spend of the scope in other currencies, not in the figures
    volume_basis: str
    points: list[UnitCostPoint]

    @property
    def cost(self) -> Decimal:
        return sum((p.cost for p in self.points), ZERO)

    @property
    def units(self) -> int | None:
        counted = [p.units for p in self.points if p.units is not None]
        return sum(counted) if counted else None

    @property
    def cost_per_unit(self) -> Decimal | None:
        return per_unit(self.cost, self.units) if not self.scope.missing else None

    @property
    def has_costs(self) -> bool:
        return any(p.cost for p in self.points)


def periods(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date, dt.date]]:
    """(period key, first day, last day) of every day or month of [start, end)."""
    out = []
    if granularity == "day":
        day = start
        while day < end:
            out.append((day, day, day))
            day += dt.timedelta(days=1)
        return out
    month = month_start(start)
    while month < end:
        out.append((month, max(month, start), min(month_end(month), end - dt.timedelta(days=1))))
        month = next_month(month)
    return out


def _build_points(
    spans: list[tuple[dt.date, dt.date, dt.date]],
    cost: Mapping[dt.date, Decimal],
    volume: Mapping[dt.date, int],
    granularity: str,
    *,
    measurable: bool = True,
) -> list[UnitCostPoint]:
    units: dict[dt.date, int] = defaultdict(int)
    days: dict[dt.date, int] = defaultdict(int)
    for day, count in volume.items():
        key = month_start(day) if granularity == "month" else day
        units[key] += count
        days[key] += 1
    return [
        UnitCostPoint(
            period=key,
            first_day=first,
            last_day=last,
            cost=cost.get(key, ZERO),
            units=units[key] if days.get(key) else None,
            days_with_counts=days.get(key, 0),
            measurable=measurable,
        )
        for key, first, last in spans
    ]


def _check_range(start: dt.date, end: dt.date, granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    if end <= start:
        raise ValueError("end must be after start")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValueError(f"at most {MAX_RANGE_DAYS} days at a time")


def unit_cost_series(
    unit: BusinessUnit,
    *,
    start: dt.date,
    end: dt.date,
    granularity: str = "month",
    scope: CostScope | None = None,
    currency: str | None = None,
) -> UnitCostSeries:
    """Cost per unit for each day or month of [start, end). Two queries (rollup, counts)."""
    _check_range(start, end, granularity)
    scope = scope if scope is not None else unit_scope(unit)
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_currency: dict[str, dict[dt.date, Decimal]] = defaultdict(dict)
    for period, row_currency, amount in _cost_by_period(scope, start, end, granularity):
        totals[row_currency] += amount
        by_currency[row_currency][period] = amount
    chosen = _pick_currency(totals, currency)
    volume, basis = daily_volume(_count_rows(unit, start, end), scope)
    spans = periods(start, end, granularity)
    return UnitCostSeries(
        unit=unit,
        scope=scope,
        granularity=granularity,
        start=start,
        end=end,
        currency=chosen,
        other_currencies={c: t for c, t in sorted(totals.items()) if c != chosen and t},
        volume_basis=basis,
        points=_build_points(spans, by_currency.get(chosen, {}), volume, granularity, measurable=not scope.missing),
    )


def unit_cost_for_month(
    unit: BusinessUnit, month: dt.date, *, scope: CostScope | None = None, currency: str | None = None
) -> UnitCostPoint:
    """The cost, units and cost per unit of one calendar month (any day of it)."""
    first = month_start(month)
    series = unit_cost_series(
        unit, start=first, end=next_month(first), granularity="month", scope=scope, currency=currency
    )
    return series.points[0]


# --- drivers ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contributor:
    """One service (model, asset…) and how it moved the unit's cost from one month to the next."""

    key: str
    label: str
    previous_cost: Decimal
    current_cost: Decimal
    previous_per_unit: Decimal | None
    current_per_unit: Decimal | None
    per_unit_change: Decimal | None
    other: bool = False
    groups: int = 1  # how many were folded into an "All other" line

    @property
    def change(self) -> Decimal:
        return self.current_cost - self.previous_cost


@dataclass
class UnitCostDrivers:
    unit: BusinessUnit
    scope: CostScope
    by: str
    currency: str
    month: dt.date
    previous_month: dt.date
    previous: UnitCostPoint
    current: UnitCostPoint
    contributors: list[Contributor]
    other_currencies: dict[str, Decimal]

    @property
    def cost_change(self) -> Decimal:
        return self.current.cost - self.previous.cost

    @property
    def volume_change(self) -> int | None:
        if self.previous.units is None or self.current.units is None:
            return None
        return self.current.units - self.previous.units

    @property
    def per_unit_change(self) -> Decimal | None:
        before, after = self.previous.cost_per_unit, self.current.cost_per_unit
        return None if before is None or after is None else after - before

    @property
    def per_unit_change_percent(self) -> Decimal | None:
        before = self.previous.cost_per_unit
        change = self.per_unit_change
        if change is None or not before:
            return None
        return (change / before * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def volume_effect(self) -> Decimal | None:
        """(N₁ − N₀) × u₀: what the change in volume alone cost, at last month's unit cost."""
        if self.volume_change is None or not self.previous.units:
            return None
        exact = _exact_ratio(self.previous.cost, self.previous.units) * self.volume_change
        return exact.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)

    @property
    def unit_cost_effect(self) -> Decimal | None:
        """ΔC − volume effect = (u₁ − u₀) × N₁: what the change in cost per unit cost (or saved)."""
        effect = self.volume_effect
        return None if effect is None else self.cost_change - effect


def _names(by: str, keys: Iterable[str]) -> dict[str, str]:
    ids = [int(k) for k in keys if k and k.isdigit()]
    if not ids:
        return {}
    model = Asset if by == "asset" else Department
    return {str(pk): name for pk, name in model.objects.filter(pk__in=ids).values_list("pk", "name")}


def unit_cost_drivers(
    unit: BusinessUnit,
    month: dt.date,
    *,
    scope: CostScope | None = None,
    by: str = "service",
    currency: str | None = None,
    top: int = DEFAULT_TOP,
) -> UnitCostDrivers:
    """`month` against the month before: the cost per unit, the volume/unit-cost split and the top `top`
    contributors to the change (largest move of the cost per unit first), the rest as one "All other" line
    so the lines add up to the whole."""
    if by not in DRIVER_DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DRIVER_DIMENSIONS)}")
    scope = scope if scope is not None else unit_scope(unit)
    current_month = month_start(month)
    before_month = previous_month(current_month)
    end = next_month(current_month)
    column = DRIVER_DIMENSIONS[by][1]
    rows = list(
        _rollup(scope, before_month, end)
        .order_by()
        .annotate(period=TruncMonth("day"))
        .values("period", "billing_currency", column)
        .annotate(cost=Sum("effective_cost"))
        .values_list("period", "billing_currency", column, "cost")
    )
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for _period, row_currency, _key, amount in rows:
        totals[row_currency] += amount
    chosen = _pick_currency(totals, currency)
    groups: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    month_cost = {before_month: ZERO, current_month: ZERO}
    for period, row_currency, key, amount in rows:
        if row_currency != chosen:
            continue
        key = "" if key is None else str(key)
        groups[key][0 if period == before_month else 1] += amount
        month_cost[period] += amount
    volume, _basis = daily_volume(_count_rows(unit, before_month, end), scope)
    spans = periods(before_month, end, "month")
    previous, current = _build_points(spans, month_cost, volume, "month", measurable=not scope.missing)

    names = _names(by, groups) if by in ("asset", "department") else {}

    def label(key: str) -> str:
        if key == "":
            return EMPTY_LABELS[by]
        if by in ("asset", "department"):
            return names.get(key, f"#{key} (deleted)")
        return key

    def contributor(key: str, before: Decimal, after: Decimal) -> Contributor:
        before_unit, after_unit = per_unit(before, previous.units), per_unit(after, current.units)
        change = None if before_unit is None or after_unit is None else after_unit - before_unit
        return Contributor(key, label(key), before, after, before_unit, after_unit, change)

    lines = [contributor(key, before, after) for key, (before, after) in groups.items() if before or after]

    def weight(line: Contributor):
        moved = abs(line.per_unit_change) if line.per_unit_change is not None else abs(line.change)
        return (-moved, -abs(line.change), line.label)

    lines.sort(key=weight)
    shown, rest = lines[:top], lines[top:]
    if rest:
        before = sum((line.previous_cost for line in rest), ZERO)
        after = sum((line.current_cost for line in rest), ZERO)
        total_change = (
            None
            if previous.cost_per_unit is None or current.cost_per_unit is None
            else current.cost_per_unit - previous.cost_per_unit
        )
        # The remainder, so the per-unit lines add up exactly to the unit's own change.
        shown_change = sum((line.per_unit_change or ZERO for line in shown), ZERO)
        shown.append(
            Contributor(
                key="",
                label=f"All other ({len(rest)})",
                previous_cost=before,
                current_cost=after,
                previous_per_unit=per_unit(before, previous.units),
                current_per_unit=per_unit(after, current.units),
                per_unit_change=None if total_change is None else total_change - shown_change,
                other=True,
                groups=len(rest),
            )
        )
    return UnitCostDrivers(
        unit=unit,
        scope=scope,
        by=by,
        currency=chosen,
        month=current_month,
        previous_month=before_month,
        previous=previous,
        current=current,
        contributors=shown,
        other_currencies={c: t for c, t in sorted(totals.items()) if c != chosen and t},
    )


def default_driver_dimension(scope: CostScope) -> str:
    """Models explain an AI scope best; services everything else."""
    return "model" if scope.ai_only or scope.asset_id is not None or scope.model else "service"


# --- lists ------------------------------------------------------------------------------------------------


def units_list():
    return BusinessUnit.objects.select_related("department", "asset").order_by("name")


def unit_get(code: str) -> BusinessUnit:
    return units_list().get(code=code)


@dataclass(frozen=True)
class UnitOverview:
    unit: BusinessUnit
    scope_label: str
    currency: str
    previous: UnitCostPoint
    current: UnitCostPoint

    @property
    def change_percent(self) -> Decimal | None:
        before, after = self.previous.cost_per_unit, self.current.cost_per_unit
        if before is None or after is None or not before:
            return None
        return ((after - before) / before * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def units_overview(units: Iterable[BusinessUnit], month: dt.date) -> list[UnitOverview]:
    """Each unit's `month` and the month before, in two queries whatever the number of units: the rollup
    grouped by the dimensions a scope can name, and every unit's counts; each unit's share is picked in Python."""
    units = list(units)
    if not units:
        return []
    current_month = month_start(month)
    before_month = previous_month(current_month)
    end = next_month(current_month)
    rows = list(
        CostDaily.objects.filter(day__gte=before_month, day__lt=end)
        .order_by()
        .annotate(
            period=TruncMonth("day"),
            ai=Case(When(service_category=AI_CATEGORY, then=Value("y")), default=Value(""), output_field=CharField()),
        )
        .values("period", "department_id", "asset_id", "x_model", "ai", "billing_currency")
        .annotate(cost=Sum("effective_cost"))
        .values_list("period", "department_id", "asset_id", "x_model", "ai", "billing_currency", "cost")
    )
    counts: dict[int, list[CountRow]] = defaultdict(list)
    for unit_id, day, department_id, asset_id, count in (
        UnitCount.objects.filter(unit__in=units, day__gte=before_month, day__lt=end)
        .order_by()
        .values_list("unit_id", "day", "department_id", "asset_id", "count")
    ):
        counts[unit_id].append((day, department_id, asset_id, count))
    spans = periods(before_month, end, "month")
    out = []
    for unit in units:
        scope = unit_scope(unit)
        by_currency: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for period, department_id, asset_id, model, ai, row_currency, amount in rows:
            if scope.matches(department_id=department_id, asset_id=asset_id, model=model, is_ai=bool(ai)):
                by_currency[row_currency][period] += amount
                totals[row_currency] += amount
        chosen = _pick_currency(totals, None)
        volume, _basis = daily_volume(counts.get(unit.pk, []), scope)
        previous, current = _build_points(
            spans, by_currency.get(chosen, {}), volume, "month", measurable=not scope.missing
        )
        out.append(UnitOverview(unit, unit_scope_label(unit), chosen, previous, current))
    return out


def counts_list(unit: BusinessUnit):
    """The unit's stored counts, newest day first (the portal's and the API's lists)."""
    return UnitCount.objects.filter(unit=unit).select_related("department", "asset").order_by("-day", "id")


def model_choices(*, since: dt.date) -> list[str]:
    """Model ids booked in the rollup since `since` (for the scope pickers)."""
    return list(
        CostDaily.objects.filter(day__gte=since)
        .exclude(x_model="")
        .order_by("x_model")
        .values_list("x_model", flat=True)
        .distinct()
    )


def units_series(units: Iterable[BusinessUnit], *, start: dt.date, end: dt.date) -> list[UnitCostSeries]:
    """Every unit's monthly series over [start, end) (whole months: start and end are firsts of months), in two
    queries whatever the number of units — units_overview for more than two months (the monthly report's trend).

    Each series equals unit_cost_series(unit, start=start, end=end) point for point: the same scope, the same
    currency choice (the one with the largest spend of the unit's scope in the range) and the same volumes."""
    units = list(units)
    if not units:
        return []
    _check_range(start, end, "month")
    rows = list(
        CostDaily.objects.filter(day__gte=start, day__lt=end)
        .order_by()
        .annotate(
            period=TruncMonth("day"),
            ai=Case(When(service_category=AI_CATEGORY, then=Value("y")), default=Value(""), output_field=CharField()),
        )
        .values("period", "department_id", "asset_id", "x_model", "ai", "billing_currency")
        .annotate(cost=Sum("effective_cost"))
        .values_list("period", "department_id", "asset_id", "x_model", "ai", "billing_currency", "cost")
    )
    counts: dict[int, list[CountRow]] = defaultdict(list)
    for unit_id, day, department_id, asset_id, count in (
        UnitCount.objects.filter(unit__in=units, day__gte=start, day__lt=end)
        .order_by()
        .values_list("unit_id", "day", "department_id", "asset_id", "count")
    ):
        counts[unit_id].append((day, department_id, asset_id, count))
    spans = periods(start, end, "month")
    out = []
    for unit in units:
        scope = unit_scope(unit)
        by_currency: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for period, department_id, asset_id, model, ai, row_currency, amount in rows:
            if scope.matches(department_id=department_id, asset_id=asset_id, model=model, is_ai=bool(ai)):
                by_currency[row_currency][period] += amount
                totals[row_currency] += amount
        chosen = _pick_currency(totals, None)
        volume, basis = daily_volume(counts.get(unit.pk, []), scope)
        out.append(
            UnitCostSeries(
                unit=unit,
                scope=scope,
                granularity="month",
                start=start,
                end=end,
                currency=chosen,
                other_currencies={c: t for c, t in sorted(totals.items()) if c != chosen and t},
                volume_basis=basis,
                points=_build_points(spans, by_currency.get(chosen, {}), volume, "month", measurable=not scope.missing),
            )
        )
    return out
