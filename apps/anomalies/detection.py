"""The daily anomaly detector: a robust baseline with weekly seasonality for one scope's daily Usage spend.

For a day d of a series x (UTC days, zero on days without spend once the series has started), from the days
before d only:

    window      the W whole weeks before d (W = the setting, 4–8; fewer while history is short)
    factor[wd]  median over those weeks of x on weekday wd ÷ the median day of its week (the weekday pattern)
    level       median of x_t ÷ factor[wd(t)] over the 14 days before d (the recent level, pattern taken out)
    expected    level × factor[wd(d)]
    errors      e_t = (x_t − expected_t) ÷ factor[wd(t)] for the 56 days before d, each day against the
                baseline it had itself (one-day-ahead errors), scaled to a weekday-neutral size
    spread      max(1.4826 × MAD(errors) × factor[wd(d)], spread floor % × typical),
                typical = median of x over the 28 days before d
    threshold   max(k × spread, minimum impact, minimum impact % × typical)

d is anomalous when |x_d − expected| > threshold: a spike above, a drop below. The expected range shown is
expected ± threshold (never below zero), so a day outside it is exactly a day that is flagged. Medians
everywhere: one incident in the history neither moves the baseline nor widens the spread, while a lasting
change of level becomes the new normal within about a week (the level is a 14-day median). For a scope with
spend on few days (fewer than half the weeks have a median day above zero) the weekday pattern is not used and
the expected spend is the median of the same weekday. All arithmetic is Decimal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

MAD_SCALE = Decimal("1.4826")  # MAD × 1.4826 estimates the standard deviation of normal noise
LEVEL_DAYS = 14
TYPICAL_DAYS = 28
RESIDUAL_DAYS = 56  # a longer error window steadies the spread (fewer false alarms)
MIN_RESIDUALS = 7
MAX_WEEKS = 8
# Days of history a scan reads before the first day it judges: the errors' window, each with its own baseline.
HISTORY_DAYS = RESIDUAL_DAYS + MAX_WEEKS * 7
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def median(values: Iterable[Decimal]) -> Decimal:
    ordered = sorted(values)
    if not ordered:
        return ZERO
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Params:
    """The client's settings as the detector reads them."""

    k: Decimal = Decimal("4")
    min_impact: Decimal = Decimal("50")
    min_impact_percent: Decimal = Decimal("20")
    spread_floor_percent: Decimal = Decimal("5")
    weeks: int = 8
    min_history_days: int = 14
    detect_drops: bool = True

    @classmethod
    def from_settings(cls, settings) -> Params:
        return cls(
            k=settings.sensitivity,
            min_impact=settings.min_impact,
            min_impact_percent=settings.min_impact_percent,
            spread_floor_percent=settings.spread_floor_percent,
            weeks=settings.baseline_weeks,
            min_history_days=settings.min_history_days,
            detect_drops=settings.detect_drops,
        )


@dataclass
class Series:
    """One scope's daily spend. Days from `first_day` on without a value are zero; before it, unknown."""

    values: dict[dt.date, Decimal] = field(default_factory=dict)
    first_day: dt.date | None = None
    cache: dict = field(default_factory=dict, repr=False)  # baselines already computed

    def add(self, day: dt.date, amount: Decimal) -> None:
        self.cache.clear()
        self.values[day] = self.values.get(day, ZERO) + amount
        if self.first_day is None or day < self.first_day:
            self.first_day = day

    def value(self, day: dt.date) -> Decimal:
        return self.values.get(day, ZERO)


@dataclass(frozen=True)
class Judgement:
    """What the detector says about one day of one series."""

    day: dt.date
    actual: Decimal
    expected: Decimal
    low: Decimal
    high: Decimal
    spread: Decimal
    typical: Decimal
    threshold: Decimal
    score: Decimal
    direction: str | None  # "spike", "drop" or None (normal)
    details: dict

    @property
    def impact(self) -> Decimal:
        return self.actual - self.expected

    @property
    def flagged(self) -> bool:
        return self.direction is not None


def _days_before(day: dt.date, count: int) -> list[dt.date]:
    return [day - dt.timedelta(days=i) for i in range(1, count + 1)]


@dataclass(frozen=True)
class Baseline:
    """The expectation for one day from the days before it only."""

    expected: Decimal
    factor: Decimal  # the day's weekday factor (1 when the pattern is not used)
    level: Decimal
    weeks: int
    history: int
    method: str
    factors: dict  # weekday -> factor
    model: object  # day -> the in-window model value (for in-sample residuals while history is short)


def baseline(series: Series, day: dt.date, params: Params) -> Baseline | None:
    """Expected spend on `day` from the W weeks before it, or None with too little history."""
    cache_key = (day, params.weeks, params.min_history_days)
    if cache_key in series.cache:
        return series.cache[cache_key]
    found = _baseline(series, day, params)
    series.cache[cache_key] = found
    return found


def _baseline(series: Series, day: dt.date, params: Params) -> Baseline | None:
    if series.first_day is None:
        return None
    history = (day - series.first_day).days
    if history < max(params.min_history_days, 14):
        return None
    weeks = min(params.weeks, MAX_WEEKS, history // 7)
    window = _days_before(day, weeks * 7)
    # The weekday pattern, week by week: each day against its own week's median, so a change of level during
    # the window does not bend the pattern (a ratio of whole-window medians would, for weeks).
    blocks = [window[j * 7 : (j + 1) * 7] for j in range(weeks)]
    ratios: dict[int, list[Decimal]] = {wd: [] for wd in range(7)}
    for block in blocks:
        middle = median(series.value(t) for t in block)
        if middle > 0:
            for t in block:
                ratios[t.weekday()].append(series.value(t) / middle)
    if len(ratios[0]) * 2 >= weeks:
        factors = {wd: median(values) for wd, values in ratios.items()}
        level_days = [t for t in _days_before(day, LEVEL_DAYS) if factors[t.weekday()] > 0]
        level = median(series.value(t) / factors[t.weekday()] for t in level_days)

        def model(t: dt.date) -> Decimal:
            return level * factors[t.weekday()]

        return Baseline(model(day), factors[day.weekday()], level, weeks, history, "weekday", factors, model)
    # Spend on few days: no pattern to scale, the same weekday's median is the expectation.
    same_weekday = {wd: median(series.value(t) for t in window if t.weekday() == wd) for wd in range(7)}

    def sparse(t: dt.date) -> Decimal:
        return same_weekday[t.weekday()]

    return Baseline(
        sparse(day), Decimal(1), ZERO, weeks, history, "same weekday", dict.fromkeys(range(7), Decimal(1)), sparse
    )


def _scaled(error: Decimal, factor: Decimal) -> Decimal:
    # Noise grows with volume: an error on a quiet weekday counts for more than the same error on a busy one.
    return error / factor if factor > 0 else error


def judge(series: Series, day: dt.date, params: Params) -> Judgement | None:
    """The day's verdict, or None when the series has too little history before it to judge."""
    today = baseline(series, day, params)
    if today is None:
        return None
    history = today.history
    typical = median(series.value(t) for t in _days_before(day, min(TYPICAL_DAYS, history)))
    recent = _days_before(day, min(RESIDUAL_DAYS, history))
    # Out-of-sample errors: each recent day against its own baseline, as the detector saw it that day.
    residuals = []
    for t in recent:
        then = baseline(series, t, params)
        if then is not None:
            residuals.append(_scaled(series.value(t) - then.expected, then.factor))
    source = "one-day-ahead errors"
    if len(residuals) < MIN_RESIDUALS:
        residuals = [_scaled(series.value(t) - today.model(t), today.factors[t.weekday()]) for t in recent]
        source = "in-window errors (short history)"
    centre = median(residuals)
    mad = median(abs(r - centre) for r in residuals)
    scale = today.factor if today.factor > 0 else Decimal(1)
    floor = params.spread_floor_percent / HUNDRED * typical
    spread = max(MAD_SCALE * mad * scale, floor, Decimal("0.01"))
    threshold = max(params.k * spread, params.min_impact, params.min_impact_percent / HUNDRED * typical)
    actual = series.value(day)
    deviation = actual - today.expected
    direction = None
    if deviation > threshold:
        direction = "spike"
    elif deviation < -threshold and params.detect_drops:
        direction = "drop"
    details = {
        "method": today.method,
        "weeks": today.weeks,
        "history_days": history,
        "weekday_factor": str(round(today.factor, 4)),
        "level": str(round(today.level, 6)),
        "mad": str(round(mad, 6)),
        "errors": source,
        "k": str(params.k),
        "threshold": str(round(threshold, 6)),
        "binding": _binding(params, spread, typical, threshold),
    }
    return Judgement(
        day=day,
        actual=actual,
        expected=today.expected,
        low=max(today.expected - threshold, ZERO),
        high=today.expected + threshold,
        spread=spread,
        typical=typical,
        threshold=threshold,
        score=abs(deviation) / spread,
        direction=direction,
        details=details,
    )


def _binding(params: Params, spread: Decimal, typical: Decimal, threshold: Decimal) -> str:
    """Which of the three limits set the threshold (shown on the detail page)."""
    if threshold == params.k * spread:
        return "spread"
    if threshold == params.min_impact:
        return "minimum impact"
    return "minimum impact %"
