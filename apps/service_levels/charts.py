"""Plotly figures of the service-level pages: an SLO's daily SLI against its objective and the error budget left
over the window, a drift monitor's PSI history against its thresholds, and the reference and current
distributions side by side. Floats only for drawing (static/keel/charts.js); the pages show Decimals as text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.safestring import SafeString

from apps.core.charts import ALERT_COLOUR, GOOD_COLOUR, OTHER_COLOUR, base_layout, colour, figure_json

SLI_COLOUR = colour(0)
BUDGET_COLOUR = colour(1)
WARN_COLOUR = "#f79009"
REFERENCE_COLOUR = OTHER_COLOUR
CURRENT_COLOUR = colour(0)


def _percent(value: Decimal | None) -> float | None:
    return None if value is None else float(value * 100)


def plain(number: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 99.90000000 → "99.9", 1E+2 → "100"."""
    return format(number.normalize(), "f")


def _day_axis(layout: dict, days: list[dict]) -> None:
    """One tick per day while the window is young (plotly would otherwise tick every few hours, each labelled
    with the same day), and room below for the labels when there is no legend."""
    layout["xaxis"]["automargin"] = True
    if len(days) <= 14:
        layout["xaxis"]["dtick"] = 86_400_000  # one day in milliseconds
    if len(days) == 1:
        only = days[0]["day"]
        layout["xaxis"]["range"] = [
            (only - dt.timedelta(days=1)).isoformat(),
            (only + dt.timedelta(days=1)).isoformat(),
        ]


def sli_figure(series: list[dict], objective: Decimal) -> SafeString | None:
    """The day's SLI (good / total that day, client days) and the objective as a dashed line."""
    days = [row for row in series if row["sli"] is not None]
    if not days:
        return None
    x = [row["day"].isoformat() for row in days]
    target = float(objective * 100)
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": [_percent(row["sli"]) for row in days],
            "mode": "lines+markers",
            "line": {"color": SLI_COLOUR, "width": 2.5},
            "marker": {"size": 6, "color": SLI_COLOUR},
            "name": "SLI that day",
            "customdata": [[f"{row['good']:,}", f"{row['total']:,}"] for row in days],
            "hovertemplate": "%{x|%a %-d %b}: %{y:.3f} % (%{customdata[0]} good of %{customdata[1]})<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [x[0], x[-1]] if len(x) > 1 else x * 2,
            "y": [target, target],
            "mode": "lines",
            "line": {"color": ALERT_COLOUR, "width": 1.5, "dash": "dash"},
            "name": f"Objective {plain(objective * 100)} %",
            "hoverinfo": "skip",
        },
    ]
    layout = base_layout(height=300, y_title="SLI (%)")
    lowest = min(min(t for t in traces[0]["y"]), target)
    layout["yaxis"].update({"rangemode": "normal", "tickformat": ".3~f", "range": [max(0.0, lowest - 0.5), 100.05]})
    _day_axis(layout, days)
    return figure_json({"data": traces, "layout": layout})


def budget_figure(series: list[dict]) -> SafeString | None:
    """The share of the window's error budget left at the end of each day (below 0: overspent)."""
    days = [row for row in series if row["budget_remaining"] is not None]
    if not days:
        return None
    values = [_percent(row["budget_remaining"]) for row in days]
    trace = {
        "type": "scatter",
        "x": [row["day"].isoformat() for row in days],
        "y": values,
        "mode": "lines+markers",
        "fill": "tozeroy",
        "line": {"color": BUDGET_COLOUR, "width": 2.5},
        "fillcolor": "rgba(14, 147, 132, 0.12)",
        "marker": {"size": 6, "color": [BUDGET_COLOUR if v > 0 else ALERT_COLOUR for v in values]},
        "name": "Error budget left",
        "hovertemplate": "%{x|%a %-d %b}: %{y:.1f} % of the budget left<extra></extra>",
    }
    layout = base_layout(height=300, y_title="Budget left (%)", legend=False)
    layout["yaxis"].update({"rangemode": "normal", "tickformat": ".0f", "range": [min(-5.0, min(values) - 5), 105]})
    layout["margin"]["b"] = 32
    _day_axis(layout, days)
    return figure_json({"data": [trace], "layout": layout})


def psi_history_figure(checks, *, psi_warn: Decimal, psi_alert: Decimal, tz) -> SafeString | None:
    """PSI of each check (by the end of its window, client time) with the warning and alert thresholds."""
    ordered = sorted(checks, key=lambda check: (check.window_end, check.pk))
    if not ordered:
        return None
    x = [check.window_end.astimezone(tz).strftime("%Y-%m-%d %H:%M") for check in ordered]
    ends = [x[0], x[-1]] if len(x) > 1 else x * 2
    status_colour = {"stable": GOOD_COLOUR, "moderate": WARN_COLOUR, "significant": ALERT_COLOUR}
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": [float(check.psi) for check in ordered],
            "mode": "lines+markers",
            "line": {"color": SLI_COLOUR, "width": 2},
            "marker": {"size": 7, "color": [status_colour.get(check.status, OTHER_COLOUR) for check in ordered]},
            "name": "PSI",
            "customdata": [[f"{check.js:.4f}", check.get_status_display()] for check in ordered],
            "hovertemplate": "%{x}: PSI %{y:.4f}, JS %{customdata[0]} (%{customdata[1]})<extra></extra>",
        },
        {
            "type": "scatter",
            "x": ends,
            "y": [float(psi_warn)] * 2,
            "mode": "lines",
            "line": {"color": WARN_COLOUR, "width": 1.5, "dash": "dot"},
            "name": f"Warning {plain(psi_warn)}",
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "x": ends,
            "y": [float(psi_alert)] * 2,
            "mode": "lines",
            "line": {"color": ALERT_COLOUR, "width": 1.5, "dash": "dash"},
            "name": f"Alert {plain(psi_alert)}",
            "hoverinfo": "skip",
        },
    ]
    layout = base_layout(height=260, y_title="PSI")
    layout["yaxis"]["tickformat"] = ".2f"
    return figure_json({"data": traces, "layout": layout})


def distribution_figure(result, *, reference_label: str = "Reference") -> SafeString:
    """Reference and current shares per bin (numeric) or category, grouped bars (drift.DriftResult)."""
    labels = list(result.labels)
    traces = [
        {
            "type": "bar",
            "x": labels,
            "y": [float(share * 100) for share in result.reference_share],
            "name": f"{reference_label} (n = {result.n_reference:,})",
            "marker": {"color": REFERENCE_COLOUR},
            "hovertemplate": "%{x}: %{y:.1f} % of the reference<extra></extra>",
        },
        {
            "type": "bar",
            "x": labels,
            "y": [float(share * 100) for share in result.current_share],
            "name": f"Current window (n = {result.n_current:,})",
            "marker": {"color": CURRENT_COLOUR},
            "hovertemplate": "%{x}: %{y:.1f} % of the current window<extra></extra>",
        },
    ]
    layout = base_layout(height=280, y_title="Share (%)")
    layout["barmode"] = "group"
    layout["xaxis"] = {"type": "category", "showgrid": False, "linecolor": "#d0d5dd", "automargin": True}
    layout["yaxis"]["tickformat"] = ".0f"
    return figure_json({"data": traces, "layout": layout})
