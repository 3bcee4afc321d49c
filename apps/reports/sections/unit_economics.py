"""Unit economics: what one business unit (a claim processed, a loan underwritten) cost this month, last month
and over six months, from apps.unit_economics (the daily cost rollup of the unit's scope ÷ the unit's counts,
both by UTC day).

The figures are apps.unit_economics.selectors.units_series — unit_cost_series for every unit at once, in two
queries — so each unit's month equals unit_cost_for_month(unit, month) and the unit's own page. A unit's cost
is in the currency its scope spends most in over the six months (as on the unit's page), which may differ from
the reporting currency; spend in its other currencies is listed, not converted.

Data (money with two decimals, cost per unit with four, percentages with one; None when not measurable):
    months                               the six months of the trend, "YYYY-MM", oldest first
    unit_count                           business units defined
    measured_count                       units with a cost per unit this month (counts were sent)
    units                                [{id, code, name, label, plural, scope, currency, units, cost,
                                           cost_per_unit, previous_units, previous_cost, previous_cost_per_unit,
                                           change_percent, volume_basis, missing_scope (why a unit cannot be
                                           measured, or ""), other_currencies: [{currency, cost}],
                                           trend: [{month, units, cost, cost_per_unit}], url}]
                                          measured units first, then the largest cost this month
    biggest_change_name, biggest_change_label, biggest_change_percent
                                          the unit whose cost per unit moved most against last month
    headline_name, headline_label, headline_currency, headline_cost_per_unit
                                          the costliest unit's cost per unit this month
    charts                                cost per unit over six months, the three costliest units
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from apps.unit_economics.selectors import BASIS_LABELS, unit_scope_label, units_list, units_series

from ..period import ReportPeriod, add_months, money, percent_change
from .spend import say_percent

KEY = "unit_economics"
TITLE = "Unit economics"

TREND_MONTHS = 6
CHART_UNITS = 3
MATERIAL_CHANGE_PERCENT = Decimal(10)
PER_UNIT = Decimal("0.0001")


def per_unit(value: Decimal | None) -> str | None:
    """A cost per unit as the report stores it: four decimals (a unit often costs less than a cent)."""
    return None if value is None else str(value.quantize(PER_UNIT, rounding=ROUND_HALF_EVEN))


def _point(point) -> dict:
    return {
        "month": f"{point.period:%Y-%m}",
        "units": point.units,
        "cost": money(point.cost),
        "cost_per_unit": per_unit(point.cost_per_unit),
    }


def build(period: ReportPeriod) -> dict:
    start = add_months(period.month, 1 - TREND_MONTHS)
    units = list(units_list())
    rows = []
    found = units_series(units, start=start, end=period.next)
    # Units measured this month first, then the costliest.
    found.sort(key=lambda series: (series.points[-1].cost_per_unit is None, -series.points[-1].cost, series.unit.name))
    for series in found:
        unit = series.unit
        current, previous = series.points[-1], series.points[-2]
        rows.append(
            {
                "id": unit.pk,
                "code": unit.code,
                "name": unit.name,
                "label": unit.unit_label,
                "plural": unit.plural,
                "scope": unit_scope_label(unit),
                "currency": series.currency or period.currency,
                "units": current.units,
                "cost": money(current.cost),
                "cost_per_unit": per_unit(current.cost_per_unit),
                "previous_units": previous.units,
                "previous_cost": money(previous.cost),
                "previous_cost_per_unit": per_unit(previous.cost_per_unit),
                "change_percent": percent_change(current.cost_per_unit, previous.cost_per_unit),
                "volume_basis": BASIS_LABELS.get(series.volume_basis, series.volume_basis),
                "missing_scope": series.scope.missing,
                "other_currencies": [{"currency": c, "cost": money(v)} for c, v in series.other_currencies.items()],
                "trend": [_point(p) for p in series.points],
                "url": f"/c/{period.client_slug}/finops/unit-economics/{unit.code}/",
            }
        )
    data = {
        "months": [f"{m:%Y-%m}" for m in period.months_back(TREND_MONTHS)],
        "unit_count": len(rows),
        "measured_count": sum(1 for r in rows if r["cost_per_unit"] is not None),
        "units": rows,
        "biggest_change_name": None,
        "biggest_change_label": None,
        "biggest_change_percent": None,
        "headline_name": None,
        "headline_label": None,
        "headline_currency": None,
        "headline_cost_per_unit": None,
    }
    moved = [r for r in rows if r["change_percent"] is not None]
    if moved:
        biggest = max(moved, key=lambda r: (abs(Decimal(r["change_percent"])), r["cost"]))
        data.update(
            biggest_change_name=biggest["name"],
            biggest_change_label=biggest["label"],
            biggest_change_percent=biggest["change_percent"],
        )
    measured = [r for r in rows if r["cost_per_unit"] is not None]
    if measured:
        headline = measured[0]  # the costliest unit with counts
        data.update(
            headline_name=headline["name"],
            headline_label=headline["label"],
            headline_currency=headline["currency"],
            headline_cost_per_unit=headline["cost_per_unit"],
        )
    data["charts"] = _charts(data, period)
    return data


def _charts(data: dict, period: ReportPeriod) -> list[dict]:
    shown = [r for r in data["units"] if any(p["cost_per_unit"] is not None for p in r["trend"])][:CHART_UNITS]
    if not shown:
        return []
    currencies = {r["currency"] for r in shown}
    unit = f"{currencies.pop()} per unit" if len(currencies) == 1 else "per unit"
    return [
        {
            "id": "unit-cost-trend",
            "title": f"Cost per unit, last {TREND_MONTHS} months",
            "description": "Lines of the cost per unit each month: "
            + "; ".join(
                f"{r['name']} {r['cost_per_unit'] or 'not measured'} {r['currency']} in {period.label}" for r in shown
            )
            + ".",
            "kind": "line",
            "x": data["months"],
            "monthly": True,
            "unit": unit,
            "series": [{"name": r["name"], "values": [p["cost_per_unit"] for p in r["trend"]]} for r in shown],
        }
    ]


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """The costliest unit's cost per unit, and the biggest move in a cost per unit (10 % or more)."""
    out = []
    if data.get("headline_cost_per_unit") is not None:
        out.append(
            {
                "text": f"Each {data['headline_label']} cost "
                f"{say_money_per_unit(data['headline_cost_per_unit'], data['headline_currency'])} in AI and cloud "
                "spend this month.",
                "figure": "unit_economics.headline_cost_per_unit",
                "tone": "neutral",
            }
        )
    change = data.get("biggest_change_percent")
    if change is not None and abs(Decimal(change)) >= MATERIAL_CHANGE_PERCENT:
        up = Decimal(change) > 0
        out.append(
            {
                "text": f"The cost per {data['biggest_change_label']} {'rose' if up else 'fell'} {say_percent(change)} "
                "compared with last month.",
                "figure": "unit_economics.biggest_change_percent",
                "tone": "bad" if up else "good",
            }
        )
    return out


def say_money_per_unit(value: str, currency: str) -> str:
    """A cost per unit in a sentence: the stored figure, four decimals, with thousands separators."""
    return f"{Decimal(value):,} {currency}"
