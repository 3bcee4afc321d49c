"""Readiness over time: the trend on a framework page and the sparkline on the overview (plotly, drawn by
static/keel/charts.js). Floats only for drawing; the pages show the Decimal scores as text."""

from __future__ import annotations

from apps.core.charts import GOOD_COLOUR, base_layout, figure_json

LINE = "#1d4ed8"


def trend_figure(snapshots) -> str:
    points = [s for s in snapshots if s.score is not None]
    layout = base_layout(height=260, y_title="Readiness (%)", legend=False)
    layout["yaxis"].update({"range": [0, 100], "tickformat": ".0f", "rangemode": "normal"})
    layout["shapes"] = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": 80,
            "y1": 80,
            "line": {"color": GOOD_COLOUR, "dash": "dot", "width": 1},
        }
    ]
    return figure_json(
        {
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "Readiness",
                    "x": [s.day.isoformat() for s in points],
                    "y": [float(s.score) for s in points],
                    "line": {"color": LINE, "width": 2, "shape": "hv"},
                    "marker": {"size": 5},
                    "hovertemplate": "%{x|%-d %b %Y}: %{y:.1f} %<extra></extra>",
                }
            ],
            "layout": layout,
        }
    )


def sparkline_figure(snapshots) -> str:
    points = [s for s in snapshots if s.score is not None]
    return figure_json(
        {
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": [s.day.isoformat() for s in points],
                    "y": [float(s.score) for s in points],
                    "line": {"color": LINE, "width": 2, "shape": "hv"},
                    "fill": "tozeroy",
                    "fillcolor": "rgba(29, 78, 216, 0.08)",
                    "hovertemplate": "%{x|%-d %b}: %{y:.1f} %<extra></extra>",
                }
            ],
            "layout": {
                "height": 56,
                "margin": {"l": 0, "r": 0, "t": 2, "b": 2},
                "showlegend": False,
                "paper_bgcolor": "rgba(0,0,0,0)",
                "plot_bgcolor": "rgba(0,0,0,0)",
                "xaxis": {"visible": False, "type": "date"},
                "yaxis": {"visible": False, "range": [0, 100]},
            },
        }
    )
