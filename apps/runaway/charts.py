"""The incident chart: the scope's spend per minute around the incident, the pace that alarms, the moment Keel
detected it and every kill-switch call. Bars drill down to the ledger rows of their day (floats only here)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.core.charts import ALERT_COLOUR, GOOD_COLOUR, OTHER_COLOUR, base_layout, figure_json

from .models import KillSwitchCall, RunawayIncident

BURN_COLOUR = "#d92d20"
NORMAL_COLOUR = "#98a2b3"


def _local(moment: dt.datetime, zone) -> str:
    return timezone.localtime(moment, zone).strftime("%Y-%m-%d %H:%M:%S")


def _marker(moment: dt.datetime, zone, *, label: str, colour: str, row: int) -> tuple[dict, dict]:
    """A dotted vertical line at the moment and its label above the plot (stacked, so labels never collide)."""
    x = _local(moment, zone)
    shape = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": colour, "width": 2, "dash": "dot"},
    }
    note = {
        "x": x,
        "y": 1,
        "yshift": 2 + 15 * row,
        "xref": "x",
        "yref": "paper",
        "yanchor": "bottom",
        "text": label,
        "showarrow": False,
        "xanchor": "left",
        "xshift": -3,
        "font": {"color": colour, "size": 11},
        "bgcolor": "rgba(255,255,255,0.85)",
    }
    return shape, note


def incident_figure(incident: RunawayIncident, minutes: list[dict], *, day_urls: dict, zone, symbol: str):
    """plotly JSON of the chart; `day_urls` maps a UTC day to its ledger-rows URL (the drill-down)."""
    xs = [_local(row["minute"], zone) for row in minutes]
    threshold = float(incident.threshold_per_minute)
    bars = {
        "type": "bar",
        "name": "Spend per minute",
        "x": xs,
        "y": [float(row["spend"]) for row in minutes],
        "marker": {"color": [BURN_COLOUR if row["above"] else NORMAL_COLOUR for row in minutes]},
        "customdata": [day_urls.get(row["minute"].astimezone(dt.UTC).date(), "") for row in minutes],
        "text": [f"{row['requests']:,} requests" for row in minutes],
        "hovertemplate": f"%{{x|%H:%M}}<br>{symbol}%{{y:,.2f}} in the minute<br>%{{text}}"
        "<br>Click: the ledger rows of the day<extra></extra>",
    }
    line = {
        "type": "scatter",
        "mode": "lines",
        "name": f"Threshold {symbol}{threshold:,.2f}/min",
        "x": [xs[0], xs[-1]] if xs else [],
        "y": [threshold, threshold],
        "line": {"color": ALERT_COLOUR, "width": 1.5, "dash": "dash"},
        "hoverinfo": "skip",
    }
    shapes, notes = [], []
    marks = [(incident.detected_at, f"Detected {timezone.localtime(incident.detected_at, zone):%H:%M}", "#101828")]
    for call in incident.kill_switch_calls.all():
        colour = GOOD_COLOUR if call.outcome == KillSwitchCall.Outcome.STOPPED else ALERT_COLOUR
        marks.append((call.called_at, f"Kill-switch: {call.get_outcome_display().lower()}", colour))
    if incident.ended_at:
        marks.append((incident.ended_at, "Ended", OTHER_COLOUR))
    for index, (moment, label, colour) in enumerate(marks):
        shape, note = _marker(moment, zone, label=f"▾ {label}", colour=colour, row=len(marks) - 1 - index)
        shapes.append(shape)
        notes.append(note)
    layout = base_layout(height=340, y_title=f"{symbol.strip() or incident.currency} per minute")
    layout["xaxis"]["tickformat"] = "%H:%M"
    layout["xaxis"]["hoverformat"] = "%-d %b %H:%M"
    layout["yaxis"]["tickformat"] = ",.0f"
    layout["shapes"] = shapes
    layout["annotations"] = notes
    layout["bargap"] = 0.1
    layout["margin"]["t"] = 12 + 15 * len(marks)
    return figure_json({"data": [bars, line], "layout": layout})
