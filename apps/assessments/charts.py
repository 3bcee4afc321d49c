"""The radar of an assessment: current vs target vs previous per dimension. Plotly for the pages
(static/keel/charts.js draws it), static SVG for the PDF. Floats only for drawing; pages show Decimals as text."""

from __future__ import annotations

from decimal import Decimal

from apps.core.charts import OTHER_COLOUR, figure_json
from apps.core.svgcharts import radar_svg

CURRENT = "#1d4ed8"
TARGET = "#079455"


def _series(assessment, previous) -> tuple[list[str], list[tuple[str, list, str]]]:
    rows = assessment.results.get("dimensions", [])
    names = [row["name"] for row in rows]
    current = [float(Decimal(row["level"])) if row["level"] is not None else None for row in rows]
    target = [float(row["target"]) if row["target"] is not None else None for row in rows]
    series = [(f"This assessment ({assessment.assessed_on:%b %Y})", current, CURRENT), ("Target", target, TARGET)]
    if previous is not None:
        before = {row["ref"]: row for row in previous.results.get("dimensions", [])}
        values = [
            float(Decimal(before[row["ref"]]["level"]))
            if row["ref"] in before and before[row["ref"]]["level"] is not None
            else None
            for row in rows
        ]
        series.append((f"Previous ({previous.assessed_on:%b %Y})", values, OTHER_COLOUR))
    return names, series


def radar_figure(assessment, previous=None, *, height: int = 460) -> str:
    names, series = _series(assessment, previous)
    data = []
    for name, values, colour in series:
        closed = [*values, values[0]] if values else values
        data.append(
            {
                "type": "scatterpolar",
                "name": name,
                "r": [v if v is not None else 0 for v in closed],
                "theta": [*names, names[0]] if names else names,
                "mode": "lines+markers",
                "line": {"color": colour, "width": 2, "dash": "solid" if colour == CURRENT else "dot"},
                "fill": "toself" if colour == CURRENT else "none",
                "fillcolor": "rgba(29, 78, 216, 0.12)",
                "hovertemplate": "%{theta}: level %{r:.1f}<extra>" + name + "</extra>",
            }
        )
    layout = {
        "template": "none",
        "height": height,
        "margin": {"l": 110, "r": 110, "t": 30, "b": 30},  # room for the dimension names
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#344054"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.08, "x": 0},
        "polar": {
            "radialaxis": {"range": [0, 5], "tickvals": [1, 2, 3, 4, 5], "gridcolor": "#eaecf0", "angle": 90},
            "angularaxis": {"gridcolor": "#eaecf0", "direction": "clockwise", "rotation": 90},
        },
    }
    return figure_json({"data": data, "layout": layout})


def radar_svg_for(assessment, previous=None) -> str:
    names, series = _series(assessment, previous)
    described = "; ".join(
        f"{name}: "
        + ", ".join(
            f"{n} {v:.1f}" if v is not None else f"{n} not assessed" for n, v in zip(names, values, strict=True)
        )
        for name, values, _ in series
    )
    return radar_svg(names, series, title=f"Maturity by dimension, {assessment.title}", description=described, size=460)
