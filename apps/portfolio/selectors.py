"""Read the console from the public-schema rollups only: a fixed number of queries whatever the number of
clients, never a client's schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, F, Q, QuerySet, When
from django.utils import timezone

from apps.accounts.access import clients_for_user

from . import health
from .models import AlertFeedItem, ClientHealthDay, ClientSpendMonth

SPEND_MONTHS = 12  # the spend sparkline: the twelve closed months before this one
TREND_DAYS = 30  # the health change shown next to the score, and the report's trend
BEFORE_DAYS = (TREND_DAYS, 14, 7, 1)  # the change is against the oldest of these days that has a score
HUNDRED = Decimal(100)

# ?sort= keys. Component columns sort by their sub-score, so ascending is always worst first.
SORTS = {
    "health": "Health score",
    "name": "Client",
    "spend": "Spend this month",
    "budget": "% of budget",
    "alerts": "Open critical alerts",
    "sla": "SLA attainment",
    "readiness": "Readiness",
    "maturity": "Maturity",
    "freshness": "Ingestion freshness",
    "report": "Last report",
}
DEFAULT_SORT = "health"
# What a column header links to first: worst first for components, biggest first for money.
FIRST_DIRECTION = {"spend": "-spend", "budget": "-budget"}
DEFERRED = (
    "monthly_retainer",
    "data_residency_region",
    "service_tier",
    "sla_tier",
    "created_at",
    "offboarded_at",
    "maturity__dimensions",
    "maturity__template_name",
    "maturity__refreshed_at",
    "rollup__budget_actual",
    "rollup__sla_worst_slo",
    "rollup__components_refreshed_at",
    "rollup__report_updated_at",
)
REPORT_ORDER = {"": 0, "draft": 1, "reviewed": 2, "issued": 3}


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_back(month: dt.date, n: int) -> dt.date:
    for _ in range(n):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


@dataclass
class ClientRow:
    """One line of the console grid (and of the summary report and API)."""

    client: object
    rollup: object | None
    maturity: object | None
    health: health.Health
    month: dt.date | None = None  # the UTC month the spend figures are for
    spend_currency: str = ""
    spend: Decimal | None = None  # this month so far, in spend_currency
    spend_ai: Decimal | None = None
    spend_last_month: Decimal | None = None
    spend_other_currencies: list[str] = field(default_factory=list)
    spend_series: list[tuple[dt.date, Decimal | None]] = field(default_factory=list)  # closed months
    budget: Decimal | None = None  # this month's budget, in spend_currency
    budget_forecast: Decimal | None = None
    health_before: Decimal | None = None  # the score TREND_DAYS ago (newer clients: 14, 7 or 1 day ago)
    health_before_day: dt.date | None = None
    trend: list[tuple[dt.date, Decimal | None]] = field(default_factory=list)  # filled by the report only

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def slug(self) -> str:
        return self.client.slug

    @property
    def budget_percent(self) -> Decimal | None:
        if not self.budget or self.spend is None:
            return None
        return (self.spend * HUNDRED / self.budget).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    @property
    def forecast_percent(self) -> Decimal | None:
        if not self.budget or self.budget_forecast is None:
            return None
        return (self.budget_forecast * HUNDRED / self.budget).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    @property
    def health_change(self) -> Decimal | None:
        if self.health.score is None or self.health_before is None:
            return None
        return (self.health.score - self.health_before).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    @property
    def report_status(self) -> str:
        return self.rollup.report_status if self.rollup is not None else ""

    @property
    def report_label(self) -> str:
        """e.g. "Nov 2026 report: issued"."""
        if self.rollup is None or not self.rollup.report_status:
            return ""
        return f"{self.rollup.report_month:%b %Y} report: {self.rollup.report_status}"

    @property
    def report_url(self) -> str:
        return f"/c/{self.client.slug}/reports/"

    @property
    def spend_sparkline(self) -> str:
        """Inline SVG of the spend of the twelve closed months, with its figures as the title."""
        from apps.core.svgcharts import sparkline_svg

        known = [(m, v) for m, v in self.spend_series if v is not None]
        if not known:
            return ""
        first, last = known[0], known[-1]
        title = f"Spend per month in {self.spend_currency}: {first[0]:%b %Y} {first[1]:,.0f}"
        if len(known) > 1:
            title += f" … {last[0]:%b %Y} {last[1]:,.0f}"
        return sparkline_svg([v for _, v in self.spend_series], title=title)

    @property
    def health_sparkline(self) -> str:
        from apps.core.svgcharts import sparkline_svg

        known = [(d, v) for d, v in self.trend if v is not None]
        if len(known) < 2:  # one day is not a trend
            return ""
        title = f"Health over {len(self.trend)} days: {known[0][1]} on {known[0][0]:%-d %b} to {known[-1][1]}"
        return sparkline_svg([v for _, v in self.trend], title=title, minimum=0, maximum=100, colour="#0f766e")

    @property
    def sla_text(self) -> str:
        r = self.rollup
        if r is None or r.sla_attainment is None:
            return ""
        return health._percent(r.sla_attainment)

    @property
    def freshness_text(self) -> str:
        """e.g. "3 h ago", "2 days ago", "never"; empty when not measured."""
        if self.rollup is None or self.health.part("freshness").score is None:
            return ""
        at = self.rollup.ingestion_succeeded_at
        if at is None:
            return "never"
        elapsed = timezone.now() - at
        if elapsed < dt.timedelta(hours=1):
            return "< 1 h ago"
        if elapsed < dt.timedelta(hours=48):
            return f"{int(elapsed.total_seconds() // 3600)} h ago"
        return f"{elapsed.days} days ago"

    @property
    def freshness_stale(self) -> bool:
        score = self.health.part("freshness").score
        return score is not None and score < 50

    @property
    def at_risk_reasons(self) -> list[str]:
        """The counted components below 60, worst first, in words."""
        weak = sorted((p for p in self.health.parts if p.counted and p.score < 60), key=lambda p: p.score)
        return [f"{p.label}: {p.value}" for p in weak]


def _filtered(clients: QuerySet, *, query: str = "", lifecycle: str = "") -> QuerySet:
    if query:
        clients = clients.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    if lifecycle:
        clients = clients.filter(lifecycle=lifecycle)
    return clients


def portfolio_rows(
    clients: QuerySet,
    *,
    query: str = "",
    lifecycle: str = "",
    band: str = "",
    sort: str = DEFAULT_SORT,
    weights: dict[str, int] | None = None,
    now: dt.datetime | None = None,
) -> list[ClientRow]:
    """The clients given with their health, components, spend and last report: four queries (clients with
    rollup and maturity, spend months, health a month ago, weights) whatever their number."""
    from .services import weights_get

    now = now or timezone.now()
    weights = weights if weights is not None else weights_get().as_dict()
    rows_qs = (
        _filtered(clients, query=query, lifecycle=lifecycle)
        .select_related("rollup", "maturity")
        # Fields no view of the portfolio shows (the maturity's per-dimension levels are JSON): not fetched.
        .defer(*DEFERRED)
    )
    rows = []
    for client in rows_qs:
        rollup = getattr(client, "rollup", None)
        maturity = getattr(client, "maturity", None)
        rows.append(
            ClientRow(client, rollup, maturity, health.health(health.inputs_from(rollup, maturity, now=now), weights))
        )
    if band:
        rows = [r for r in rows if r.health.band == band]
    _attach_spend(rows, now=now)
    _attach_health_before(rows, now=now)
    return sort_rows(rows, sort)


def _attach_spend(rows: list[ClientRow], *, now: dt.datetime) -> None:
    """Spend per UTC month from ClientSpendMonth (one query): this month, last month and the sparkline, in the
    budget's currency when the client has a budget this month, else in its reporting currency. Spend in other
    currencies is not converted; the console says so."""
    if not rows:
        return
    this_month = _month_start(now.astimezone(dt.UTC).date())
    months = [_month_back(this_month, n) for n in range(SPEND_MONTHS, 0, -1)]  # closed months, oldest first
    by_client: dict[int, dict[tuple[dt.date, str], tuple[Decimal, Decimal | None]]] = {}
    spend = ClientSpendMonth.objects.filter(client_id__in=[r.client.pk for r in rows], month__gte=months[0])
    # The AI share is shown for this month only: the other months' ai_cost is not fetched (nor parsed).
    this_ai = Case(When(month=this_month, then=F("ai_cost")), default=None)
    for client_id, month, currency, cost, ai in spend.annotate(this_ai=this_ai).values_list(
        "client_id", "month", "currency", "effective_cost", "this_ai"
    ):
        by_client.setdefault(client_id, {})[(month, currency)] = (cost, ai)
    last_month = months[-1]
    for row in rows:
        rollup = row.rollup
        mine = by_client.get(row.client.pk, {})
        has_budget = rollup is not None and rollup.budget_amount and rollup.budget_month == this_month
        currency = rollup.budget_currency if has_budget else row.client.reporting_currency
        row.spend_currency, row.month = currency, this_month
        if has_budget:
            row.budget, row.budget_forecast = rollup.budget_amount, rollup.budget_forecast
        current = mine.get((this_month, currency))
        if current is not None:
            row.spend, row.spend_ai = current
        before = mine.get((last_month, currency))
        row.spend_last_month = before[0] if before else None
        row.spend_other_currencies = sorted({c for (m, c) in mine if m == this_month and c != currency})
        row.spend_series = [(m, mine[(m, currency)][0] if (m, currency) in mine else None) for m in months]


def _attach_health_before(rows: list[ClientRow], *, now: dt.datetime) -> None:
    """The daily health score TREND_DAYS days ago, or for a newer client the oldest of 14, 7 and 1 day ago (one
    query on a handful of days, so it stays cheap however long the history)."""
    if not rows:
        return
    today = now.astimezone(dt.UTC).date()
    days = [today - dt.timedelta(days=n) for n in BEFORE_DAYS]
    found = ClientHealthDay.objects.filter(
        client_id__in=[r.client.pk for r in rows], day__in=days, score__isnull=False
    ).values_list("client_id", "day", "score")
    before: dict[int, tuple[dt.date, Decimal]] = {}
    for client_id, day, score in found:
        if client_id not in before or day < before[client_id][0]:
            before[client_id] = (day, score)
    for row in rows:
        if row.client.pk in before:
            row.health_before_day, row.health_before = before[row.client.pk]


def attach_trend(rows: list[ClientRow], *, now: dt.datetime | None = None, days: int = TREND_DAYS) -> None:
    """Each client's daily health over the last `days` days, for the report (one query)."""
    if not rows:
        return
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    days_list = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    scores: dict[int, dict[dt.date, Decimal | None]] = {}
    for client_id, day, score in ClientHealthDay.objects.filter(
        client_id__in=[r.client.pk for r in rows], day__gte=days_list[0]
    ).values_list("client_id", "day", "score"):
        scores.setdefault(client_id, {})[day] = score
    for row in rows:
        mine = scores.get(row.client.pk, {})
        row.trend = [(d, mine.get(d)) for d in days_list]


def sort_rows(rows: list[ClientRow], sort: str) -> list[ClientRow]:
    """Sort by a SORTS key, "-key" for descending; ties by name; clients without a value last either way."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        key, descending = DEFAULT_SORT, False
    rows = sorted(rows, key=lambda r: r.name.lower())
    if key == "name":
        return sorted(rows, key=lambda r: r.name.lower(), reverse=descending)
    value = _SORT_VALUES.get(key) or (lambda r: r.health.part(key).score)
    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    return sorted(present, key=value, reverse=descending) + missing


_SORT_VALUES = {
    "health": lambda r: r.health.score,
    "spend": lambda r: r.spend,
    "budget": lambda r: r.budget_percent,
    "report": lambda r: (r.rollup.report_month, REPORT_ORDER[r.report_status]) if r.report_status else None,
}


def band_counts(rows: list[ClientRow]) -> dict[str, int]:
    counts = dict.fromkeys(health.BAND_KEYS, 0)
    for row in rows:
        counts[row.health.band] += 1
    return counts


def spend_totals(rows: list[ClientRow]) -> list[dict]:
    """Spend this month and budget per currency across the rows (no conversion between currencies); the
    budget total counts the clients with a budget in that currency, and so does `spend_budgeted`."""
    totals: dict[str, dict] = {}
    for row in rows:
        if row.spend is None and row.budget is None:
            continue
        t = totals.setdefault(
            row.spend_currency,
            {
                "currency": row.spend_currency,
                "spend": Decimal(0),
                "budget": Decimal(0),
                "spend_budgeted": Decimal(0),
                "forecast": Decimal(0),
                "clients": 0,
                "budgeted_clients": 0,
                "over_budget": 0,
            },
        )
        t["clients"] += 1
        t["spend"] += row.spend or 0
        if row.budget:
            t["budgeted_clients"] += 1
            t["budget"] += row.budget
            t["spend_budgeted"] += row.spend or 0
            t["forecast"] += row.budget_forecast or 0
            if (row.spend or 0) > row.budget:
                t["over_budget"] += 1
    for t in totals.values():
        t["percent"] = (
            (t["spend_budgeted"] * HUNDRED / t["budget"]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            if t["budget"]
            else None
        )
    return sorted(totals.values(), key=lambda t: t["currency"])


@dataclass
class Grid:
    rows: list[ClientRow]
    total: int  # before the band filter
    counts: dict[str, int]  # per band, before the band filter
    sort: str
    query: str
    lifecycle: str
    band: str


def clean_options(params) -> dict:
    """?sort=, ?q=, ?lifecycle=, ?band= from a QueryDict; unknown values fall back to no filter / worst first."""
    from apps.tenancy.models import Client

    sort = (params.get("sort") or DEFAULT_SORT).strip()
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    lifecycle = params.get("lifecycle") or ""
    band = params.get("band") or ""
    return {
        "sort": sort,
        "query": (params.get("q") or "").strip()[:100],
        "lifecycle": lifecycle if lifecycle in Client.Lifecycle.values else "",
        "band": band if band in health.BAND_KEYS else "",
    }


def portfolio_grid(clients: QuerySet, *, sort=DEFAULT_SORT, query="", lifecycle="", band="", now=None) -> Grid:
    rows = portfolio_rows(clients, query=query, lifecycle=lifecycle, sort=sort, now=now)
    counts = band_counts(rows)
    shown = [r for r in rows if r.health.band == band] if band else rows
    return Grid(shown, len(rows), counts, sort, query, lifecycle, band)


def console_grid(*, user, **options) -> Grid:
    return portfolio_grid(clients_for_user(user), **options)


def console_clients(*, user, **options) -> list[ClientRow]:
    """The console grid: the user's clients, worst health first unless `sort` says otherwise."""
    return portfolio_rows(clients_for_user(user), **options)


def console_alert_feed(*, user, limit: int = 30) -> QuerySet[AlertFeedItem]:
    client_ids = clients_for_user(user).values("id")
    return (
        AlertFeedItem.objects.filter(client_id__in=client_ids)
        .select_related("client")
        .order_by("severity_rank", "-last_seen_at")[:limit]
    )
