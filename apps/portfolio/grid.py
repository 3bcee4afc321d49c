"""The console grid's rows as HTML, built in Python: the template language costs about 2 ms a row, and the
console must render 500 clients in under 300 ms (bench/reports_console.py). Text people type (client names,
industries) and currency codes read from the ledger go through escape(); slugs (validated), choice values and
the texts Keel writes from numbers (apps.portfolio.health.describe) are inserted as they are."""

from __future__ import annotations

from html import escape as _escape

from django.utils.safestring import SafeString, mark_safe

from apps.core.templatetags.keel import money
from apps.tenancy.models import Client

from . import health
from .selectors import ClientRow

DASH = '<span class="muted">—</span>'
LIFECYCLES = dict(Client.Lifecycle.choices)
LABELS = {key: _escape(label) for key, label in health.LABELS.items()}


def escape(value) -> str:
    """HTML-escape (quotes too) without django.utils.html.escape's lazy-string wrapper, which costs more than
    the escaping itself over a 500-row grid."""
    return _escape(str(value), quote=True)


def _breakdown(row: ClientRow) -> str:
    """The tooltip: the score, then one line per component: label and weight, sub-score, the measured value."""
    h = row.health
    head = "not measured" if h.score is None else f"{h.score} / 100"
    lines = [f"<strong>Health {head}</strong>"]
    for p in h.parts:
        if p.weight == 0:
            score, value = "off", "weight 0: not counted"
        elif p.score is None:
            score, value = "—", "not measured"
        else:
            score, value = str(p.score), p.value
        muted = "" if p.counted else " muted"
        lines.append(
            f'<span class="pf-why-row{muted}"><span>{LABELS[p.key]} <span class="muted">×{p.weight}</span></span>'
            f'<span>{score}</span><span class="pf-why-value">{value}</span></span>'
        )
    return "".join(lines)


def _health_cell(row: ClientRow) -> str:
    h, pk = row.health, row.client.pk
    score = "—" if h.score is None else str(h.rounded)
    change = ""
    if row.health_change:
        sign, css = ("+", "up") if row.health_change > 0 else ("", "down")
        change = (
            f' <span class="small pf-delta {css}" title="Since {row.health_before_day:%-d %b}">'
            f"{sign}{row.health_change}</span>"
        )
    return (
        f'<td><span class="pf-health" tabindex="0" aria-describedby="pf-why-{pk}">'
        f'<span class="chip {h.band_class} pf-score">{score}</span> <span class="small">{h.band_label}</span>{change}'
        f'<span class="pf-why" role="tooltip" id="pf-why-{pk}">{_breakdown(row)}</span></span></td>'
    )


def _spend_cell(row: ClientRow) -> str:
    slug, currency = row.client.slug, row.spend_currency
    main = DASH if row.spend is None else f'<a href="/c/{slug}/finops/">{money(row.spend, 0)} {currency}</a>'
    if row.budget:
        percent = row.budget_percent if row.budget_percent is not None else 0
        over = ' class="pf-over"' if percent > 100 else ""
        forecast = f" · fcst {row.forecast_percent} %" if row.forecast_percent else ""
        budget = f"of {money(row.budget, 0)} · <span{over}>{percent} %</span>{forecast}"
    else:
        budget = "no budget"
    lines = [main, f'<div class="muted small">{budget}</div>']
    if row.spend:
        ai = round(row.spend_ai * 100 / row.spend) if row.spend_ai is not None else 0
        last = f" · last month {money(row.spend_last_month, 0)}" if row.spend_last_month else ""
        lines.append(f'<div class="muted small">AI {ai} %{last}</div>')
    if row.spend_other_currencies:
        lines.append(f'<div class="muted small">+ spend in {escape(", ".join(row.spend_other_currencies))}</div>')
    return '<td class="num">' + "".join(lines) + "</td>"


def row_html(row: ClientRow) -> SafeString:
    client, r = row.client, row.rollup
    slug = client.slug
    industry = f" · {escape(client.industry)}" if client.industry else ""
    cells = [
        f'<td><a href="/c/{slug}/"><strong>{escape(client.name)}</strong></a>'
        f'<div class="muted small">{LIFECYCLES.get(client.lifecycle, client.lifecycle)}{industry}</div></td>',
        _health_cell(row),
        _spend_cell(row),
        f'<td class="pf-spark">{row.spend_sparkline}</td>',
    ]
    critical = r.open_critical if r is not None else 0
    high = f'<div class="muted small">{r.open_high} high</div>' if r is not None and r.open_high else ""
    count = f'<span class="chip sev-critical">{critical}</span>' if critical else "0"
    cells.append(f'<td class="num">{count}{high}</td>')
    if row.sla_text:
        cells.append(
            f'<td class="num">{row.sla_text}<div class="muted small">{r.sla_slos_met} of {r.sla_slos_measured} met'
            "</div></td>"
        )
    else:
        cells.append(f'<td class="num">{DASH}</td>')
    if r is not None and r.readiness is not None:
        plural = "" if r.readiness_frameworks == 1 else "s"
        cells.append(
            f'<td class="num">{r.readiness} %<div class="muted small">{r.readiness_frameworks} framework{plural}'
            "</div></td>"
        )
    else:
        cells.append(f'<td class="num">{DASH}</td>')
    if row.maturity is not None:
        cells.append(
            f'<td class="num">{row.maturity.score}<div class="muted small">{row.maturity.assessed_on:%b %Y}</div></td>'
        )
    else:
        cells.append(f'<td class="num">{DASH}</td>')
    freshness = row.freshness_text
    if freshness:
        stale = ' class="pf-stale"' if row.freshness_stale else ""
        cells.append(f"<td><span{stale}>{freshness}</span></td>")
    else:
        cells.append('<td><span class="muted">no source</span></td>')
    if row.report_label:
        cells.append(
            f'<td><a href="{row.report_url}"><span class="chip pf-report-{row.report_status}">'
            f"{row.report_label}</span></a></td>"
        )
    else:
        cells.append('<td><span class="muted">none yet</span></td>')
    return mark_safe("<tr>" + "".join(cells) + "</tr>")  # noqa: S308  every inserted text is escaped above


def rows_html(rows: list[ClientRow]) -> SafeString:
    return mark_safe("\n".join(row_html(row) for row in rows))  # noqa: S308  built by row_html
