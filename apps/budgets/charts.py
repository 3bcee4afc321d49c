"""The burn-down chart of one budget month and the rows behind it (the same rows feed the table and the CSV).

Cumulative spend per day, the budget line, the forecast to month end with its 80 % range as a band, and a
dotted line per threshold. Every point of actual spend carries the URL of that day's ledger rows for the scope
(charts.js opens it on click). Floats only for plotly; the table and the CSV get the Decimal figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from apps.core.charts import ALERT_COLOUR, OTHER_COLOUR, base_layout, figure_json
from apps.finops.drilldown import ledger_rows_url

from .selectors import BudgetStatus, ledger_filters

ACTUAL_COLOUR = "#1d4ed8"
FORECAST_COLOUR = "#7a5af8"
BAND_COLOUR = "rgba(122, 90, 248, 0.16)"


@dataclass(frozen=True)
class SeriesRow:
    day: dt.date
    spend: Decimal | None  # booked that day
    spent_to_date: Decimal | None  # cumulative actual (closed days and today)
    expected: Decimal | None  # the forecast's spend for the day
    forecast_to_date: Decimal | None
    low: Decimal | None
    high: Decimal | None
    url: str  # the ledger rows of the day


def series_rows(status: BudgetStatus) -> list[SeriesRow]:
    """One row per day of the month: what the chart draws."""
    filters = ledger_filters(status.budget)
    rows, running = [], Decimal(0)
    for day in status.forecast.days:
        booked = status.daily.get(day.day)
        has_actual = not day.is_forecast or booked is not None
        if has_actual:
            running += booked or Decimal(0)
        rows.append(
            SeriesRow(
                day=day.day,
                spend=(booked or Decimal(0)) if has_actual else None,
                spent_to_date=running if has_actual else None,
                expected=day.expected,
                forecast_to_date=day.cumulative if day.is_forecast else None,
                low=day.low if day.is_forecast else None,
                high=day.high if day.is_forecast else None,
                url=ledger_rows_url(first_day=day.day, last_day=day.day, **filters),
            )
        )
    return rows


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def burn_down_figure(status: BudgetStatus, rows: list[SeriesRow]):
    currency = status.currency
    month_first, month_last = rows[0].day, rows[-1].day
    actual = [r for r in rows if r.spent_to_date is not None]
    future = [r for r in rows if r.forecast_to_date is not None]
    traces = []
    if future:
        # Anchor the forecast and its band on the last closed day, so they continue the actual line.
        anchor = [r for r in rows if r.spent_to_date is not None and r.forecast_to_date is None]
        start = [anchor[-1]] if anchor else []
        x = [r.day.isoformat() for r in start + future]
        low = [float(r.spent_to_date) for r in start] + [float(r.low) for r in future]
        high = [float(r.spent_to_date) for r in start] + [float(r.high) for r in future]
        point = [float(r.spent_to_date) for r in start] + [float(r.forecast_to_date) for r in future]
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": low,
                "mode": "lines",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "name": "80 % range (low)",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": high,
                "mode": "lines",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": BAND_COLOUR,
                "name": "Forecast range (80 %)",
                "customdata": [[f"{lo:,.2f}"] for lo in low],
                "hovertemplate": f"%{{x|%a %-d %b}}: 80 %% range %{{customdata[0]}} – %{{y:,.2f}} {currency}"
                "<extra></extra>",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": point,
                "mode": "lines",
                "line": {"color": FORECAST_COLOUR, "width": 2, "dash": "dash"},
                "name": "Forecast",
                "hovertemplate": f"%{{x|%a %-d %b}}: forecast to date %{{y:,.2f}} {currency}<extra></extra>",
            }
        )
    if actual:
        traces.append(
            {
                "type": "scatter",
                "x": [r.day.isoformat() for r in actual],
                "y": [float(r.spent_to_date) for r in actual],
                "mode": "lines+markers",
                "line": {"color": ACTUAL_COLOUR, "width": 2.5},
                "marker": {"size": 6, "color": ACTUAL_COLOUR},
                "name": "Spent (month to date)",
                "customdata": [[r.url, _money(r.spend)] for r in actual],
                "hovertemplate": "%{x|%a %-d %b}: %{customdata[1]} "
                + currency
                + " that day, %{y:,.2f} "
                + currency
                + " month to date<br><i>Click for the ledger rows of the day</i><extra></extra>",
            }
        )
    crossed = [t for t in status.thresholds if t.crossed]
    if crossed:
        by_day = {r.day: r for r in rows}
        traces.append(
            {
                "type": "scatter",
                "x": [t.crossed_on.isoformat() for t in crossed],
                "y": [float(by_day[t.crossed_on].spent_to_date) for t in crossed],
                "mode": "markers",
                "marker": {
                    "symbol": "diamond",
                    "size": 11,
                    "color": ALERT_COLOUR,
                    "line": {"color": "#fff", "width": 1},
                },
                "name": "Threshold crossed",
                "customdata": [[by_day[t.crossed_on].url, f"{t.percent} %"] for t in crossed],
                "hovertemplate": "%{x|%a %-d %b}: crossed %{customdata[1]} (%{y:,.2f} "
                + currency
                + ")<br><i>Click for the ledger rows of the day</i><extra></extra>",
            }
        )
    x_range = [month_first.isoformat(), month_last.isoformat()]
    traces.append(
        {
            "type": "scatter",
            "x": x_range,
            "y": [float(status.amount)] * 2,
            "mode": "lines",
            "line": {"color": ALERT_COLOUR, "width": 2},
            "name": f"Budget {_money(status.amount)} {currency}",
            "hovertemplate": f"Budget {_money(status.amount)} {currency}<extra></extra>",
        }
    )
    shapes, annotations = [], []
    for threshold in status.thresholds:
        if threshold.percent == 100:
            continue  # the budget line
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": float(threshold.amount),
                "y1": float(threshold.amount),
                "line": {"color": OTHER_COLOUR, "width": 1, "dash": "dot"},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 0,
                "xanchor": "left",
                "y": float(threshold.amount),
                "yanchor": "bottom",
                "text": f"{threshold.percent} %",
                "showarrow": False,
                "font": {"size": 11, "color": "#475467"},
            }
        )
    layout = base_layout(height=380, y_title=currency)
    half_day = dt.timedelta(hours=12)
    layout["xaxis"]["range"] = [
        (dt.datetime.combine(month_first, dt.time()) - half_day).isoformat(),
        (dt.datetime.combine(month_last, dt.time()) + half_day).isoformat(),
    ]
    top = max(
        [float(status.amount)]
        + [float(r.high) for r in future]
        + [float(r.spent_to_date) for r in actual]
        + [float(t.amount) for t in status.thresholds]
    )
    layout["yaxis"]["range"] = [0, top * 1.08 if top > 0 else 1]
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    layout["hovermode"] = "closest"
    return figure_json({"data": traces, "layout": layout})
