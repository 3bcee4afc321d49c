"""End-of-month spend forecast: actual month to date plus the expected spend of each remaining day.

A pure function of a daily series (no database), so it can be tested on known series:

1. History: the days before `today`, at most HISTORY_DAYS (8 weeks), starting at the first booked day. A day
   without a value after that is a day without spend.
2. Weekday factors (needs MIN_SEASONAL_DAYS = 14 days): the median spend of each weekday divided by the median of
   all days, scaled so the seven factors average 1. Medians, so one runaway day or a one-off charge does not
   move the pattern.
3. Level: the median of the last LEVEL_DAYS (14) days with the weekday taken out (spend / factor).
4. Expected spend of a remaining day = level × factor of its weekday. Today is still being booked: it counts as
   the larger of what is booked so far and what is expected.
5. Range (80 %): every day in the last BACKTEST_DAYS of history is forecast one day ahead from the days before
   it; the relative errors (clipped at 4 robust standard deviations, so one incident does not widen every future
   month) are resampled in blocks of a week (errors of neighbouring days are alike) together with a resampled
   level, BOOTSTRAP_PATHS times; the 10th and 90th percentiles of the month totals are the range.
   With fewer than 14 days of history the weekday pattern is not used and the range is widened.
6. Confidence: high, medium or low from the weeks of history and the width of the range, in plain words.

Money stays Decimal throughout, including the resampling (it is a few thousand multiplications).
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

HISTORY_DAYS = 56
LEVEL_DAYS = 14
MIN_SEASONAL_DAYS = 14
BACKTEST_DAYS = 28
MIN_BACKTEST_PRIOR = 7  # a one-day-ahead test needs at least a week before it
BOOTSTRAP_PATHS = 1000
BLOCK_DAYS = 7
LOW_Q, HIGH_Q = Decimal("0.10"), Decimal("0.90")
SHORT_HISTORY_WIDENING = Decimal("1.5")
FALLBACK_ERRORS = tuple(Decimal(x) for x in ("-0.5", "-0.25", "0", "0.25", "0.5"))  # when there is nothing to test
CLIP_SIGMAS = Decimal(4)
MAD_TO_SIGMA = Decimal("1.4826")
MIN_SPREAD = Decimal("0.01")
CENT = Decimal("0.01")
ZERO = Decimal(0)
ONE = Decimal(1)
SEED = 20261201  # fixed: the same series gives the same range every time it is evaluated


@dataclass(frozen=True)
class ForecastDay:
    day: dt.date
    actual: Decimal | None  # booked spend (None for days still to come)
    expected: Decimal | None  # the model's spend for the day (None for closed days)
    cumulative: Decimal  # actual month to date for closed days, forecast to date after
    low: Decimal  # 80 % range of the cumulative figure
    high: Decimal
    is_forecast: bool


@dataclass(frozen=True)
class Forecast:
    month: dt.date  # first day
    today: dt.date
    days_in_month: int
    days_closed: int  # days of the month before today
    days_left: int  # today and the days after it, in the month
    actual: Decimal  # everything booked in the month so far (today's partial day included)
    forecast: Decimal  # expected month total
    low: Decimal
    high: Decimal
    history_days: int
    seasonal: bool
    weekday_factors: tuple[Decimal, ...]  # Monday first
    level: Decimal
    typical_daily_error: Decimal | None  # median absolute one-day-ahead error, in the series' currency
    typical_error_pct: Decimal | None
    confidence: str  # high, medium, low; "final" for a closed month, "none" without any spend history
    notes: tuple[str, ...] = ()
    days: tuple[ForecastDay, ...] = field(default=())

    @property
    def closed(self) -> bool:
        return self.confidence == "final"

    def confidence_text(self, currency: str = "") -> str:
        """One sentence people can read: how sure the forecast is, and why."""
        if self.confidence == "final":
            return "The month is over: these are the booked figures."
        if self.confidence == "none":
            return "No spend booked yet, so there is nothing to forecast from."
        history = (
            f"{self.history_days // 7} weeks of history"
            if self.history_days >= 14
            else f"only {self.history_days} day{'s' if self.history_days != 1 else ''} of history"
        )
        text = f"{self.confidence.capitalize()} confidence — based on {history}"
        if self.typical_daily_error is not None:
            amount = f"{self.typical_daily_error.quantize(CENT, rounding=ROUND_HALF_UP):,}"
            text += f", typical daily error ±{amount}{' ' + currency if currency else ''}"
            if self.typical_error_pct is not None:
                text += f" ({self.typical_error_pct.quantize(Decimal('1'), rounding=ROUND_HALF_UP)} %)"
        return text + "."


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def month_days(month: dt.date) -> list[dt.date]:
    first = month.replace(day=1)
    return [first + dt.timedelta(days=i) for i in range(calendar.monthrange(first.year, first.month)[1])]


def _median(values) -> Decimal:
    return Decimal(median(values)) if values else ZERO


def _factors(history: list[tuple[dt.date, Decimal]]) -> tuple[Decimal, ...] | None:
    """Weekday factors averaging 1, or None when the history cannot carry a weekday pattern."""
    if len(history) < MIN_SEASONAL_DAYS:
        return None
    overall = _median([v for _, v in history])
    if overall <= 0:
        return None
    by_weekday: dict[int, list[Decimal]] = {w: [] for w in range(7)}
    for day, value in history:
        by_weekday[day.weekday()].append(value)
    raw = [_median(by_weekday[w]) / overall for w in range(7)]
    if any(r < 0 for r in raw) or sum(raw) <= 0:
        return None
    mean = sum(raw) / 7
    return tuple(r / mean for r in raw)


def _level(history: list[tuple[dt.date, Decimal]], factors: tuple[Decimal, ...] | None) -> Decimal:
    recent = history[-LEVEL_DAYS:]
    if factors is None:
        return _median([v for _, v in recent])
    values = [v / factors[d.weekday()] for d, v in recent if factors[d.weekday()] > 0]
    return _median(values)


def _model(history: list[tuple[dt.date, Decimal]]):
    """(factors or None, level) from a history (oldest first)."""
    history = history[-HISTORY_DAYS:]
    factors = _factors(history)
    return factors, _level(history, factors)


def _expected(day: dt.date, factors, level: Decimal) -> Decimal:
    return level * (factors[day.weekday()] if factors else ONE)


def _backtest(history: list[tuple[dt.date, Decimal]]) -> tuple[list[Decimal], list[Decimal]]:
    """One-day-ahead errors over the last BACKTEST_DAYS days: (relative errors, absolute errors)."""
    relative, absolute = [], []
    start = max(MIN_BACKTEST_PRIOR if len(history) > MIN_BACKTEST_PRIOR else 2, len(history) - BACKTEST_DAYS)
    for i in range(start, len(history)):
        prior = history[:i]
        factors, level = _model(prior)
        day, actual = history[i]
        predicted = _expected(day, factors, level)
        absolute.append(abs(actual - predicted))
        if predicted > 0:
            relative.append(actual / predicted - 1)
    return relative, absolute


def _clip(errors: list[Decimal]) -> list[Decimal]:
    if len(errors) < 5:
        return errors
    centre = _median(errors)
    # A floor on the spread: with otherwise perfect days (MAD 0), one spike must still be clipped.
    spread = max(_median([abs(e - centre) for e in errors]) * MAD_TO_SIGMA, MIN_SPREAD)
    lo, hi = centre - CLIP_SIGMAS * spread, centre + CLIP_SIGMAS * spread
    return [min(max(e, lo), hi) for e in errors]


def _quantile(sorted_values: list[Decimal], q: Decimal) -> Decimal:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = q * (len(sorted_values) - 1)
    below = int(position)
    above = min(below + 1, len(sorted_values) - 1)
    weight = position - below
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * weight


def _paths(
    expected: list[Decimal],
    floors: list[Decimal | None],
    errors: list[Decimal],
    level_window: list[Decimal],
    widen: Decimal,
) -> list[list[Decimal]]:
    """Simulated cumulative spend of the remaining days, BOOTSTRAP_PATHS times (a moving-block bootstrap of the
    one-day-ahead errors times a bootstrapped level)."""
    rng = random.Random(SEED)  # noqa: S311 — resampling, not security
    level = _median(level_window)
    block = BLOCK_DAYS if len(errors) >= 2 * BLOCK_DAYS else 1  # blocks need enough errors to start anywhere
    starts = len(errors) - block + 1
    scaled = [ONE + e * widen for e in errors]
    resample_level = level > 0 and len(level_window) > 1
    size, middle = len(level_window), len(level_window) // 2
    paths = []
    for _ in range(BOOTSTRAP_PATHS):
        if resample_level:
            sample = sorted(rng.choices(level_window, k=size))
            centre = sample[middle] if size % 2 else (sample[middle - 1] + sample[middle]) / 2
            multiplier = centre / level
        else:
            multiplier = ONE
        draws: list[Decimal] = []
        while len(draws) < len(expected):
            begin = rng.randrange(starts)
            draws.extend(scaled[begin : begin + block])
        total, path = ZERO, []
        for value, floor, factor in zip(expected, floors, draws, strict=False):
            simulated = value * multiplier * factor
            if simulated < 0:
                simulated = ZERO
            if floor is not None and floor > simulated:
                simulated = floor
            total += simulated
            path.append(total)
        paths.append(path)
    return paths


def _confidence(history_days: int, forecast: Decimal, low: Decimal, high: Decimal) -> str:
    if forecast <= 0:
        return "low"
    half_width = (high - low) / 2 / forecast
    if history_days >= 28 and half_width <= Decimal("0.10"):
        return "high"
    if history_days >= 14 and half_width <= Decimal("0.25"):
        return "medium"
    return "low"


def forecast_month(
    daily: dict[dt.date, Decimal], *, month: dt.date, today: dt.date, history_start: dt.date | None = None
) -> Forecast:
    """Forecast the total of `month` as seen on `today` from booked daily spend.

    `daily` maps UTC days to spend (missing days count as no spend once history has started); history starts at
    `history_start` (the first day anything was booked) or, if not given, at the first day in `daily`.
    """
    days = month_days(month)
    first, last = days[0], days[-1]
    booked = {d: Decimal(v) for d, v in daily.items()}
    in_month = {d: booked.get(d, ZERO) for d in days}
    actual = sum(in_month.values(), ZERO)
    notes: list[str] = []

    if today > last:  # closed: the booked figures are the answer
        cumulative, out = ZERO, []
        for d in days:
            cumulative += in_month[d]
            out.append(ForecastDay(d, in_month[d], None, cumulative, cumulative, cumulative, False))
        return Forecast(
            month=first,
            today=today,
            days_in_month=len(days),
            days_closed=len(days),
            days_left=0,
            actual=actual,
            forecast=actual,
            low=actual,
            high=actual,
            history_days=0,
            seasonal=False,
            weekday_factors=(ONE,) * 7,
            level=ZERO,
            typical_daily_error=None,
            typical_error_pct=None,
            confidence="final",
            days=tuple(out),
        )

    start = history_start or (min(booked) if booked else None)
    cutoff = min(today, last + dt.timedelta(days=1))  # history is every closed day before today
    history: list[tuple[dt.date, Decimal]] = []
    if start is not None and start < cutoff:
        span = (cutoff - start).days
        history = [
            (start + dt.timedelta(days=i), booked.get(start + dt.timedelta(days=i), ZERO))
            for i in range(max(0, span - HISTORY_DAYS - BACKTEST_DAYS), span)
        ]
    model_history = history[-HISTORY_DAYS:]
    history_days = len(model_history)
    factors, level = _model(history)
    remaining = [d for d in days if d >= today]
    closed = [d for d in days if d < today]
    if today <= first:
        notes.append("The month has just begun: the whole forecast is expected spend, nothing is booked yet.")

    expected = [_expected(d, factors, level) for d in remaining]
    floors = [booked.get(d) for d in remaining]
    point_days = [max(e, f) if f is not None else e for e, f in zip(expected, floors, strict=True)]
    actual_closed = sum((in_month[d] for d in closed), ZERO)
    forecast = actual_closed + sum(point_days, ZERO)

    if history_days == 0:
        confidence = "none"
        notes.append("Nothing was booked before today, so the forecast is what is booked so far.")
        relative, absolute = [], []
    else:
        relative, absolute = _backtest(history)
        confidence = ""
    if 0 < history_days < MIN_SEASONAL_DAYS:
        notes.append(
            f"Fewer than {MIN_SEASONAL_DAYS} days of history: the weekday pattern is not used and the range is widened."
        )
    widen = SHORT_HISTORY_WIDENING if history_days < MIN_SEASONAL_DAYS else ONE
    errors = _clip(relative) if len(relative) >= 5 else list(FALLBACK_ERRORS)
    level_window = [
        v / factors[d.weekday()] if factors else v
        for d, v in model_history[-LEVEL_DAYS:]
        if not factors or factors[d.weekday()] > 0
    ]

    cumulative_low: list[Decimal] = []
    cumulative_high: list[Decimal] = []
    point_cumulative, running = [], actual_closed
    for value in point_days:
        running += value
        point_cumulative.append(running)
    if remaining and history_days:
        # The spread of the simulated totals around their median, laid around the forecast: resampled ratio
        # errors are skewed upwards (actual / predicted), the forecast itself is not.
        paths = _paths(expected, floors, errors, level_window, widen)
        for i, point in enumerate(point_cumulative):
            column = sorted(p[i] for p in paths)
            centre = _quantile(column, Decimal("0.5"))
            cumulative_low.append(max(actual_closed, point + _quantile(column, LOW_Q) - centre))
            cumulative_high.append(point + _quantile(column, HIGH_Q) - centre)
    else:
        cumulative_low, cumulative_high = list(point_cumulative), list(point_cumulative)
    low = min(cumulative_low[-1], forecast) if cumulative_low else forecast
    high = max(cumulative_high[-1], forecast) if cumulative_high else forecast

    typical = _median(absolute) if absolute else None
    mean_day = sum((v for _, v in model_history), ZERO) / history_days if history_days else ZERO
    typical_pct = typical / mean_day * 100 if typical is not None and mean_day > 0 else None
    if not confidence:
        confidence = _confidence(history_days, forecast, low, high)
        if history_days < MIN_SEASONAL_DAYS:
            confidence = "low"

    out, running = [], ZERO
    for d in closed:
        running += in_month[d]
        out.append(ForecastDay(d, in_month[d], None, running, running, running, False))
    for i, d in enumerate(remaining):
        running += point_days[i]
        out.append(
            ForecastDay(
                d,
                booked.get(d),
                _cents(expected[i]),
                _cents(running),
                _cents(min(cumulative_low[i], running)),
                _cents(max(cumulative_high[i], running)),
                True,
            )
        )
    return Forecast(
        month=first,
        today=today,
        days_in_month=len(days),
        days_closed=len(closed),
        days_left=len(remaining),
        actual=actual,
        forecast=_cents(forecast),
        low=_cents(low),
        high=_cents(high),
        history_days=history_days,
        seasonal=factors is not None,
        weekday_factors=factors or (ONE,) * 7,
        level=level,
        typical_daily_error=typical,
        typical_error_pct=typical_pct,
        confidence=confidence,
        notes=tuple(notes),
        days=tuple(out),
    )
