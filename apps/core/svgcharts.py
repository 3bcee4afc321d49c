"""Static SVG charts for PDFs (WeasyPrint draws SVG but runs no JavaScript, so plotly figures cannot be used
there). Each function returns SVG markup with a <title> and <desc> for screen readers; the web pages draw the
same data with plotly (apps.core.charts)."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from .charts import PALETTE

FONT = "font-family='Helvetica, Arial, sans-serif'"


def radar_svg(
    axes: list[str],
    series: list[tuple[str, list[float | None], str]],
    *,
    maximum: float = 5,
    rings: int = 5,
    size: int = 420,
    title: str = "",
    description: str = "",
) -> str:
    """A radar (spider) chart: one axis per label, one closed polygon per (name, values, colour) series.
    A missing value is drawn at the centre."""
    n = len(axes)
    if n < 3:
        return ""
    cx = cy = size / 2
    radius = size / 2 - 92  # room for the axis labels
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {size} {size + 30}' width='{size}' "
        f"height='{size + 30}' role='img'>",
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
    ]

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(value, maximum)) / maximum
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    for ring in range(1, rings + 1):
        ring_points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, maximum * ring / rings) for i in range(n)))
        parts.append(f"<polygon points='{ring_points}' fill='none' stroke='#eaecf0' stroke-width='1'/>")
    for i, label in enumerate(axes):
        x, y = point(i, maximum)
        parts.append(f"<line x1='{cx:.1f}' y1='{cy:.1f}' x2='{x:.1f}' y2='{y:.1f}' stroke='#d0d5dd' stroke-width='1'/>")
        lx, ly = point(i, maximum * 1.12)
        anchor = "middle" if abs(lx - cx) < 8 else ("start" if lx > cx else "end")
        parts.append(
            f"<text x='{lx:.1f}' y='{ly + 4:.1f}' text-anchor='{anchor}' font-size='11' fill='#344054' {FONT}>"
            f"{escape(label)}</text>"
        )
    for ring in range(1, rings + 1):
        x, y = point(0, maximum * ring / rings)
        parts.append(f"<text x='{x + 4:.1f}' y='{y + 3:.1f}' font-size='9' fill='#98a2b3' {FONT}>{ring}</text>")
    for index, (name, values, colour) in enumerate(series):
        colour = colour or PALETTE[index % len(PALETTE)]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v or 0) for i, v in enumerate(values)))
        dash = " stroke-dasharray='5 3'" if index > 0 else ""
        opacity = "0.15" if index == 0 else "0"
        parts.append(
            f"<polygon points='{pts}' fill='{colour}' fill-opacity='{opacity}' stroke='{colour}' "
            f"stroke-width='2'{dash}><title>{escape(name)}</title></polygon>"
        )
    # Legend under the chart.
    x = 16
    for index, (name, _values, colour) in enumerate(series):
        colour = colour or PALETTE[index % len(PALETTE)]
        parts.append(f"<rect x='{x}' y='{size + 8}' width='14' height='4' fill='{colour}'/>")
        parts.append(f"<text x='{x + 20}' y='{size + 14}' font-size='11' fill='#344054' {FONT}>{escape(name)}</text>")
        x += 30 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def sparkline_svg(
    values: list,
    *,
    width: int = 96,
    height: int = 24,
    colour: str = "#1d4ed8",
    title: str = "",
    description: str = "",
    partial_last: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> str:
    """A small line chart (no axes) for tables, on the web inline and in PDFs. None values are gaps; the last
    point gets a dot, hollow when `partial_last` (e.g. a month still running). minimum/maximum fix the scale
    (e.g. 0-100 for scores); otherwise it runs from 0 (or the lowest value, if negative) to the highest value."""
    known = [float(v) for v in values if v is not None]
    label = escape(title)
    attribute = escape(title, {"'": "&apos;", '"': "&quot;"})
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' role='img' aria-label='{attribute}' class='sparkline'><title>{label}</title>"
        + (f"<desc>{escape(description)}</desc>" if description else "")
    )
    if not known:
        return head + "</svg>"
    low = minimum if minimum is not None else min(0.0, min(known))
    high = maximum if maximum is not None else max(known)
    pad = 3.0
    scale = (height - 2 * pad) / ((high - low) or 1.0)
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    bottom = height - pad
    segments, current, last = [], [], None
    for i, v in enumerate(values):
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        last = (pad + i * step, bottom - (min(max(float(v), low), high) - low) * scale)
        current.append("%.1f,%.1f" % last)  # noqa: UP031  (the fastest way to format 12 points x 500 rows)
    if current:
        segments.append(current)
    parts = [head]
    for segment in segments:
        if len(segment) > 1:
            parts.append(
                f"<polyline points='{' '.join(segment)}' fill='none' stroke='{colour}' stroke-width='1.5' "
                "stroke-linejoin='round' stroke-linecap='round'/>"
            )
    if last is not None:
        fill = "#fff" if partial_last else colour
        parts.append(
            f"<circle cx='{last[0]:.1f}' cy='{last[1]:.1f}' r='2.2' fill='{fill}' stroke='{colour}' "
            "stroke-width='1.2'/>"
        )
    parts.append("</svg>")
    return "".join(parts)
