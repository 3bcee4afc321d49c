"""The unit-cost trend chart and the rows behind it (the same rows feed the chart, the table and the CSV).

A line of cost per unit (left axis) over bars of volume (right axis), per day or month. Every point carries the
URL of the ledger rows of its scope and period in customdata, so a click drills down (static/keel/charts.js).
Floats only for plotly; the table and the CSV get the Decimal figures.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from apps.core.charts import base_layout, colour, figure_json
from apps.finops.drilldown import ledger_rows_url

from .selectors import UnitCostDrivers, UnitCostSeries

LINE_COLOUR = colour(0)
BAR_COLOUR = "rgba(14, 147, 132, 0.28)"  # colour(1), light: the volume is the backdrop of the ratio


def per_unit_text(value: Decimal | None) -> str:
    """A cost per unit for people: 2 decimals from 10 up, 4 down to 0.0001, below that 3 significant digits
    (the stored Decimal and the CSV keep all 8 places)."""
    if value is None:
        return "—"
    size = abs(value)
    if size >= 10:
        places = Decimal("0.01")
    elif size >= Decimal("0.0001") or size == 0:
        places = Decimal("0.0001")
    else:
        return f"{value.normalize():.3g}"
    return f"{value.quantize(places, rounding=ROUND_HALF_UP):,}"


def nice_axis(highest: float, ticks: int) -> tuple[float, float]:
    """(top, step) of an axis from 0 that shows `highest` on about `ticks` round steps (1, 2, 2.5, 5 × 10ⁿ)."""
    if highest <= 0:
        return 1.0, 1.0 / ticks
    raw = highest / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(highest / step - 1e-9), step


def money_text(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


@dataclass(frozen=True)
class SeriesRow:
    period: dt.date
    first_day: dt.date
    last_day: dt.date
    units: int | None
    cost: Decimal
    cost_per_unit: Decimal | None
    days_with_counts: int
    url: str  # the ledger rows of the scope in the period


def series_rows(series: UnitCostSeries) -> list[SeriesRow]:
    filters = series.scope.ledger_filters()
    if series.currency:
        filters["currency"] = series.currency
    return [
        SeriesRow(
            period=p.period,
            first_day=p.first_day,
            last_day=p.last_day,
            units=p.units,
            cost=p.cost,
            cost_per_unit=p.cost_per_unit,
            days_with_counts=p.days_with_counts,
            url=ledger_rows_url(first_day=p.first_day, last_day=p.last_day, **filters),
        )
        for p in series.points
    ]


def trend_figure(series: UnitCostSeries, rows: list[SeriesRow]) -> str:
    unit = series.unit
    monthly = series.granularity == "month"
    when = "%b %Y" if monthly else "%a %-d %b %Y"
    x = [r.period.isoformat() for r in rows]
    urls = [r.url for r in rows]
    units_text = [
        f"{r.units:,} {unit.unit_label if r.units == 1 else unit.plural}"
        if r.units is not None
        else "no count reported"
        for r in rows
    ]
    ratio_text = [
        f"{per_unit_text(r.cost_per_unit)} {series.currency} per {unit.unit_label}"
        if r.cost_per_unit is not None
        else "no ratio (no units)"
        for r in rows
    ]
    cost_text = [f"{money_text(r.cost)} {series.currency}" for r in rows]
    bars = {
        "type": "bar",
        "name": unit.plural.capitalize(),
        "x": x,
        "y": [r.units if r.units is not None else 0 for r in rows],
        "yaxis": "y",
        "marker": {"color": BAR_COLOUR},
        "customdata": urls,
        "text": units_text,
        "textposition": "none",
        "hovertemplate": f"%{{x|{when}}}<br>%{{text}}<extra></extra>",
    }
    line = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": f"Cost per {unit.unit_label}",
        "x": x,
        "y": [float(r.cost_per_unit) if r.cost_per_unit is not None else None for r in rows],
        "yaxis": "y2",
        "connectgaps": False,
        "line": {"color": LINE_COLOUR, "width": 2.5},
        "marker": {"size": 7 if monthly else 4, "color": LINE_COLOUR},
        "customdata": urls,
        "text": [f"{ratio} · {cost}" for ratio, cost in zip(ratio_text, cost_text, strict=True)],
        "hovertemplate": f"%{{x|{when}}}<br>%{{text}}<extra></extra>",
    }
    # The bars use the lower part of the plot and the line the upper part, so neither hides the other.
    most_units = max((r.units or 0 for r in rows), default=0) or 1
    ratios = [r.cost_per_unit for r in rows if r.cost_per_unit is not None]
    highest = float(max(ratios)) if ratios else 1.0
    units_top, units_step = nice_axis(most_units * 1.8, 4)
    ratio_top, ratio_step = nice_axis(highest * 1.12, 5)
    layout = base_layout(height=360, monthly=monthly)
    layout["margin"] = {"l": 72, "r": 72, "t": 8, "b": 8}
    layout["yaxis"] = {
        **layout["yaxis"],
        "title": {"text": unit.plural.capitalize()},
        "side": "right",
        "showgrid": False,
        "tickformat": ",~s",
        "range": [0, units_top],
        "tickmode": "linear",
        "tick0": 0,
        "dtick": units_step,
        "rangemode": "normal",
    }
    layout["yaxis2"] = {
        "title": {"text": f"{series.currency} per {unit.unit_label}"},
        "overlaying": "y",
        "side": "left",
        "gridcolor": "#eaecf0",
        "zerolinecolor": "#98a2b3",
        "range": [0, ratio_top],
        "tickmode": "linear",
        "tick0": 0,
        "dtick": ratio_step,
        "tickformat": ",.2f" if ratio_step >= 0.01 else ",.4~f",
    }
    layout["hovermode"] = "x unified"
    if monthly:
        layout["xaxis"]["dtick"] = "M1" if len(rows) <= 14 else "M3"
    return figure_json({"data": [bars, line], "layout": layout})


def drivers_rows(drivers: UnitCostDrivers, *, dimension_filter: str | None) -> list[dict]:
    """The contributors with the ledger rows of each in the current month (when the ledger can filter it)."""
    filters = drivers.scope.ledger_filters()
    if drivers.currency:
        filters["currency"] = drivers.currency
    first = drivers.month
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    rows = []
    for line in drivers.contributors:
        url = ""
        if dimension_filter and line.key and not line.other:
            url = ledger_rows_url(first_day=first, last_day=last, **{**filters, dimension_filter: line.key})
        rows.append({"line": line, "url": url})
    return rows
