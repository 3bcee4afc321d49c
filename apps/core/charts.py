"""One look for every plotly chart in the portal: palette, layout, and the JSON a page embeds.

Pages put the figure in <script type="application/json" id="…"> and a <div data-plotly-figure="…">; the
shared static/keel/charts.js draws it (CSP-safe: no inline script). A point whose customdata is a URL path
(starting with "/" or "?") opens it when clicked — that is how every chart drills down to its ledger rows.
Floats are for drawing only: figures shown as text come from Decimal.
"""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe

PALETTE = (
    "#1d4ed8",
    "#0e9384",
    "#f79009",
    "#7a5af8",
    "#e31b54",
    "#15b79e",
    "#2e90fa",
    "#ee46bc",
    "#66c61c",
    "#dc6803",
    "#6172f3",
    "#875bf7",
    "#06aed4",
    "#ba24d5",
    "#4e5ba6",
    "#a15c07",
    "#099250",
    "#c11574",
    "#363f72",
    "#b54708",
)
OTHER_COLOUR = "#98a2b3"
ALERT_COLOUR = "#d92d20"
GOOD_COLOUR = "#079455"
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def base_layout(*, height: int = 320, y_title: str = "", legend: bool = True, monthly: bool = False) -> dict:
    """The layout every Keel chart starts from; callers update what differs."""
    return {
        "template": "none",
        "height": height,
        "margin": {"l": 64, "r": 16, "t": 8, "b": 8},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#344054"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.14, "x": 0},
        "hoverlabel": {"bgcolor": "#fff", "bordercolor": "#d0d5dd", "font": {"color": "#101828"}},
        "bargap": 0.25,
        "xaxis": {
            "type": "date",
            "tickformat": "%b %Y" if monthly else "%-d %b",
            "showgrid": False,
            "linecolor": "#d0d5dd",
            "ticks": "outside",
            "tickcolor": "#d0d5dd",
        },
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#eaecf0",
            "zerolinecolor": "#98a2b3",
            "tickformat": ",.2~f",
            "rangemode": "tozero",
        },
    }


def figure_json(figure) -> SafeString:
    """A plotly Figure (or a {"data", "layout"} dict) as JSON safe inside <script type="application/json">."""
    if isinstance(figure, dict):
        import json

        from plotly.utils import PlotlyJSONEncoder

        text = json.dumps(figure, cls=PlotlyJSONEncoder)
    else:
        text = figure.to_json()
    return mark_safe(text.translate(_JSON_SCRIPT_ESCAPES))  # noqa: S308 — escaped like json_script
