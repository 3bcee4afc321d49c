"""Report charts: one spec, drawn twice — as a plotly figure in the portal and as static SVG in the PDF
(WeasyPrint runs no JavaScript), so both show the same figures.

A spec is JSON stored in the snapshot:
    {"id": "spend-trend", "title": "…", "description": "… (the alt text)", "kind": "bar" | "line" | "stacked",
     "x": ["2026-06", …] or category labels, "monthly": true when x are YYYY-MM months,
     "unit": "USD" | "%" | …, "series": [{"name": "…", "values": ["12.30", null, …], "colour": "#…"?}],
     "target": "99.5"? (a horizontal reference line)}
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.sax.saxutils import escape

from apps.core.charts import PALETTE, base_layout

FONT = "font-family='Helvetica, Arial, sans-serif'"


def _number(value) -> float | None:
    return None if value in (None, "") else float(Decimal(str(value)))  # drawing only


def _label(spec: dict, x: str) -> str:
    if spec.get("monthly"):
        try:
            return dt.date.fromisoformat(f"{x}-01").strftime("%b %y")
        except ValueError:
            return x
    return x


def _colour(series: dict, index: int) -> str:
    return series.get("colour") or PALETTE[index % len(PALETTE)]


def plotly_figure(spec: dict) -> dict:
    """The spec as a plotly {data, layout} dict for apps.core.charts.figure_json."""
    kind = spec.get("kind", "bar")
    labels = [_label(spec, x) for x in spec["x"]]
    data = []
    for index, series in enumerate(spec["series"]):
        values = [_number(v) for v in series["values"]]
        trace = {"name": series["name"], "x": labels, "y": values, "marker": {"color": _colour(series, index)}}
        if kind == "line":
            trace.update(type="scatter", mode="lines+markers", line={"color": _colour(series, index), "width": 2})
        else:
            trace.update(type="bar")
        trace["hovertemplate"] = f"%{{x}}: %{{y:,.2f}} {spec.get('unit', '')}<extra>{escape(series['name'])}</extra>"
        data.append(trace)
    layout = base_layout(height=280, y_title=spec.get("unit", ""), legend=len(data) > 1)
    layout["xaxis"].update(type="category", tickformat=None)
    if kind == "stacked":
        layout["barmode"] = "stack"
    if spec.get("target") is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": _number(spec["target"]),
                "y1": _number(spec["target"]),
                "line": {"color": "#d92d20", "dash": "dash", "width": 1},
            }
        ]
        layout["yaxis"]["rangemode"] = "normal"
    return {"data": data, "layout": layout}


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


def _tick(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.0f}k"
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def svg(spec: dict, *, width: int = 640, height: int = 240) -> str:
    """The spec as an SVG chart with a <title> and <desc> (the alt text) for screen readers."""
    kind = spec.get("kind", "bar")
    labels = [_label(spec, x) for x in spec["x"]]
    series = [(s["name"], [_number(v) for v in s["values"]], _colour(s, i)) for i, s in enumerate(spec["series"])]
    left, right, top = 56, 12, 12
    legend_height = 18 if len(series) > 1 else 0
    bottom = 34 + legend_height
    plot_w, plot_h = width - left - right, height - top - bottom
    if kind == "stacked":
        totals = [sum(v[i] or 0 for _, v, _ in series) for i in range(len(labels))]
        peak = max(totals, default=0)
        low = 0.0
    else:
        values = [v for _, vs, _ in series for v in vs if v is not None]
        peak = max(values, default=0)
        low = min(0.0, min(values, default=0))
    if spec.get("target") is not None:
        peak = max(peak, _number(spec["target"]))
    if kind == "line" and spec.get("unit") == "%" and values:
        low = max(0.0, min(min(values), _number(spec.get("target")) or min(values)) - 2)
        peak = min(100.0, peak + 1) if peak <= 100 else peak
    else:
        peak = _nice_max(peak)
    span = (peak - low) or 1.0

    def y_of(value: float) -> float:
        return top + plot_h - (value - low) / span * plot_h

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(spec.get('title', ''), {chr(39): '&#39;'})}'>",
        f"<title>{escape(spec.get('title', ''))}</title><desc>{escape(spec.get('description', ''))}</desc>",
    ]
    for step in range(5):
        value = low + span * step / 4
        y = y_of(value)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' stroke='#eaecf0'/>")
        parts.append(
            f"<text x='{left - 6}' y='{y + 3:.1f}' text-anchor='end' font-size='9' fill='#667085' {FONT}>"
            f"{_tick(value)}</text>"
        )
    n = max(len(labels), 1)
    slot = plot_w / n
    every = max(1, -(-n // 12))  # at most about 12 x labels
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = left + slot * (i + 0.5)
        parts.append(
            f"<text x='{x:.1f}' y='{top + plot_h + 14}' text-anchor='middle' font-size='9' fill='#475467' {FONT}>"
            f"{escape(label[:18])}</text>"
        )
    if kind == "line":
        for _name, values, colour in series:
            points = [(left + slot * (i + 0.5), y_of(v)) for i, v in enumerate(values) if v is not None]
            if len(points) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'/>")
            for x, y in points:
                parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{colour}'/>")
    elif kind == "stacked":
        bar_w = slot * 0.7
        for i in range(len(labels)):
            base = 0.0
            for _name, values, colour in series:
                value = values[i] or 0
                if value <= 0:
                    continue
                y0, y1 = y_of(base), y_of(base + value)
                parts.append(
                    f"<rect x='{left + slot * i + (slot - bar_w) / 2:.1f}' y='{y1:.1f}' width='{bar_w:.1f}' "
                    f"height='{max(y0 - y1, 0.5):.1f}' fill='{colour}'/>"
                )
                base += value
    else:
        group_w = slot * 0.75
        bar_w = group_w / max(len(series), 1)
        for index, (_name, values, colour) in enumerate(series):
            for i, value in enumerate(values):
                if value is None:
                    continue
                y0, y1 = y_of(max(low, 0)), y_of(value)
                x = left + slot * i + (slot - group_w) / 2 + bar_w * index
                parts.append(
                    f"<rect x='{x:.1f}' y='{min(y0, y1):.1f}' width='{max(bar_w - 1, 1):.1f}' "
                    f"height='{max(abs(y0 - y1), 0.5):.1f}' fill='{colour}'/>"
                )
    if spec.get("target") is not None:
        y = y_of(_number(spec["target"]))
        parts.append(
            f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' stroke='#d92d20' "
            "stroke-dasharray='4 3'/>"
        )
    parts.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{width - right}' y2='{top + plot_h}' stroke='#98a2b3'/>")
    if legend_height:
        x = left
        for name, _values, colour in series:
            parts.append(f"<rect x='{x}' y='{height - 12}' width='9' height='9' fill='{colour}'/>")
            parts.append(
                f"<text x='{x + 13}' y='{height - 4}' font-size='9' fill='#344054' {FONT}>{escape(name[:28])}</text>"
            )
            x += 20 + 6 * min(len(name), 28)
    if spec.get("unit"):
        parts.append(f"<text x='4' y='{top + 6}' font-size='9' fill='#667085' {FONT}>{escape(spec['unit'])}</text>")
    parts.append("</svg>")
    return "".join(parts)
