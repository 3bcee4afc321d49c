"""Error budgets and burn rates: the arithmetic, with no database (Google SRE workbook, Sloth).

SLI = good / total over the window; budget B = 1 − objective; burn rate = error ratio / B (1 spends the
budget exactly at the window's end); remaining = 1 − burn rate of the window so far. Alerts are the
multi-window, multi-burn-rate pairs: a long lookback L catches the burn, its short companion (L/12) makes the
alert clear soon after the burn stops. The factor for a pair is k = f·W/L, where f is the share of the budget
the pair may spend before it fires: for a 30-day window that gives 14.4, 6, 3 and 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

RATIO_PLACES = Decimal("0.00000001")
RATE_PLACES = Decimal("0.0001")
AT_RISK_REMAINING = Decimal("0.25")


@dataclass(frozen=True)
class BurnPair:
    level: str  # "page" or "ticket"
    long: str
    short: str
    budget_share: Decimal  # f: the share of the window's budget this pair lets burn before firing


LOOKBACK_MINUTES = {"5m": 5, "30m": 30, "1h": 60, "2h": 120, "6h": 360, "1d": 1440, "3d": 4320}
BURN_PAIRS = (
    BurnPair("page", "1h", "5m", Decimal("0.02")),
    BurnPair("page", "6h", "30m", Decimal("0.05")),
    BurnPair("ticket", "1d", "2h", Decimal("0.10")),
    BurnPair("ticket", "3d", "6h", Decimal("0.10")),
)


def ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def error_ratio(good: int, total: int) -> Decimal | None:
    if not total:
        return None
    return Decimal(total - good) / Decimal(total)


def burn_rate(good: int, total: int, objective: Decimal) -> Decimal | None:
    """How fast the budget burns: 1 = exactly used up at the window's end; None without events."""
    errors = error_ratio(good, total)
    if errors is None:
        return None
    return (errors / (1 - objective)).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


def budget_remaining(good: int, total: int, objective: Decimal) -> Decimal | None:
    """Share of the error budget left (1 untouched, 0 spent, negative = over) given the window so far."""
    errors = error_ratio(good, total)
    if errors is None:
        return None
    return (1 - errors / (1 - objective)).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def slice_budget_remaining(bad_slices: int, slices_in_window: int, objective: Decimal) -> Decimal | None:
    """Time-slice budgeting: the window holds B × (slices in the whole window) bad slices; what is left of it."""
    if not slices_in_window:
        return None
    allowed = (1 - objective) * slices_in_window
    return (1 - Decimal(bad_slices) / allowed).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def burn_factor(pair: BurnPair, window_minutes: int) -> Decimal:
    """k = f·W/L (Sloth's getBurnRateFactor): 30 days → 14.4, 6, 3, 1; 28 days → 13.44, 5.6, 2.8, 0.9333."""
    return (pair.budget_share * window_minutes / LOOKBACK_MINUTES[pair.long]).quantize(RATE_PLACES)


def exhaustion_time(window_minutes: int, rate: Decimal) -> dt.timedelta | None:
    """At a steady burn rate the whole budget lasts W / rate."""
    if not rate or rate <= 0:
        return None
    return dt.timedelta(minutes=float(Decimal(window_minutes) / rate))


@dataclass(frozen=True)
class AlertDecision:
    level: str  # "", "ticket" or "page"
    fired: list[dict]  # the pairs that fired, with their rates and factors (shown on the alert)


def alert_decision(
    counts: dict[str, tuple[int, int]], objective: Decimal, window_minutes: int, min_events: int = 1
) -> AlertDecision:
    """Which burn-rate alert is due, from (good, total) per lookback ('5m', '1h', …).

    A pair fires when both its windows burn faster than its factor; a short window with fewer than
    `min_events` events never fires (one failed request at 3 a.m. is not an outage)."""
    fired = []
    for pair in BURN_PAIRS:
        factor = burn_factor(pair, window_minutes)
        long_good, long_total = counts.get(pair.long, (0, 0))
        short_good, short_total = counts.get(pair.short, (0, 0))
        if short_total < max(min_events, 1) or not long_total:
            continue
        long_rate = burn_rate(long_good, long_total, objective)
        short_rate = burn_rate(short_good, short_total, objective)
        if long_rate > factor and short_rate > factor:
            fired.append(
                {
                    "level": pair.level,
                    "long": pair.long,
                    "short": pair.short,
                    "factor": str(factor),
                    "long_rate": str(long_rate),
                    "short_rate": str(short_rate),
                }
            )
    levels = {entry["level"] for entry in fired}
    level = "page" if "page" in levels else "ticket" if "ticket" in levels else ""
    return AlertDecision(level=level, fired=fired)


def state_for(total: int, remaining: Decimal | None, level: str) -> str:
    """no_data, ok, at_risk (a burn alert or under a quarter of the budget left) or exhausted."""
    if not total or remaining is None:
        return "no_data"
    if remaining <= 0:
        return "exhausted"
    if level or remaining < AT_RISK_REMAINING:
        return "at_risk"
    return "ok"


def wilson_interval(successes: int, n: int, z: Decimal = Decimal("1.96")) -> tuple[Decimal, Decimal] | None:
    """Wilson score interval for a proportion (e.g. hallucinated / judged), notes §3.3; None when n = 0."""
    if n <= 0:
        return None
    p = Decimal(successes) / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt()
    low, high = max(Decimal(0), centre - half), min(Decimal(1), centre + half)
    return low.quantize(RATIO_PLACES), high.quantize(RATIO_PLACES)


def credit_percent(attainment: Decimal, tiers: list[dict]) -> Decimal:
    """The credit a closed window owes: the largest credit among the tiers whose `below` (attainment in %)
    the window fell under. Tiers [{below: 99, credit_percent: 10}, {below: 95, credit_percent: 25}]:
    96 % → 10, 94 % → 25, 99.5 % → 0. Capped at 100."""
    attained_percent = attainment * 100
    owed = Decimal(0)
    for tier in tiers:
        if attained_percent < Decimal(str(tier["below"])):
            owed = max(owed, Decimal(str(tier["credit_percent"])))
    return min(owed, Decimal(100))


def validate_credit_tiers(tiers) -> list[str]:
    """Problems in a credit tier list (shown on the SLO form and in API errors)."""
    if tiers in (None, ""):
        return []
    if not isinstance(tiers, list):
        return ["Credit tiers are a list of {below, credit_percent}."]
    problems = []
    for position, tier in enumerate(tiers, start=1):
        if not isinstance(tier, dict) or set(tier) != {"below", "credit_percent"}:
            problems.append(f"Tier {position}: give exactly `below` and `credit_percent`.")
            continue
        try:
            below, percent = Decimal(str(tier["below"])), Decimal(str(tier["credit_percent"]))
        except ArithmeticError:
            problems.append(f"Tier {position}: `below` and `credit_percent` must be numbers.")
            continue
        if not below.is_finite() or not 0 < below <= 100:
            problems.append(f"Tier {position}: `below` is an attainment in percent, over 0 and at most 100.")
        if not percent.is_finite() or not 0 < percent <= 100:
            problems.append(f"Tier {position}: `credit_percent` is over 0 and at most 100.")
    return problems


def histogram_quantiles(buckets: list[tuple[Decimal, int]], quantiles: tuple[Decimal, ...]) -> list[Decimal | None]:
    """Quantiles of latency histograms (per-bucket counts by upper bound, as Prometheus's histogram_quantile):
    linear interpolation inside the bucket the rank falls in, the first bucket starting at 0. A rank in the
    open-ended +Inf bucket answers the highest finite bound (the histogram knows no more); None when empty.
    Buckets of different layouts merged by bound are an estimate, like any histogram quantile."""
    ordered = sorted((upper, count) for upper, count in buckets if count > 0)
    total = sum(count for _, count in ordered)
    if not total:
        return [None for _ in quantiles]
    finite = [upper for upper, _ in ordered if upper.is_finite()]
    answers = []
    for quantile in quantiles:
        rank, below, lower = quantile * total, 0, Decimal(0)
        for upper, count in ordered:
            if below + count >= rank:
                if not upper.is_finite():
                    answers.append(finite[-1] if finite else None)
                else:
                    answers.append(lower + (upper - lower) * (rank - below) / count)
                break
            below, lower = below + count, upper
    return answers
