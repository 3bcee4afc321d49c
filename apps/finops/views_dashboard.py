"""The FinOps dashboard page (finops:dashboard): KPI tiles and six interactive charts over the daily rollup.

Each chart is built once as a table (what the chart shows, cell by cell, with the ledger-rows link behind
every figure); the plotly figure, the accessible table under it and its CSV download
(?format=csv&chart=<name>) are all drawn from that one table, so they cannot disagree.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from apps.accounts.roles import Cap
from apps.core.charts import ALERT_COLOUR, GOOD_COLOUR, OTHER_COLOUR, base_layout, colour, figure_json
from apps.core.permissions import capability_required

from .dashboard import (
    GROUPS,
    ZERO,
    Dashboard,
    DashboardQuery,
    LedgerLinks,
    Totals,
    dashboard_query,
    finops_dashboard,
    rollup_has_rows,
)
from .selectors import PRESETS, preset_range

TOP_GROUPS = 8  # stacked series in the spend chart; the rest is "All other"
TOP_MOVERS = 10
TOP_TOKEN_LINES = 12
AI_COLOUR, NON_AI_COLOUR = "#7a5af8", "#84adff"
ALLOCATED_COLOUR, UNALLOCATED_COLOUR = "#0e9384", "#f79009"
TOKEN_COLOURS = {"input": "#1d4ed8", "output": "#7a5af8", "cached": "#15b79e"}
CHARTS = ("spend", "ai_share", "allocation", "movers", "tokens_department", "tokens_asset")


# --- cells ------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    text: str  # as the page shows it
    value: str  # as the CSV has it (no thousands separators)
    url: str = ""  # the ledger rows behind the figure
    numeric: bool = True


def _amount(value: Decimal | None, url: str = "") -> Cell:
    if value is None:
        return Cell("—", "", url)
    rounded = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Cell(f"{rounded:,}", f"{rounded}", url)


def _signed(value: Decimal) -> Cell:
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Cell(f"{rounded:+,}", f"{rounded:+}")


def _percent(value: Decimal | None, *, signed: bool = False) -> Cell:
    if value is None:
        return Cell("—", "")
    return Cell(f"{value:+} %" if signed else f"{value} %", f"{value:+}" if signed else f"{value}")


def _count(value: int, url: str = "") -> Cell:
    return Cell(f"{value:,}", str(value), url)


def _label(text: str, url: str = "") -> Cell:
    return Cell(text, text, url, numeric=False)


@dataclass
class ChartTable:
    """One chart: its title, the table of what it shows, and the plotly figure drawn from that table."""

    name: str
    title: str
    description: str  # for screen readers (the chart's aria-label) and under the title
    columns: list[str]
    rows: list[list[Cell]]
    figure: object = None  # SafeString JSON, or None when there is nothing to draw
    note: str = ""
    foot: list[list[Cell]] = field(default_factory=list)  # total lines, also in the CSV
    csv_url: str = ""

    @property
    def figure_id(self) -> str:
        return f"chart-{self.name}"

    def body_html(self) -> SafeString:
        """The table's body and total lines (built here, not in the template: a year of days is thousands
        of cells, each a link to its ledger rows)."""
        return mark_safe(  # noqa: S308 — every text and URL is escaped
            "<tbody>"
            + "".join(_row_html(row) for row in self.rows)
            + "</tbody>"
            + ("<tfoot>" + "".join(_row_html(row) for row in self.foot) + "</tfoot>" if self.foot else "")
        )

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        for row in [*self.rows, *self.foot]:
            writer.writerow([cell.value for cell in row])
        return out.getvalue()


def _cell_html(cell: Cell) -> str:
    text = escape(cell.text)
    return f'<a href="{escape(cell.url)}">{text}</a>' if cell.url else text


def _row_html(row: list[Cell]) -> str:
    head, *cells = row
    return (
        f'<tr><th scope="row">{_cell_html(head)}</th>'
        + "".join(
            f'<td class="num mono">{_cell_html(c)}</td>' if c.numeric else f"<td>{_cell_html(c)}</td>" for c in cells
        )
        + "</tr>"
    )


# --- the charts ---------------------------------------------------------------------------------------------


class ChartBuilder:
    """Turns a Dashboard (numbers) into the six ChartTables the page shows."""

    def __init__(self, board: Dashboard):
        self.board = board
        self.query = board.query
        self.currency = board.currency
        self.monthly = self.query.granularity == "month"
        self.period_label = "Month" if self.monthly else "Day"
        self.links = LedgerLinks()

    # links ----------------------------------------------------------------------------------------------
    def rows_url(self, first: dt.date, last: dt.date, **filters) -> str:
        return self.links.url(first_day=first, last_day=last, currency=self.currency, **filters)

    def period_url(self, **filters) -> str:
        return self.rows_url(self.query.first_day, self.query.last_day, **filters)

    def bucket_url(self, bucket: dt.date, **filters) -> str:
        return self.rows_url(*self.board.bucket_range(bucket), **filters)

    def group_filter(self, key) -> dict:
        """The ledger-rows filter of one group ("none" selects the rows no department or asset carries; the
        ledger page has no "no service" filter, so that group opens every row of the period)."""
        group = self.query.group
        if key in (None, ""):
            return {group: "none"} if group in ("department", "asset") else {}
        return {group: key}

    def bucket_text(self, bucket: dt.date) -> str:
        return f"{bucket:%B %Y}" if self.monthly else f"{bucket:%a} {bucket.day} {bucket:%b %Y}"

    # shared figure pieces -------------------------------------------------------------------------------
    def _time_layout(self, *, y_title: str, height: int = 340) -> dict:
        layout = base_layout(height=height, y_title=y_title, monthly=self.monthly)
        layout["barmode"] = "relative"
        if self.monthly:
            layout["xaxis"]["dtick"] = "M1"
        if len(self.board.buckets) == 1:
            layout["xaxis"]["type"] = "category"
        return layout

    def _bar(self, name: str, cells: list[Cell], colour_: str, *, hover_name: str = "") -> dict:
        date_format = "%B %Y" if self.monthly else "%a %-d %b %Y"
        label = (hover_name or name).replace("%", "%%")
        return {
            "type": "bar",
            "name": name,
            "x": [b.isoformat() for b in self.board.buckets],
            "y": [float(c.value) if c.value else None for c in cells],
            "customdata": [c.url for c in cells],
            "marker": {"color": colour_},
            "hovertemplate": f"%{{x|{date_format}}}<br>{_hover_escape(label)}: %{{y:,.2f}} {self.currency}"
            "<br><i>Click for the ledger rows</i><extra></extra>",
        }

    # 1. spend over time -----------------------------------------------------------------------------------
    def spend(self) -> ChartTable:
        board, group_label = self.board, GROUPS[self.query.group][0]
        ranked = [key for key, amount in board.group_totals.items() if amount != 0]
        top, rest = ranked[:TOP_GROUPS], ranked[TOP_GROUPS:]
        names = [board.group_name(key) for key in top]
        columns = [self.period_label, *names]
        if rest:
            columns.append(f"All other ({len(rest)})")
        columns.append("Total")
        rest_set = set(rest)
        rows = []
        for bucket in board.buckets:
            cells = [_label(self.bucket_text(bucket))]
            for key in top:
                amount = board.spend.get((bucket, key))
                cells.append(_amount(amount, self.bucket_url(bucket, **self.group_filter(key)) if amount else ""))
            if rest:
                other = sum((a for (b, k), a in board.spend.items() if b == bucket and k in rest_set), ZERO)
                cells.append(_amount(other if other else None, self.bucket_url(bucket) if other else ""))
            total = board.by_bucket.get(bucket, Totals()).cost
            cells.append(_amount(total, self.bucket_url(bucket) if total else ""))
            rows.append(cells)
        foot = [_label("Total")]
        foot += [_amount(board.group_totals[key], self.period_url(**self.group_filter(key))) for key in top]
        if rest:
            foot.append(_amount(sum((board.group_totals[k] for k in rest), ZERO), self.period_url()))
        foot.append(_amount(board.current.cost, self.period_url()))
        traces = [self._bar(name, [r[i + 1] for r in rows], colour(i)) for i, name in enumerate(names)]
        if rest:
            traces.append(self._bar(columns[len(top) + 1], [r[len(top) + 1] for r in rows], OTHER_COLOUR))
        layout = self._time_layout(y_title=f"EffectiveCost ({self.currency})", height=380)
        layout["legend"]["title"] = {"text": f"{group_label}: "}
        return ChartTable(
            name="spend",
            title=f"Spend over time by {group_label.lower()}",
            description=f"Stacked bars of EffectiveCost per {self.period_label.lower()} by {group_label.lower()}, "
            f"top {TOP_GROUPS} and all other, in {self.currency}.",
            columns=columns,
            rows=rows,
            foot=[foot],
            figure=figure_json({"data": traces, "layout": layout}) if ranked else None,
            note="“All other” opens every row of that day." if rest else "",
        )

    # 2. AI vs non-AI -------------------------------------------------------------------------------------
    def ai_share(self) -> ChartTable:
        board, rows = self.board, []
        for bucket in board.buckets:
            totals = board.by_bucket.get(bucket, Totals())
            rows.append(
                [
                    _label(self.bucket_text(bucket)),
                    _amount(totals.ai_cost, self.bucket_url(bucket, ai="yes") if totals.ai_cost else ""),
                    _amount(totals.non_ai_cost, self.bucket_url(bucket, ai="no") if totals.non_ai_cost else ""),
                    _amount(totals.cost, self.bucket_url(bucket) if totals.cost else ""),
                    _percent(totals.ai_share),
                ]
            )
        current = board.current
        foot = [
            _label("Total"),
            _amount(current.ai_cost, self.period_url(ai="yes")),
            _amount(current.non_ai_cost, self.period_url(ai="no")),
            _amount(current.cost, self.period_url()),
            _percent(current.ai_share),
        ]
        traces = [
            self._bar("AI and Machine Learning", [r[1] for r in rows], AI_COLOUR),
            self._bar("Everything else", [r[2] for r in rows], NON_AI_COLOUR),
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "AI share (%)",
                "x": [b.isoformat() for b in board.buckets],
                "y": [float(r[4].value) if r[4].value else None for r in rows],
                "yaxis": "y2",
                "line": {"color": "#101828", "width": 2},
                "marker": {"size": 4},
                "customdata": [r[1].url for r in rows],
                "hovertemplate": "AI share: %{y:.1f} %<extra></extra>",
            },
        ]
        layout = self._time_layout(y_title=f"EffectiveCost ({self.currency})")
        layout["yaxis2"] = {
            "overlaying": "y",
            "side": "right",
            "range": [0, 100],
            "tickmode": "linear",
            "dtick": 25,
            "ticksuffix": " %",
            "showgrid": False,
            "zeroline": False,
        }
        layout["margin"]["r"] = 48
        return ChartTable(
            name="ai_share",
            title="AI vs non-AI spend",
            description="Stacked bars of AI and Machine Learning spend and all other spend, with the AI share "
            f"as a line, in {self.currency}.",
            columns=[self.period_label, "AI", "Non-AI", "Total", "AI share %"],
            rows=rows,
            foot=[foot],
            figure=figure_json({"data": traces, "layout": layout}) if board.by_bucket else None,
        )

    # 3. allocated vs unallocated -------------------------------------------------------------------------
    def allocation(self) -> ChartTable:
        board, rows = self.board, []
        for bucket in board.buckets:
            totals = board.by_bucket.get(bucket, Totals())
            allocated, unallocated = totals.allocated_cost, totals.unallocated_cost
            rows.append(
                [
                    _label(self.bucket_text(bucket)),
                    _amount(allocated, self.bucket_url(bucket, allocated="yes") if allocated else ""),
                    _amount(unallocated, self.bucket_url(bucket, allocated="no") if unallocated else ""),
                    _amount(totals.cost, self.bucket_url(bucket) if totals.cost else ""),
                    _percent(totals.allocated_share),
                ]
            )
        current = board.current
        foot = [
            _label("Total"),
            _amount(current.allocated_cost, self.period_url(allocated="yes")),
            _amount(current.unallocated_cost, self.period_url(allocated="no")),
            _amount(current.cost, self.period_url()),
            _percent(current.allocated_share),
        ]
        traces = [
            self._bar("Allocated", [r[1] for r in rows], ALLOCATED_COLOUR),
            self._bar("Unallocated", [r[2] for r in rows], UNALLOCATED_COLOUR),
        ]
        return ChartTable(
            name="allocation",
            title="Allocated vs unallocated",
            description="Stacked bars of spend allocated to a department or AI asset and spend not allocated, "
            f"in {self.currency}.",
            columns=[self.period_label, "Allocated", "Unallocated", "Total", "Allocated %"],
            rows=rows,
            foot=[foot],
            figure=figure_json(
                {"data": traces, "layout": self._time_layout(y_title=f"EffectiveCost ({self.currency})")}
            )
            if board.by_bucket
            else None,
        )

    # 4. top movers ----------------------------------------------------------------------------------------
    def movers(self) -> ChartTable:
        board, group_label = self.board, GROUPS[self.query.group][0]
        previous_first, previous_last = self.query.previous
        movers = [m for m in board.movers if m.change != 0][:TOP_MOVERS]
        rows = []
        for mover in movers:
            filters = self.group_filter(mover.key)
            rows.append(
                [
                    _label(board.group_name(mover.key)),
                    _amount(mover.current, self.period_url(**filters) if mover.current else ""),
                    _amount(
                        mover.previous,
                        self.rows_url(previous_first, previous_last, **filters) if mover.previous else "",
                    ),
                    _signed(mover.change),
                    _percent(mover.change_percent, signed=True) if mover.previous > 0 else Cell("new", "new"),
                ]
            )
            rows[-1][3].url = rows[-1][1].url or rows[-1][2].url
        shown = list(reversed(rows))  # plotly draws the first category at the bottom
        trace = {
            "type": "bar",
            "orientation": "h",
            "x": [float(r[3].value) for r in shown],
            "y": [r[0].text for r in shown],
            "text": [f"{r[3].text} ({r[4].text})" for r in shown],
            "textposition": "auto",
            "customdata": [r[3].url for r in shown],
            "marker": {"color": [ALERT_COLOUR if r[3].value.startswith("+") else GOOD_COLOUR for r in shown]},
            "hovertemplate": "%{y}<br>%{text} " + self.currency + "<br><i>Click for the ledger rows</i><extra></extra>",
        }
        layout = base_layout(height=max(180, 56 + 34 * len(rows)), legend=False)
        layout["xaxis"] = {
            "type": "linear",
            "title": {"text": f"Change in EffectiveCost ({self.currency})"},
            "gridcolor": "#eaecf0",
            "zerolinecolor": "#667085",
            "tickformat": ",.2~f",
        }
        layout["yaxis"] = {"type": "category", "automargin": True, "showgrid": False}
        layout["margin"] = {"l": 8, "r": 16, "t": 8, "b": 48}
        return ChartTable(
            name="movers",
            title=f"Top movers by {group_label.lower()}",
            description=f"Horizontal bars of the {TOP_MOVERS} {group_label.lower()} values whose spend changed most "
            f"against {previous_first:%-d %b %Y} – {previous_last:%-d %b %Y}; red is up, green is down.",
            columns=[group_label, "This period", "Previous period", "Change", "Change %"],
            rows=rows,
            figure=figure_json({"data": [trace], "layout": layout}) if rows else None,
        )

    # 5–6. token burn -------------------------------------------------------------------------------------
    def _tokens(self, name: str, lines, *, label: str, title: str, kind_column: bool) -> ChartTable:
        board = self.board
        shown, rest = lines[:TOP_TOKEN_LINES], lines[TOP_TOKEN_LINES:]
        rows = []

        def line(text: str, totals: Totals, url: str, kind: str = "") -> list[Cell]:
            cells = [_label(text, url)]
            if kind_column:
                cells.append(_label(kind))
            cells += [
                _count(totals.input_tokens, url),
                _count(totals.output_tokens, url),
                _count(totals.cached_tokens, url),
                _count(totals.tokens, url),
                _amount(totals.token_cost, url),
                _amount(totals.cost_per_million_tokens),
            ]
            return cells

        for entry in shown:
            if name == "tokens_department":
                text = (
                    board.departments.get(entry.key, f"Deleted department #{entry.key}")
                    if entry.key
                    else "No department"
                )
                filters = {"department": entry.key} if entry.key else {"allocated": "no"}
                rows.append(line(text, entry.totals, self.period_url(ai="yes", **filters)))
            else:
                asset = board.assets.get(entry.key, {})
                text = asset.get("name", f"Deleted asset #{entry.key}")
                rows.append(line(text, entry.totals, self.period_url(ai="yes", asset=entry.key), asset.get("kind", "")))
        if rest:
            merged = Totals()
            for entry in rest:
                for attr in ("input_tokens", "output_tokens", "cached_tokens", "requests"):
                    setattr(merged, attr, getattr(merged, attr) + getattr(entry.totals, attr))
                merged.token_cost += entry.totals.token_cost
            rows.append(line(f"All other ({len(rest)})", merged, self.period_url(ai="yes"), ""))
        first = 2 if kind_column else 1
        shown_rows = list(reversed(rows))
        traces = []
        for offset, (kind, colour_) in enumerate(TOKEN_COLOURS.items()):
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": f"{kind.capitalize()} tokens",
                    "x": [int(r[first + offset].value) for r in shown_rows],
                    "y": [r[0].text for r in shown_rows],
                    "customdata": [[r[0].url, r[first + 4].text] for r in shown_rows],
                    "marker": {"color": colour_},
                    "hovertemplate": f"%{{y}}<br>{kind} tokens: %{{x:,}}<br>Token cost: %{{customdata[1]}} "
                    f"{self.currency}<br><i>Click for the ledger rows</i><extra></extra>",
                }
            )
        layout = base_layout(height=110 + 32 * max(len(rows), 2))
        layout["barmode"] = "stack"
        layout["bargap"] = 0.35
        layout["xaxis"] = {"type": "linear", "gridcolor": "#eaecf0", "tickformat": "~s", "ticksuffix": " tokens"}
        layout["yaxis"] = {"type": "category", "automargin": True, "showgrid": False}
        layout["margin"] = {"l": 8, "r": 16, "t": 8, "b": 8}
        layout["legend"].update({"traceorder": "normal", "y": -0.25})
        columns = [label, *(["Kind"] if kind_column else [])]
        columns += ["Input tokens", "Output tokens", "Cached tokens", "Total tokens", "Token cost", "Per 1M tokens"]
        return ChartTable(
            name=name,
            title=title,
            description=f"Stacked horizontal bars of input, output and cached tokens per {label.lower()} in the "
            f"period; the table has what they cost in {self.currency}.",
            columns=columns,
            rows=rows,
            figure=figure_json({"data": traces, "layout": layout}) if rows else None,
        )

    def tokens_department(self) -> ChartTable:
        return self._tokens(
            "tokens_department",
            self.board.tokens_by_department,
            label="Department",
            title="Token burn per department",
            kind_column=False,
        )

    def tokens_asset(self) -> ChartTable:
        lines = [line for line in self.board.tokens_by_asset if line.key is not None]
        chart = self._tokens(
            "tokens_asset", lines, label="AI asset", title="Token burn per agent and model", kind_column=True
        )
        unattributed = next((line for line in self.board.tokens_by_asset if line.key is None), None)
        if unattributed is not None and unattributed.totals.tokens:
            cost = _amount(unattributed.totals.token_cost).text
            chart.note = (
                f"{compact_count(unattributed.totals.tokens)} more tokens ({cost} {self.currency}) are not "
                "attributed to an AI asset yet: register the agents and models that send them."
            )
        return chart

    def build(self) -> dict[str, ChartTable]:
        return {name: getattr(self, name)() for name in CHARTS}


def _hover_escape(text: str) -> str:
    """Plotly's hovertemplate reads %{…}; a name such as "50%{x}" must stay text."""
    return text.replace("%{", "%%{")


# --- the page --------------------------------------------------------------------------------------------


def compact_count(value: int) -> str:
    """12,345,678 → "12.3 M" (tiles only; tables keep every digit)."""
    for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f} {suffix}"
    return f"{value:,}"


def _querystring(query: DashboardQuery, currency: str, **override) -> str:
    params = {
        "from": query.first_day.isoformat(),
        "to": query.last_day.isoformat(),
        "currency": currency,
        "group": query.group,
    }
    params.update(override)
    return urlencode({key: value for key, value in params.items() if value not in (None, "")})


def _kpis(board: Dashboard, builder: ChartBuilder) -> dict:
    current, previous = board.current, board.previous
    change = current.cost - previous.cost
    return {
        "spend": current.cost,
        "previous_spend": previous.cost,
        "change": change,
        "change_percent": (change * 100 / previous.cost).quantize(Decimal("0.1")) if previous.cost > 0 else None,
        "ai_cost": current.ai_cost,
        "ai_share": current.ai_share,
        "previous_ai_share": previous.ai_share,
        "allocated_share": current.allocated_share,
        "unallocated": current.unallocated_cost,
        "unallocated_url": builder.period_url(allocated="no"),
        "spend_url": builder.period_url(),
        "ai_url": builder.period_url(ai="yes"),
        "tokens": compact_count(current.tokens),
        "tokens_exact": current.tokens,
        "input_tokens": compact_count(current.input_tokens),
        "output_tokens": compact_count(current.output_tokens),
        "cached_tokens": compact_count(current.cached_tokens),
        "previous_tokens": previous.tokens,
        "tokens_change": change_percent_int(current.tokens, previous.tokens),
        "per_million": current.cost_per_million_tokens,
    }


def change_percent_int(now: int, before: int) -> Decimal | None:
    if before <= 0:
        return None
    return (Decimal(now - before) * 100 / before).quantize(Decimal("0.1"))


def _csv_response(chart: ChartTable, query: DashboardQuery, currency: str) -> HttpResponse:
    slug = getattr(connection.tenant, "slug", "client")
    filename = f"keel-{slug}-{chart.name}-{query.first_day}-{query.last_day}-{currency}.csv"
    response = HttpResponse(chart.csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@capability_required(Cap.VIEW)
def dashboard(request):
    today = timezone.localdate()  # the client's day: "this month" is the client's month
    query = dashboard_query(request.GET, today=today)
    reporting = getattr(request.tenant, "reporting_currency", "") or "USD"
    board = finops_dashboard(query, reporting_currency=reporting)
    builder = ChartBuilder(board)
    charts = builder.build()
    if request.GET.get("format") == "csv":
        chart = charts.get(request.GET.get("chart", ""))
        if chart is None:
            raise Http404(f"No such chart; one of {', '.join(CHARTS)}.")
        return _csv_response(chart, query, board.currency)
    currency = board.currency
    currencies = [code for code, _amount in board.currencies]
    for code in (currency, reporting):
        if code not in currencies:
            currencies.append(code)
    previous_first, previous_last = query.previous
    for chart in charts.values():
        chart.csv_url = "?" + _querystring(query, currency, format="csv", chart=chart.name)
    context = {
        "query": query,
        "board": board,
        "charts": charts,
        "kpis": _kpis(board, builder),
        "currency": currency,
        "currencies": currencies,
        "other_currencies": [
            (code, amount, _querystring(query, code)) for code, amount in board.currencies if code != currency
        ],
        "groups": [(name, label) for name, (label, _column) in GROUPS.items()],
        "group_label": GROUPS[query.group][0],
        "previous_first": previous_first,
        "previous_last": previous_last,
        "presets": [
            {
                "name": name,
                "label": label,
                "active": query.preset == name,
                "querystring": _querystring(
                    query,
                    query.currency,
                    **dict(zip(("from", "to"), (d.isoformat() for d in preset_range(name, today)), strict=True)),
                ),
            }
            for name, label in PRESETS.items()
        ],
        "custom": not query.preset,
        "ever_booked": board.has_spend or rollup_has_rows(),
        "tz": timezone.get_current_timezone_name(),
    }
    return render(request, "finops/dashboard.html", context)
