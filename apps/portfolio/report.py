"""The portfolio summary for MSP leadership: one HTML document shown in the browser and printed to PDF by
WeasyPrint (charts as static SVG, so both look the same). Read from the public-schema rollups only."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.template.loader import render_to_string
from django.utils import timezone

from apps.accounts.access import clients_for_user
from apps.core.branding import branding
from apps.core.svgcharts import sparkline_svg

from . import health
from .selectors import TREND_DAYS, attach_trend, band_counts, portfolio_rows, spend_totals
from .services import weights_get


def _portfolio_trend(rows) -> tuple[list[tuple[dt.date, Decimal | None]], str]:
    """The mean health score per day across the clients scored that day, and its chart."""
    if not rows or not rows[0].trend:
        return [], ""
    days = [d for d, _ in rows[0].trend]
    means = []
    for i, day in enumerate(days):
        scores = [r.trend[i][1] for r in rows if r.trend[i][1] is not None]
        mean = (sum(scores, Decimal(0)) / len(scores)).quantize(Decimal("0.1"), ROUND_HALF_UP) if scores else None
        means.append((day, mean))
    known = [(d, v) for d, v in means if v is not None]
    if len(known) < 2:  # one day is not a trend
        return means, ""
    title = (
        f"Mean health score of the portfolio, last {len(days)} days: {known[0][1]} on {known[0][0]:%-d %b %Y}, "
        f"{known[-1][1]} on {known[-1][0]:%-d %b %Y}"
    )
    svg = sparkline_svg(
        [v for _, v in means], width=420, height=70, minimum=0, maximum=100, colour=branding().primary, title=title
    )
    return means, svg


def summary_context(*, clients, web: bool, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    weights = weights_get()
    rows = portfolio_rows(clients, sort="health", weights=weights.as_dict(), now=now)
    attach_trend(rows, now=now)
    scored = [r.health.score for r in rows if r.health.score is not None]
    mean = (sum(scored, Decimal(0)) / len(scored)).quantize(Decimal("0.1"), ROUND_HALF_UP) if scored else None
    _, trend_svg = _portfolio_trend(rows)
    counts = band_counts(rows)
    return {
        "brand": branding(),
        "generated_at": now,
        "month": now.astimezone(dt.UTC).date().replace(day=1),
        "rows": rows,
        "at_risk": [r for r in rows if r.health.band == "at-risk"],
        "counts": counts,
        "bands": [(key, label, css, counts[key]) for _, key, label, css in health.BANDS]
        + [(*health.UNMEASURED[:1], health.UNMEASURED[1], health.UNMEASURED[2], counts[health.UNMEASURED[0]])],
        "mean": mean,
        "totals": spend_totals(rows),
        "weights": [(health.LABELS[k], weights.as_dict()[k], health.MAPPINGS[k]) for k in health.COMPONENTS],
        "components": [(health.SHORT_LABELS[k], health.LABELS[k]) for k in health.COMPONENTS],
        "trend_svg": trend_svg,
        "trend_days": TREND_DAYS,
        "web": web,
    }


def summary_html(*, user=None, clients=None, web: bool = False, now: dt.datetime | None = None) -> str:
    """The report over `clients` (a Client queryset), or over the clients `user` may see."""
    clients = clients if clients is not None else clients_for_user(user)
    return render_to_string("portfolio/summary.html", summary_context(clients=clients, web=web, now=now))


def summary_pdf(*, user=None, clients=None, now: dt.datetime | None = None) -> bytes:
    from weasyprint import HTML

    return HTML(string=summary_html(user=user, clients=clients, web=False, now=now)).write_pdf()


def summary_filename(now: dt.datetime | None = None) -> str:
    return f"portfolio-summary-{(now or timezone.now()):%Y-%m-%d}.pdf"
