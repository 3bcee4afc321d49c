"""Read budgets and their status for a month: spend from the daily rollup (never the raw ledger), in the budget's
currency, with the forecast. One rollup query serves any number of budgets (one filtered sum per budget)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Min, Prefetch, Q, Sum
from django.utils import timezone

from apps.finops.models import CostDaily

from .forecast import BACKTEST_DAYS, HISTORY_DAYS, Forecast, forecast_month, month_days
from .models import Budget, BudgetOverride, ThresholdCrossing

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MONTHS_OFFERED = 13  # the month picker: this month and the twelve before it
# Bills arrive a day or two late (AWS CUR, Azure exports): a scope's last days without any booked row are
# forecast like the days to come, not counted as days without spend. Never more than this many days.
BOOKING_LAG_DAYS = 2

STATES = {  # state → (label, chip class, bar colour)
    "paused": ("Paused", "chip-muted", "#98a2b3"),
    "over": ("Over budget", "sev-critical", "#d92d20"),
    "forecast_over": ("Forecast over", "sev-high", "#f79009"),
    "watch": ("Watch", "sev-medium", "#fdb022"),
    "on_track": ("On track", "chip-ok", "#079455"),
    "within": ("Within budget", "chip-ok", "#079455"),
}


def utc_today() -> dt.date:
    """Budgets count UTC charge days, as the ledger and the rollup do."""
    return timezone.now().astimezone(dt.UTC).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def parse_month(raw: str | None, *, default: dt.date) -> dt.date | None:
    """ "2026-11" → 1 Nov 2026; empty → default; anything else → None."""
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return dt.datetime.strptime(raw, "%Y-%m").date()
    except ValueError:
        return None


def months_offered(today: dt.date) -> list[dt.date]:
    months, month = [], month_start(today)
    for _ in range(MONTHS_OFFERED):
        months.append(month)
        month = previous_month(month)
    return months


def budgets_list():
    """Budgets with what the pages and the API show of them, in a fixed number of queries."""
    return Budget.objects.select_related("department", "asset").prefetch_related(
        Prefetch("overrides", queryset=BudgetOverride.objects.order_by("month"))
    )


def amount_for(budget: Budget, month: dt.date) -> Decimal:
    """The month's override if there is one (from the prefetched overrides), else the monthly amount."""
    for override in budget.overrides.all():
        if override.month == month:
            return override.amount
    return budget.amount


def scope_filter(budget: Budget) -> Q:
    return {
        Budget.Scope.CLIENT: Q(),
        Budget.Scope.DEPARTMENT: Q(department_id=budget.department_id),
        Budget.Scope.ASSET: Q(asset_id=budget.asset_id),
        Budget.Scope.PROVIDER: Q(provider_name=budget.provider_name),
        Budget.Scope.SERVICE: Q(service_name=budget.service_name),
    }[budget.scope]


def ledger_filters(budget: Budget) -> dict:
    """The scope as filters of the ledger-rows page (apps.finops.drilldown.ledger_rows_url)."""
    return {
        Budget.Scope.CLIENT: {},
        Budget.Scope.DEPARTMENT: {"department": budget.department_id},
        Budget.Scope.ASSET: {"asset": budget.asset_id},
        Budget.Scope.PROVIDER: {"provider": budget.provider_name},
        Budget.Scope.SERVICE: {"service": budget.service_name},
    }[budget.scope] | {"currency": budget.currency}


@dataclass
class Series:
    """One budget's spend by day in its currency, and what was left out in other currencies."""

    daily: dict[dt.date, Decimal] = field(default_factory=dict)
    excluded: dict[str, list] = field(default_factory=dict)  # currency → [amount, ledger rows] within the month


def scope_series(budgets: list[Budget], *, first_day: dt.date, last_day: dt.date, month: dt.date) -> dict:
    """{budget pk: Series} for [first_day, last_day], in one query over the rollup."""
    if not budgets:
        return {}
    filters = {b.pk: scope_filter(b) for b in budgets}
    annotations = {}
    for pk, condition in filters.items():
        annotations[f"b{pk}"] = Sum("effective_cost", filter=condition) if condition else Sum("effective_cost")
        annotations[f"r{pk}"] = Sum("row_count", filter=condition) if condition else Sum("row_count")
    rows = CostDaily.objects.filter(day__gte=first_day, day__lte=last_day)
    if all(filters.values()):  # no whole-client budget: read only the rows some budget needs
        combined = Q()
        for condition in filters.values():
            combined |= condition
        rows = rows.filter(combined)
    rows = rows.values("day", "billing_currency").annotate(**annotations).order_by()
    result = {b.pk: Series() for b in budgets}
    by_pk = {b.pk: b for b in budgets}
    last_of_month = month_days(month)[-1]
    for row in rows:
        for pk, series in result.items():
            amount = row[f"b{pk}"]
            if amount is None:
                continue
            if row["billing_currency"] == by_pk[pk].currency:
                series.daily[row["day"]] = series.daily.get(row["day"], ZERO) + amount
            elif month <= row["day"] <= last_of_month:
                left_out = series.excluded.setdefault(row["billing_currency"], [ZERO, 0])
                left_out[0] += amount
                left_out[1] += row[f"r{pk}"] or 0
    return result


def first_booked_day() -> dt.date | None:
    """When this client's ledger starts: history for every scope starts there (a scope's quiet days are zeros)."""
    return CostDaily.objects.aggregate(first=Min("day"))["first"]


@dataclass
class ThresholdState:
    percent: int
    amount: Decimal
    crossed_on: dt.date | None  # the day actual spend crossed it
    forecast_crosses: bool  # the forecast reaches it (and actual has not yet)
    fired: list[ThresholdCrossing] = field(default_factory=list)

    @property
    def crossed(self) -> bool:
        return self.crossed_on is not None


@dataclass
class BudgetStatus:
    budget: Budget
    month: dt.date
    today: dt.date
    amount: Decimal
    forecast: Forecast
    thresholds: list[ThresholdState]
    excluded: list[tuple[str, Decimal, int]]
    daily: dict[dt.date, Decimal]

    booked_through: dt.date | None = None  # the scope's last booked day, when days after it are still forecast

    @property
    def currency(self) -> str:
        return self.budget.currency

    @property
    def days_left(self) -> int:
        """Calendar days left in the month, today included (UTC)."""
        last = month_days(self.month)[-1]
        if self.today > last:
            return 0
        return (last - max(self.today, self.month)).days + 1

    @property
    def notes(self) -> list[str]:
        notes = list(self.forecast.notes)
        pending = (self.today - self.forecast.today).days
        if self.booked_through is not None and pending > 0:
            days = "the day before today is" if pending == 1 else f"the last {pending} days before today are"
            notes.append(
                f"Nothing is booked after {self.booked_through:%-d %b} yet: {days} forecast until the bills arrive."
            )
        return notes

    @property
    def actual(self) -> Decimal:
        return self.forecast.actual

    @property
    def percent_used(self) -> Decimal:
        return (self.actual / self.amount * HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def forecast_percent(self) -> Decimal:
        return (self.forecast.forecast / self.amount * HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.actual

    @property
    def over_by(self) -> Decimal:
        return max(self.actual - self.amount, ZERO)

    @property
    def daily_allowance(self) -> Decimal:
        """What may still be spent per remaining day (today included) to end within the budget."""
        days = self.days_left
        return max(self.remaining, ZERO) / days if days else ZERO

    @property
    def closed(self) -> bool:
        return self.forecast.closed

    @property
    def state(self) -> str:
        if not self.budget.active:
            return "paused"
        if self.actual >= self.amount:
            return "over"
        if self.closed:
            return "within"
        if self.forecast.forecast >= self.amount:
            return "forecast_over"
        warn = [t for t in self.thresholds if t.percent < 100]
        if warn and (warn[-1].crossed or warn[-1].forecast_crosses):
            return "watch"
        return "on_track"

    @property
    def state_label(self) -> str:
        return STATES[self.state][0]

    @property
    def state_class(self) -> str:
        return STATES[self.state][1]

    @property
    def bar_colour(self) -> str:
        return STATES[self.state][2]

    @property
    def bar_width(self) -> str:
        return f"{min(max(self.percent_used, ZERO), HUNDRED):.1f}"

    @property
    def crossed(self) -> list[ThresholdState]:
        return [t for t in self.thresholds if t.crossed]

    @property
    def shown_thresholds(self) -> list[ThresholdState]:
        """Crossed by actual spend, or reached by the forecast."""
        return [t for t in self.thresholds if t.crossed or t.forecast_crosses]


def _thresholds(budget: Budget, amount: Decimal, forecast: Forecast, daily: dict, fired: list[ThresholdCrossing]):
    cumulative, running = [], ZERO
    for day in sorted(daily):
        running += daily[day]
        cumulative.append((day, running))
    states = []
    for percent in sorted(set(budget.thresholds)):
        level = (amount * percent / HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        crossed_on = next((day for day, value in cumulative if value >= level), None)
        states.append(
            ThresholdState(
                percent=percent,
                amount=level,
                crossed_on=crossed_on,
                forecast_crosses=crossed_on is None and not forecast.closed and forecast.forecast >= level,
                fired=[f for f in fired if f.threshold == percent],
            )
        )
    return states


def budget_statuses(
    budgets, *, month: dt.date, today: dt.date | None = None, with_crossings: bool = True
) -> list[BudgetStatus]:
    """Each budget's spend, forecast and thresholds for `month` as seen on `today` (UTC)."""
    budgets = list(budgets)
    if not budgets:
        return []
    today = today or utc_today()
    month = month_start(month)
    days = month_days(month)
    open_month = today <= days[-1]
    first_day = min(month, today - dt.timedelta(days=HISTORY_DAYS + BACKTEST_DAYS)) if open_month else month
    series = scope_series(budgets, first_day=first_day, last_day=days[-1], month=month)
    history_start = first_booked_day() if open_month else None
    fired: dict[int, list[ThresholdCrossing]] = {}
    if with_crossings:
        crossings = ThresholdCrossing.objects.filter(budget__in=budgets, month=month).select_related("alert")
        for crossing in crossings:
            fired.setdefault(crossing.budget_id, []).append(crossing)
    statuses = []
    for budget in budgets:
        data = series[budget.pk]
        amount = amount_for(budget, month)
        start = max(history_start, first_day) if history_start else None
        forecast_today, booked_through = today, None
        booked = [d for d in data.daily if d <= today]
        if open_month and booked and max(booked) + dt.timedelta(days=1) < today:
            booked_through = max(booked)
            forecast_today = max(booked_through + dt.timedelta(days=1), today - dt.timedelta(days=BOOKING_LAG_DAYS))
        forecast = forecast_month(data.daily, month=month, today=forecast_today, history_start=start)
        in_month = {d: v for d, v in data.daily.items() if month <= d <= days[-1]}
        statuses.append(
            BudgetStatus(
                budget=budget,
                month=month,
                today=today,
                amount=amount,
                forecast=forecast,
                thresholds=_thresholds(budget, amount, forecast, in_month, fired.get(budget.pk, [])),
                excluded=[(c, v[0], v[1]) for c, v in sorted(data.excluded.items())],
                daily=in_month,
                booked_through=booked_through,
            )
        )
    return statuses


def budget_status(budget: Budget, *, month: dt.date, today: dt.date | None = None) -> BudgetStatus:
    return budget_statuses([budget], month=month, today=today)[0]


def crossings_history(budget: Budget, *, limit: int = 50):
    """The budget's threshold crossings, newest month first, with their alerts."""
    return (
        ThresholdCrossing.objects.filter(budget=budget)
        .select_related("alert")
        .order_by("-month", "-threshold", "basis")[:limit]
    )


def provider_choices() -> list[str]:
    return list(
        CostDaily.objects.order_by().values_list("provider_name", flat=True).distinct().order_by("provider_name")
    )


def service_choices() -> list[tuple[str, str]]:
    """(service, provider) pairs booked in the rollup."""
    pairs = CostDaily.objects.order_by().values_list("service_name", "provider_name").distinct()
    return sorted(set(pairs))


def billed_currencies() -> list[str]:
    return list(CostDaily.objects.order_by().values_list("billing_currency", flat=True).distinct().order_by())
