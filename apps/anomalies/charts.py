"""The anomaly charts: the timeline (every anomaly of the list as a marker: when, how many dollars, which way)
and one scope's daily series with its expected band. Every point carries the URL of the ledger rows behind
it (charts.js opens it on click). Floats only for plotly; tables and CSV get the Decimal figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from apps.core.charts import ALERT_COLOUR, base_layout, figure_json
from apps.finops.drilldown import ledger_rows_url

from .detection import HISTORY_DAYS, Params, judge
from .models import Anomaly, Direction
from .selectors import ledger_filters, scope_series

SPIKE_COLOUR = ALERT_COLOUR
DROP_COLOUR = "#1d4ed8"
ACTUAL_COLOUR = "#344054"
EXPECTED_COLOUR = "#7a5af8"
BAND_COLOUR = "rgba(122, 90, 248, 0.14)"
COLOURS = {Direction.SPIKE: SPIKE_COLOUR, Direction.DROP: DROP_COLOUR}
CHART_DAYS_BEFORE = 56
CHART_DAYS_AFTER = 21


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def anomaly_rows_url(anomaly: Anomaly) -> str:
    """The ledger rows of the anomaly's scope on its day (Usage only, its currency)."""
    return ledger_rows_url(
        first_day=anomaly.day,
        last_day=anomaly.day,
        **ledger_filters(anomaly.scope_kind, anomaly.scope_key, anomaly.currency),
    )


# One incident often shows in several scopes on the same day: their markers sit side by side in the day.
SCOPE_HOURS = {"client": 6, "service": 10, "account": 14, "asset": 18}


def _timeline_x(anomaly: Anomaly) -> str:
    moment = dt.datetime.combine(anomaly.day, dt.time(SCOPE_HOURS.get(anomaly.scope_kind, 12)))
    return moment.isoformat()


def timeline_figure(anomalies: list[Anomaly], *, first_day: dt.date, last_day: dt.date):
    """Markers over time: y = impact (spikes up, drops down), size by |impact|, colour by direction; hollow
    markers for anomalies already resolved or dismissed."""
    if not anomalies:
        return None
    biggest = max(float(abs(a.impact)) for a in anomalies) or 1.0
    currencies = sorted({a.currency for a in anomalies})
    traces = []
    for direction in (Direction.SPIKE, Direction.DROP):
        for active in (True, False):
            chosen = [a for a in anomalies if a.direction == direction and a.is_active == active]
            if not chosen:
                continue
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"{Direction(direction).label}s" + ("" if active else " (closed)"),
                    "x": [_timeline_x(a) for a in chosen],
                    "y": [float(a.impact) for a in chosen],
                    "marker": {
                        "color": COLOURS[direction] if active else "rgba(0,0,0,0)",
                        "line": {"color": COLOURS[direction], "width": 1.5},
                        "size": [8 + 22 * (float(abs(a.impact)) / biggest) ** 0.5 for a in chosen],
                        "opacity": 0.7,  # markers of one incident in several scopes overlap: let them show
                        "symbol": "circle",
                    },
                    "customdata": [
                        [
                            anomaly_rows_url(a),
                            a.scope_label,
                            a.get_scope_kind_display(),
                            f"{_money(a.actual)} {a.currency}",
                            f"{_money(a.expected)} {a.currency}",
                            f"{'+' if a.impact >= 0 else '−'}{_money(abs(a.impact))} {a.currency}",
                            a.get_status_display(),
                        ]
                        for a in chosen
                    ],
                    "hovertemplate": "<b>%{customdata[1]}</b> (%{customdata[2]})<br>%{x|%a %-d %b %Y}: "
                    "%{customdata[3]}, expected %{customdata[4]}<br>Impact %{customdata[5]} · %{customdata[6]}"
                    "<br><i>Click for the ledger rows</i><extra></extra>",
                }
            )
    layout = base_layout(height=340, y_title=f"Impact ({currencies[0]})" if len(currencies) == 1 else "Impact")
    # Zero in view, spikes above and drops below it, with room for the largest markers.
    values = [float(a.impact) for a in anomalies]
    top, bottom = max(max(values), 0.0), min(min(values), 0.0)
    pad = (top - bottom) * 0.15 or 1.0
    layout["yaxis"]["range"] = [bottom - pad if bottom < 0 else -pad / 3, top + pad if top > 0 else pad / 3]
    layout["yaxis"]["zeroline"] = True
    layout["yaxis"]["zerolinewidth"] = 1.5
    layout["hovermode"] = "closest"
    half_day = dt.timedelta(hours=12)
    layout["xaxis"]["range"] = [
        (dt.datetime.combine(first_day, dt.time()) - half_day).isoformat(),
        (dt.datetime.combine(last_day, dt.time()) + 3 * half_day).isoformat(),
    ]
    return figure_json({"data": traces, "layout": layout})


@dataclass(frozen=True)
class SeriesRow:
    day: dt.date
    actual: Decimal
    expected: Decimal | None
    low: Decimal | None
    high: Decimal | None
    flagged: str  # "spike", "drop" or ""
    url: str


def detail_rows(anomaly: Anomaly, *, params: Params, today: dt.date) -> list[SeriesRow]:
    """The scope's daily spend around the anomaly's day, each day with the range the detector gives it now."""
    first = anomaly.day - dt.timedelta(days=CHART_DAYS_BEFORE)
    last = min(anomaly.day + dt.timedelta(days=CHART_DAYS_AFTER), today - dt.timedelta(days=1))
    last = max(last, anomaly.day)
    scope = scope_series(
        kind=anomaly.scope_kind,
        key=anomaly.scope_key,
        currency=anomaly.currency,
        start=first - dt.timedelta(days=HISTORY_DAYS),
        end=last,
    )
    if scope is None:
        return []
    filters = ledger_filters(anomaly.scope_kind, anomaly.scope_key, anomaly.currency)
    rows = []
    day = max(first, scope.series.first_day)
    while day <= last:
        verdict = judge(scope.series, day, params)
        rows.append(
            SeriesRow(
                day=day,
                actual=scope.series.value(day),
                expected=verdict.expected if verdict else None,
                low=verdict.low if verdict else None,
                high=verdict.high if verdict else None,
                flagged=(verdict.direction or "") if verdict else "",
                url=ledger_rows_url(first_day=day, last_day=day, **filters),
            )
        )
        day += dt.timedelta(days=1)
    return rows


def detail_figure(anomaly: Anomaly, rows: list[SeriesRow], others: list[Anomaly]):
    if not rows:
        return None
    currency = anomaly.currency
    banded = [r for r in rows if r.expected is not None]
    traces = []
    if banded:
        x = [r.day.isoformat() for r in banded]
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": [float(r.low) for r in banded],
                "mode": "lines",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "name": "Expected range (low)",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": [float(r.high) for r in banded],
                "mode": "lines",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": BAND_COLOUR,
                "name": "Expected range",
                "customdata": [[_money(r.low)] for r in banded],
                "hovertemplate": f"%{{x|%a %-d %b}}: expected range %{{customdata[0]}} – %{{y:,.2f}} {currency}"
                "<extra></extra>",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": [float(r.expected) for r in banded],
                "mode": "lines",
                "line": {"color": EXPECTED_COLOUR, "width": 1.5, "dash": "dash"},
                "name": "Expected",
                "hovertemplate": f"%{{x|%a %-d %b}}: expected %{{y:,.2f}} {currency}<extra></extra>",
            }
        )
    traces.append(
        {
            "type": "scatter",
            "x": [r.day.isoformat() for r in rows],
            "y": [float(r.actual) for r in rows],
            "mode": "lines+markers",
            "line": {"color": ACTUAL_COLOUR, "width": 2},
            "marker": {"size": 5, "color": ACTUAL_COLOUR},
            "name": "Usage spend",
            "customdata": [[r.url] for r in rows],
            "hovertemplate": f"%{{x|%a %-d %b %Y}}: %{{y:,.2f}} {currency}<br><i>Click for the ledger rows</i>"
            "<extra></extra>",
        }
    )
    by_day = {r.day: r for r in rows}
    marked = [a for a in others if a.pk != anomaly.pk and a.day in by_day]
    for direction in (Direction.SPIKE, Direction.DROP):
        chosen = [a for a in marked if a.direction == direction]
        if chosen:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [a.day.isoformat() for a in chosen],
                    "y": [float(by_day[a.day].actual) for a in chosen],
                    "marker": {"size": 11, "color": "rgba(0,0,0,0)", "line": {"color": COLOURS[direction], "width": 2}},
                    "name": f"Other {Direction(direction).label.lower()}s",
                    "customdata": [[by_day[a.day].url] for a in chosen],
                    "hovertemplate": f"%{{x|%a %-d %b}}: {Direction(direction).label.lower()} recorded "
                    f"(%{{y:,.2f}} {currency})<extra></extra>",
                }
            )
    if anomaly.day in by_day:
        row = by_day[anomaly.day]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [anomaly.day.isoformat()],
                "y": [float(row.actual)],
                "marker": {"size": 16, "color": COLOURS[anomaly.direction], "line": {"color": "#fff", "width": 2}},
                "name": f"This {anomaly.get_direction_display().lower()}",
                "customdata": [[row.url]],
                "hovertemplate": f"%{{x|%a %-d %b %Y}}: %{{y:,.2f}} {currency}, expected {_money(anomaly.expected)}"
                "<br><i>Click for the ledger rows</i><extra></extra>",
            }
        )
    layout = base_layout(height=360, y_title=currency)
    layout["hovermode"] = "closest"
    half_day = dt.timedelta(hours=12)
    layout["xaxis"]["range"] = [
        (dt.datetime.combine(rows[0].day, dt.time()) - half_day).isoformat(),
        (dt.datetime.combine(rows[-1].day, dt.time()) + half_day).isoformat(),
    ]
    layout["shapes"] = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": (dt.datetime.combine(anomaly.day, dt.time()) - half_day).isoformat(),
            "x1": (dt.datetime.combine(anomaly.day, dt.time()) + half_day).isoformat(),
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(217, 45, 32, 0.06)" if anomaly.direction == Direction.SPIKE else "rgba(29,78,216,0.06)",
            "line": {"width": 0},
            "layer": "below",
        }
    ]
    return figure_json({"data": traces, "layout": layout})
