"""The detector on synthetic series: every injected spike and drop found (and nothing else), no false alarm on
a noisy weekly pattern, flat series that do not alarm on cents, the dollar floors, short and sparse history,
and a lasting change of level that becomes the new normal."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from apps.anomalies.detection import Params, Series, judge, median

START = dt.date(2026, 1, 5)  # a Monday


def weekly_series(
    days: int, *, seed: int, noise: float, weekday=1000, weekend=400, growth=0.01, changes=None, uniform=False
):
    """A weekly pattern with monthly growth and noise — Gaussian (sd `noise`) or uniform within ±`noise` — plus
    `changes` {day index: amount added}. Floats only to draw it; amounts are Decimal to the cent."""
    rng = random.Random(seed)
    series = Series()
    for i in range(days):
        day = START + dt.timedelta(days=i)
        level = (weekend if day.weekday() >= 5 else weekday) * (1 + growth * i / 30)
        draw = rng.uniform(-noise, noise) if uniform else rng.gauss(0, noise)
        value = max(0.0, level * (1 + draw) + (changes or {}).get(i, 0))
        series.add(day, Decimal(f"{value:.2f}"))
    return series


def flagged(series: Series, first: int, last: int, params: Params | None = None) -> dict[int, str]:
    params = params or Params()
    found = {}
    for i in range(first, last):
        verdict = judge(series, START + dt.timedelta(days=i), params)
        if verdict is not None and verdict.flagged:
            found[i] = verdict.direction
    return found


def test_median_of_decimals():
    assert median([Decimal(3), Decimal(1), Decimal(2)]) == 2
    assert median([Decimal(4), Decimal(1), Decimal(2), Decimal(3)]) == Decimal("2.5")
    assert median([]) == 0


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_injected_spike_and_drop_is_found_and_nothing_else(seed):
    rng = random.Random(1000 + seed)
    days = rng.sample(range(40, 180), 8)
    changes = {i: rng.choice([1000, 1500, 2500]) for i in days[:6]}  # spikes, weekdays and weekends alike
    weekday_drops = [i for i in range(40, 180) if (START + dt.timedelta(days=i)).weekday() < 5 and i not in days]
    for i in rng.sample(weekday_drops, 2):
        changes[i] = -850  # a weekday at 15 % of normal
    series = weekly_series(180, seed=seed, noise=0.10, changes=changes)
    expected = {i: "spike" if amount > 0 else "drop" for i, amount in changes.items()}
    assert flagged(series, 28, 180) == expected


@pytest.mark.parametrize("seed", range(10))
def test_a_noisy_weekly_pattern_raises_no_false_alarm_over_120_days(seed):
    # Day-to-day jitter of up to ±15 % around a weekly pattern that grows 3 % a month.
    series = weekly_series(180, seed=seed, noise=0.15, weekday=1000, weekend=350, growth=0.03, uniform=True)
    assert flagged(series, 60, 180) == {}


def test_gaussian_noise_alarms_on_fewer_than_one_day_in_a_thousand():
    # Normal noise has rare days 3.5 standard deviations out; k = 4 robust spreads flags about those and no more.
    days = 0
    alarms = []
    for seed in range(30):
        series = weekly_series(180, seed=seed, noise=0.10, weekday=1000, weekend=350, growth=0.03)
        alarms.extend((seed, i) for i in flagged(series, 60, 180))
        days += 120
    assert len(alarms) <= days / 1000, alarms


def test_the_expected_spend_follows_the_weekday_pattern():
    series = weekly_series(120, seed=7, noise=0.0, weekday=1000, weekend=400, growth=0)
    saturday = START + dt.timedelta(days=117)
    monday = START + dt.timedelta(days=112)
    assert saturday.weekday() == 5 and monday.weekday() == 0
    assert judge(series, saturday, Params()).expected == Decimal("400.00")
    assert judge(series, monday, Params()).expected == Decimal("1000.00")


def test_a_flat_series_does_not_alarm_on_cents():
    series = Series()
    for i in range(90):
        series.add(START + dt.timedelta(days=i), Decimal("100.00") + Decimal(i % 3) / 100)
    series.add(START + dt.timedelta(days=89), Decimal("1.50"))  # 101.52 on the last day
    verdict = judge(series, START + dt.timedelta(days=89), Params())
    assert not verdict.flagged
    assert verdict.spread == verdict.typical * 5 / 100  # the 5 % floor of a usual day (≈ 5 USD), not a cent
    # The dollar floors: 30 % up on a 100 USD day is less than the 50 USD minimum impact…
    assert not judge(_with(series, 89, "130.00"), START + dt.timedelta(days=89), Params()).flagged
    # …60 USD more is an anomaly.
    assert judge(_with(series, 89, "160.00"), START + dt.timedelta(days=89), Params()).direction == "spike"


def _with(series: Series, index: int, amount: str) -> Series:
    copy = Series()
    for day, value in series.values.items():
        copy.add(day, value)
    copy.values[START + dt.timedelta(days=index)] = Decimal(amount)
    copy.cache.clear()
    return copy


def test_the_minimum_impact_percent_keeps_small_relative_moves_quiet():
    series = weekly_series(100, seed=3, noise=0.0, weekday=10_000, weekend=10_000, growth=0)
    day = START + dt.timedelta(days=99)
    params = Params(min_impact=Decimal(0))
    # No noise: the spread is the 5 % floor (500), so k × spread = 2,000; 20 % of a usual day is also 2,000.
    assert not judge(_with(series, 99, "11900.00"), day, params).flagged
    assert judge(_with(series, 99, "12100.00"), day, params).flagged
    assert not judge(_with(series, 99, "12100.00"), day, Params(min_impact_percent=Decimal(30))).flagged


def test_drops_are_found_unless_switched_off():
    series = weekly_series(100, seed=11, noise=0.05, changes={95: -1000})
    assert flagged(series, 90, 100) == {95: "drop"}
    assert flagged(series, 90, 100, Params(detect_drops=False)) == {}


def test_too_little_history_is_not_judged():
    series = weekly_series(30, seed=5, noise=0.05, changes={13: 5000, 14: 5000})
    assert judge(series, START + dt.timedelta(days=13), Params()) is None
    assert judge(series, START + dt.timedelta(days=14), Params()).direction == "spike"
    assert judge(series, START + dt.timedelta(days=20), Params(min_history_days=21)) is None


def test_a_scope_with_spend_on_few_days_uses_the_same_weekday():
    series = Series()
    for i in range(84):
        day = START + dt.timedelta(days=i)
        series.add(day, Decimal("700.00") if day.weekday() == 0 else Decimal(0))  # a Monday batch job
    monday, tuesday = START + dt.timedelta(days=84), START + dt.timedelta(days=85)
    series.add(monday, Decimal("700.00"))
    series.add(tuesday, Decimal("700.00"))
    assert not judge(series, monday, Params()).flagged
    verdict = judge(series, tuesday, Params())
    assert verdict.direction == "spike" and verdict.expected == 0
    assert verdict.details["method"] == "same weekday"


def test_one_incident_neither_moves_the_baseline_nor_hides_the_next():
    series = weekly_series(140, seed=9, noise=0.05, changes={100: 20_000, 107: 1500})
    assert flagged(series, 95, 115) == {100: "spike", 107: "spike"}
    after = judge(series, START + dt.timedelta(days=108), Params())
    assert abs(after.expected - series.value(START + dt.timedelta(days=101))) < 200


def test_a_lasting_change_of_level_becomes_the_new_normal():
    # From day 100 on, 60 % more every day (a new business line on the same agents).
    plain = weekly_series(160, seed=4, noise=0.05, growth=0)
    series = Series()
    for day, value in plain.values.items():
        series.add(day, value * Decimal("1.6") if (day - START).days >= 100 else value)
    found = flagged(series, 60, 160)
    assert found.get(100) == "spike"
    assert max(found) <= 108, found  # about a week later it is the new normal
    assert set(found.values()) == {"spike"}


def test_the_range_shown_is_exactly_what_is_flagged():
    series = weekly_series(100, seed=12, noise=0.1, changes={99: 700})
    verdict = judge(series, START + dt.timedelta(days=99), Params())
    assert verdict.low == max(verdict.expected - verdict.threshold, 0)
    assert verdict.high == verdict.expected + verdict.threshold
    assert verdict.flagged == (verdict.actual > verdict.high or verdict.actual < verdict.low)
    assert verdict.threshold >= Params().k * verdict.spread
