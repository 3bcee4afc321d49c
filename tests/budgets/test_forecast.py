"""The month-end forecast on series whose answer is known: flat, weekday-patterned, noisy (the 80 % range must
hold the truth in most synthetic months), short history, the first day of a month, a closed month."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from apps.budgets.forecast import forecast_month, month_days

NOV = dt.date(2026, 11, 1)
WEEKDAY, WEEKEND = Decimal("100.00"), Decimal("20.00")


def series(first: dt.date, last: dt.date, value) -> dict[dt.date, Decimal]:
    """value(day) for each day of [first, last]."""
    days = (last - first).days + 1
    return {first + dt.timedelta(days=i): value(first + dt.timedelta(days=i)) for i in range(days)}


def weekday_pattern(day: dt.date) -> Decimal:
    return WEEKDAY if day.weekday() < 5 else WEEKEND


def test_a_flat_series_is_forecast_exactly():
    daily = series(dt.date(2026, 8, 1), dt.date(2026, 11, 15), lambda d: Decimal("250.00"))
    result = forecast_month(daily, month=NOV, today=dt.date(2026, 11, 16))
    assert result.actual == Decimal("3750.00")  # 15 days booked
    assert result.forecast == Decimal("7500.00")  # 30 × 250
    assert result.low == result.high == Decimal("7500.00")  # no error in the past, no range
    assert result.days_closed == 15 and result.days_left == 15
    assert result.confidence == "high"
    assert result.confidence_text("EUR") == (
        "High confidence — based on 8 weeks of history, typical daily error ±0.00 EUR (0 %)."
    )


def test_the_forecast_follows_the_weekday_pattern():
    daily = series(dt.date(2026, 8, 1), dt.date(2026, 11, 10), weekday_pattern)
    result = forecast_month(daily, month=NOV, today=dt.date(2026, 11, 11))
    assert result.seasonal
    expected_days = {d.day: day.expected for d, day in ((x.day, x) for x in result.days) if day.is_forecast}
    for day in month_days(NOV)[10:]:
        assert expected_days[day.day] == weekday_pattern(day), day
    truth = sum(weekday_pattern(d) for d in month_days(NOV))
    assert result.forecast == truth
    # Weekends are a fifth of weekdays: the factors say so, averaging 1.
    factors = result.weekday_factors
    assert round(factors[5] / factors[0], 6) == Decimal("0.2")
    assert round(sum(factors) / 7, 6) == 1


def test_a_single_spike_moves_neither_the_level_nor_the_range_much():
    calm = series(dt.date(2026, 8, 1), dt.date(2026, 11, 10), weekday_pattern)
    spiked = dict(calm)
    spiked[dt.date(2026, 11, 7)] = Decimal("2000.00")  # a runaway Saturday
    base = forecast_month(calm, month=NOV, today=dt.date(2026, 11, 11))
    result = forecast_month(spiked, month=NOV, today=dt.date(2026, 11, 11))
    assert result.forecast - base.forecast == Decimal("1980.00")  # the spike itself is booked…
    assert result.level == base.level  # …but the expected days are unchanged (medians)
    assert result.high - result.forecast < Decimal("50")


def _noisy_month(seed: int, noise: float) -> tuple[dict[dt.date, Decimal], Decimal]:
    rng = random.Random(seed)
    pattern = (1.2, 1.1, 1.1, 1.0, 1.0, 0.4, 0.3)
    daily = series(
        dt.date(2026, 8, 1),
        dt.date(2026, 11, 30),
        lambda d: Decimal(str(round(300 * pattern[d.weekday()] * max(0.0, rng.gauss(1, noise)), 2))),
    )
    return daily, sum(daily[d] for d in month_days(NOV))


def test_the_80_percent_range_holds_the_truth_in_most_noisy_months():
    for today, noise in ((dt.date(2026, 11, 1), 0.15), (dt.date(2026, 11, 15), 0.3)):
        inside, trials = 0, 60
        for seed in range(trials):
            daily, truth = _noisy_month(seed, noise)
            result = forecast_month({d: v for d, v in daily.items() if d < today}, month=NOV, today=today)
            assert result.low <= result.forecast <= result.high
            inside += result.low <= truth <= result.high
        assert inside >= 0.68 * trials, (today, noise, inside)  # nominal 80 %
        assert inside <= 0.97 * trials, (today, noise, inside)  # and not so wide it says nothing


def test_noisier_history_widens_the_range_and_lowers_the_confidence():
    calm, _ = _noisy_month(1, 0.05)
    noisy, _ = _noisy_month(1, 0.6)
    today = dt.date(2026, 11, 5)
    a = forecast_month({d: v for d, v in calm.items() if d < today}, month=NOV, today=today)
    b = forecast_month({d: v for d, v in noisy.items() if d < today}, month=NOV, today=today)
    assert (b.high - b.low) / b.forecast > 3 * (a.high - a.low) / a.forecast
    assert a.confidence == "high" and b.confidence in ("medium", "low")
    assert a.typical_error_pct < b.typical_error_pct


def test_short_history_says_so_and_widens_the_range():
    daily = series(dt.date(2026, 11, 1), dt.date(2026, 11, 9), lambda d: Decimal("100.00"))
    daily[dt.date(2026, 11, 4)] = Decimal("130.00")
    result = forecast_month(daily, month=NOV, today=dt.date(2026, 11, 10))
    assert result.history_days == 9 and not result.seasonal
    assert result.confidence == "low"
    assert any("Fewer than 14 days of history" in note for note in result.notes)
    assert "only 9 days of history" in result.confidence_text("EUR")
    assert result.low < result.forecast < result.high
    assert result.forecast == Decimal("930.00") + 21 * Decimal("100.00")


def test_the_first_day_of_a_month_is_all_expectation():
    daily = series(dt.date(2026, 9, 1), dt.date(2026, 10, 31), weekday_pattern)
    result = forecast_month(daily, month=NOV, today=NOV)
    assert result.actual == 0 and result.days_closed == 0 and result.days_left == 30
    assert result.forecast == sum(weekday_pattern(d) for d in month_days(NOV))
    assert any("just begun" in note for note in result.notes)
    assert all(day.is_forecast for day in result.days)


def test_what_is_booked_today_is_a_floor_for_today():
    daily = series(dt.date(2026, 8, 1), dt.date(2026, 11, 19), lambda d: Decimal("100.00"))
    daily[dt.date(2026, 11, 20)] = Decimal("400.00")  # a busy morning, still being booked
    result = forecast_month(daily, month=NOV, today=dt.date(2026, 11, 20))
    assert result.actual == Decimal("2300.00")
    assert result.forecast == Decimal("1900.00") + Decimal("400.00") + 10 * Decimal("100.00")


def test_a_closed_month_is_final():
    daily = series(dt.date(2026, 10, 1), dt.date(2026, 11, 30), lambda d: Decimal("10.00"))
    daily[dt.date(2026, 11, 30)] = Decimal("-50.00")  # a credit on the last day reduces spend
    result = forecast_month(daily, month=NOV, today=dt.date(2026, 12, 3))
    assert result.confidence == "final" and result.closed
    assert result.actual == result.forecast == result.low == result.high == Decimal("240.00")
    assert result.days_left == 0
    assert result.confidence_text() == "The month is over: these are the booked figures."


def test_without_any_history_nothing_is_invented():
    result = forecast_month({}, month=NOV, today=dt.date(2026, 11, 12))
    assert result.forecast == result.actual == 0
    assert result.confidence == "none"
    assert "nothing to forecast" in result.confidence_text()


def test_quiet_days_after_history_starts_count_as_no_spend():
    daily = {dt.date(2026, 10, 1): Decimal("10.00")}
    with_start = forecast_month(daily, month=NOV, today=dt.date(2026, 11, 10), history_start=dt.date(2026, 9, 1))
    assert with_start.level == 0 and with_start.history_days == 56


def test_the_same_series_gives_the_same_range():
    daily, _ = _noisy_month(7, 0.3)
    today = dt.date(2026, 11, 12)
    history = {d: v for d, v in daily.items() if d < today}
    first = forecast_month(history, month=NOV, today=today)
    second = forecast_month(history, month=NOV, today=today)
    assert (first.low, first.forecast, first.high) == (second.low, second.forecast, second.high)
