"""Error-budget arithmetic (no database): budgets, burn rates, burn factors, MWMB alert decisions on synthetic
per-minute streams, states, the Wilson interval and service-credit tiers, each worked by hand in the comments."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from scipy.stats import binomtest

from apps.service_levels.budget import (
    BURN_PAIRS,
    LOOKBACK_MINUTES,
    AlertDecision,
    alert_decision,
    budget_remaining,
    burn_factor,
    burn_rate,
    credit_percent,
    error_ratio,
    exhaustion_time,
    histogram_quantiles,
    ratio,
    slice_budget_remaining,
    state_for,
    validate_credit_tiers,
    wilson_interval,
)
from apps.service_levels.models import SLO

OBJECTIVE = Decimal("0.999")  # 99.9 %: budget B = 0.001
DAY = 1440
WINDOW_30D = 30 * DAY  # 43,200 minutes
WINDOW_28D = 28 * DAY  # 40,320 minutes
THREE_DAYS = 3 * DAY  # the longest lookback, so every stream below covers every window
TIERS = [{"below": 99, "credit_percent": 10}, {"below": 95, "credit_percent": 25}]


# --- budget, error ratio, burn rate, remaining -------------------------------------------------------------


def test_error_budget_of_99_9_percent_is_one_in_a_thousand():
    # B = 1 − T = 1 − 0.999 = 0.001 (exact in Decimal, where 1 − 0.999 in float is 0.0010000000000000009)
    assert SLO(objective=OBJECTIVE).error_budget == Decimal("0.001")
    assert OBJECTIVE + Decimal("0.001") == 1
    # An error ratio equal to the budget burns at exactly 1× and leaves nothing at the window's end.
    assert error_ratio(999, 1000) == Decimal("0.001")
    assert burn_rate(999, 1000, OBJECTIVE) == Decimal("1")
    assert budget_remaining(999, 1000, OBJECTIVE) == Decimal("0")


def test_budget_remaining_worked_example():
    # 10,000 events, 5 bad: error ratio 5/10,000 = 0.0005; burn 0.0005/0.001 = 0.5; remaining 1 − 0.5 = 0.5
    assert error_ratio(9995, 10_000) == Decimal("0.0005")
    assert burn_rate(9995, 10_000, OBJECTIVE) == Decimal("0.5")
    assert budget_remaining(9995, 10_000, OBJECTIVE) == Decimal("0.50000000")
    # 10 bad spends it exactly (1 − 1 = 0); 20 bad overspends it twice (1 − 2 = −1).
    assert budget_remaining(9990, 10_000, OBJECTIVE) == Decimal("0")
    assert budget_remaining(9980, 10_000, OBJECTIVE) == Decimal("-1")
    # No bad events: the budget is untouched.
    assert budget_remaining(10_000, 10_000, OBJECTIVE) == Decimal("1")


def test_burn_rate_of_14_4():
    # 144 bad of 10,000: error ratio 0.0144; 0.0144 / 0.001 = 14.4, the 1h page factor of a 30-day window.
    assert burn_rate(10_000 - 144, 10_000, OBJECTIVE) == Decimal("14.4000")
    # A total outage burns 1 / 0.001 = 1000×.
    assert burn_rate(0, 500, OBJECTIVE) == Decimal("1000")
    # At 99 % (B = 0.01) the same 144 bad burn 1.44×.
    assert burn_rate(10_000 - 144, 10_000, Decimal("0.99")) == Decimal("1.4400")


def test_burn_rate_is_rounded_to_four_places():
    # 1 bad of 3: 0.3333… / 0.001 = 333.333… → 333.3333
    assert burn_rate(2, 3, OBJECTIVE) == Decimal("333.3333")
    # 2/3 to 8 places, half-even: 0.66666667
    assert ratio(2, 3) == Decimal("0.66666667")


def test_no_events_means_no_number():
    assert ratio(5, 0) is None
    assert error_ratio(0, 0) is None
    assert burn_rate(0, 0, OBJECTIVE) is None
    assert budget_remaining(0, 0, OBJECTIVE) is None
    assert slice_budget_remaining(0, 0, OBJECTIVE) is None


def test_slice_budget_remaining_worked_examples():
    # 99.9 % over 43,200 one-minute slices allows 0.001 × 43,200 = 43.2 bad slices; 21.6 bad → 1 − 21.6/43.2 = 0.5
    assert slice_budget_remaining(Decimal("21.6"), 43_200, OBJECTIVE) == Decimal("0.50000000")
    # Whole slices: 99.5 % allows 0.005 × 43,200 = 216; 108 bad → 0.5, 216 → 0, 0 → 1, 432 → −1.
    assert slice_budget_remaining(108, 43_200, Decimal("0.995")) == Decimal("0.5")
    assert slice_budget_remaining(216, 43_200, Decimal("0.995")) == Decimal("0")
    assert slice_budget_remaining(0, 43_200, Decimal("0.995")) == Decimal("1")
    assert slice_budget_remaining(432, 43_200, Decimal("0.995")) == Decimal("-1")
    # Five-minute slices of a 30-day window: 43,200 // 5 = 8,640 slices; 99.9 % allows 8.64; 4 bad →
    # 1 − 4/8.64 = 1 − 0.46296296… = 0.53703704 (8 places).
    assert slice_budget_remaining(4, 8_640, OBJECTIVE) == Decimal("0.53703704")


# --- burn factors and exhaustion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # k = f·W/L with W = 43,200: 0.02·43,200/60 = 14.4; 0.05·43,200/360 = 6; 0.10·43,200/1,440 = 3;
        # 0.10·43,200/4,320 = 1
        (WINDOW_30D, ["14.4", "6", "3", "1"]),
        # W = 40,320: 0.02·40,320/60 = 13.44; 0.05·40,320/360 = 5.6; 0.10·40,320/1,440 = 2.8;
        # 0.10·40,320/4,320 = 0.93333… → 0.9333
        (WINDOW_28D, ["13.44", "5.6", "2.8", "0.9333"]),
    ],
)
def test_burn_factors(window, expected):
    assert [burn_factor(pair, window) for pair in BURN_PAIRS] == [Decimal(value) for value in expected]
    assert [(pair.level, pair.long, pair.short) for pair in BURN_PAIRS] == [
        ("page", "1h", "5m"),
        ("page", "6h", "30m"),
        ("ticket", "1d", "2h"),
        ("ticket", "3d", "6h"),
    ]


def test_short_windows_are_a_twelfth_of_their_long_window():
    # 60/12 = 5, 360/12 = 30, 1,440/12 = 120, 4,320/12 = 360 (the SRE workbook's L/12).
    for pair in BURN_PAIRS:
        assert LOOKBACK_MINUTES[pair.long] == 12 * LOOKBACK_MINUTES[pair.short]


def test_exhaustion_time():
    # W / BR = 43,200 / 14.4 = 3,000 minutes = 50 h ≈ 2.08 days.
    lasts = exhaustion_time(WINDOW_30D, Decimal("14.4"))
    assert lasts == dt.timedelta(minutes=3000) == dt.timedelta(days=2, hours=2)
    assert round(lasts / dt.timedelta(days=1), 2) == 2.08
    # 1× spends it exactly over the window; 0.5× would last twice as long.
    assert exhaustion_time(WINDOW_30D, Decimal("1")) == dt.timedelta(days=30)
    assert exhaustion_time(WINDOW_30D, Decimal("0.5")) == dt.timedelta(days=60)
    # Nothing burning: it never runs out.
    assert exhaustion_time(WINDOW_30D, Decimal("0")) is None
    assert exhaustion_time(WINDOW_30D, None) is None


# --- alert decisions on synthetic streams --------------------------------------------------------------------


def stream(*segments: tuple[int, int, int]) -> list[tuple[int, int]]:
    """Per-minute (good, total), oldest first, from (minutes, good per minute, total per minute) segments."""
    return [(good, total) for minutes, good, total in segments for _ in range(minutes)]


def lookback_counts(minutes: list[tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """(good, total) over each lookback ending at the last minute of the stream, as the evaluator sums them."""
    return {
        name: (sum(good for good, _ in minutes[-length:]), sum(total for _, total in minutes[-length:]))
        for name, length in LOOKBACK_MINUTES.items()
    }


def fired_pairs(decision: AlertDecision) -> list[tuple[str, str, str]]:
    return [(entry["level"], entry["long"], entry["short"]) for entry in decision.fired]


def test_one_minute_total_outage_pages_through_1h_5m_only():
    # 100 requests a minute, clean for three days, then one minute where all 100 fail.
    counts = lookback_counts(stream((THREE_DAYS - 1, 100, 100), (1, 0, 100)))
    # 5m: 100/500 = 0.2 → 200×;  1h: 100/6,000 = 0.016667 → 16.6667× > 14.4 on both → page.
    # 30m: 100/3,000 → 33.3×, but 6h: 100/36,000 → 2.7778× < 6: no.
    # 2h: 100/12,000 → 8.33×, but 1d: 100/144,000 → 0.6944× < 3: no.
    # 6h: 2.7778× > 1, but 3d: 100/432,000 → 0.2315× < 1: no.
    decision = alert_decision(counts, OBJECTIVE, WINDOW_30D)
    assert decision.level == "page"
    assert decision.fired == [
        {
            "level": "page",
            "long": "1h",
            "short": "5m",
            "factor": "14.4000",
            "long_rate": "16.6667",
            "short_rate": "200.0000",
        }
    ]


@pytest.mark.parametrize(("bad", "level"), [(86, ""), (87, "page")])
def test_total_outage_detection_time_is_about_52_seconds(bad, level):
    # Detection time f·W·B/e = 0.02 · 43,200 min · 0.001 / 1 = 0.864 min ≈ 52 s: at 100 requests a minute the
    # 1h window (6,000 events) must hold more than 14.4 · 0.001 · 6,000 = 86.4 bad ones.
    # 86 bad: 86/6,000 = 0.0143333 → 14.3333× (not over 14.4);  87 bad: 0.0145 → 14.5×.
    counts = lookback_counts(stream((THREE_DAYS - 1, 100, 100), (1, 100 - bad, 100)))
    assert alert_decision(counts, OBJECTIVE, WINDOW_30D).level == level


def test_long_total_outage_fires_every_pair_and_pages():
    # Ten minutes with every request failing: 1h 1,000/6,000 → 166.7×, 6h 1,000/36,000 → 27.8×,
    # 1d 1,000/144,000 → 6.94×, 3d 1,000/432,000 → 2.31×; the short windows are higher still. Page wins.
    counts = lookback_counts(stream((THREE_DAYS - 10, 100, 100), (10, 0, 100)))
    decision = alert_decision(counts, OBJECTIVE, WINDOW_30D)
    assert decision.level == "page"
    assert fired_pairs(decision) == [
        ("page", "1h", "5m"),
        ("page", "6h", "30m"),
        ("ticket", "1d", "2h"),
        ("ticket", "3d", "6h"),
    ]


def test_burn_at_7x_pages_through_6h_30m_only():
    # 1,000 requests a minute; for the last 6 hours 7 fail each minute: error ratio 0.007 → 7×.
    counts = lookback_counts(stream((THREE_DAYS - 360, 1000, 1000), (360, 993, 1000)))
    # 1h and 5m: 7× < 14.4: no.  6h and 30m: 7× > 6: page.
    # 2h: 7× > 3 but 1d: 2,520/1,440,000 = 0.00175 → 1.75× < 3: no.
    # 6h: 7× > 1 but 3d: 2,520/4,320,000 = 0.000583 → 0.5833× < 1: no.
    decision = alert_decision(counts, OBJECTIVE, WINDOW_30D)
    assert decision.level == "page"
    assert fired_pairs(decision) == [("page", "6h", "30m")]
    assert (decision.fired[0]["long_rate"], decision.fired[0]["short_rate"]) == ("7.0000", "7.0000")


def test_sustained_2x_burn_tickets_through_3d_6h_only():
    # 1,000 requests a minute, 2 failing each minute for three days: 2× in every window.
    # 2 < 14.4, 2 < 6, 2 < 3: no page, no 1d ticket; 2 > 1 on 3d and 6h: ticket.
    counts = lookback_counts(stream((THREE_DAYS, 998, 1000)))
    decision = alert_decision(counts, OBJECTIVE, WINDOW_30D)
    assert decision.level == "ticket"
    assert fired_pairs(decision) == [("ticket", "3d", "6h")]
    assert decision.fired[0]["factor"] == "1.0000"


@pytest.mark.parametrize(
    ("burning_minutes", "level"),
    [
        # 2× for 1 day out of the 3d lookback: 2 · 1,440/4,320 = 0.6667× < 1: not yet.
        (DAY, ""),
        # Detection time 0.10 · 43,200 · 0.001 / 0.002 = 2,160 min (1.5 days): exactly 1×, not over it.
        (2160, ""),
        # 2× for 2 days: 2 · 2,880/4,320 = 1.3333× > 1: ticket.
        (2 * DAY, "ticket"),
    ],
)
def test_slow_burn_needs_time_to_fill_the_3d_window(burning_minutes, level):
    counts = lookback_counts(stream((THREE_DAYS - burning_minutes, 1000, 1000), (burning_minutes, 998, 1000)))
    assert alert_decision(counts, OBJECTIVE, WINDOW_30D).level == level


def test_burn_that_stopped_ten_minutes_ago_does_not_fire():
    # 1,000 requests a minute; a 20× burn (20 bad a minute) for an hour that ended 10 minutes ago.
    before = stream((THREE_DAYS - 70, 1000, 1000), (60, 980, 1000))
    minutes = before + stream((10, 1000, 1000))
    # While it burned: 1h 1,200/60,000 = 0.02 → 20×, 5m 20× — both over 14.4: page.
    assert fired_pairs(alert_decision(lookback_counts(before), OBJECTIVE, WINDOW_30D)) == [("page", "1h", "5m")]
    counts = lookback_counts(minutes)
    # Now the 1h window still holds 50 burning minutes: 1,000/60,000 = 0.016667 → 16.6667×, over 14.4 ...
    assert burn_rate(*counts["1h"], OBJECTIVE) == Decimal("16.6667")
    # ... but the 5m window is clean (0×), so the pair clears.
    assert burn_rate(*counts["5m"], OBJECTIVE) == Decimal("0")
    # The other pairs: 30m 400/30,000 → 13.33× but 6h 1,000/360,000 → 2.78× < 6; 2h 8.33× but 1d 0.69× < 3;
    # 6h 2.78× but 3d 0.23× < 1. Nothing fires.
    assert alert_decision(counts, OBJECTIVE, WINDOW_30D) == AlertDecision(level="", fired=[])


def test_min_events_guard_on_the_short_window():
    # Low traffic: one request in the last 5 minutes and it failed (1,000×); 1 of 3 in the hour (333×).
    counts = {"5m": (0, 1), "1h": (2, 3)}
    assert alert_decision(counts, OBJECTIVE, WINDOW_30D, min_events=1).level == "page"
    # With min_events = 10 the 1-event short window never fires.
    assert alert_decision(counts, OBJECTIVE, WINDOW_30D, min_events=10) == AlertDecision(level="", fired=[])
    # Exactly min_events events is enough (the guard is "fewer than").
    assert alert_decision({"5m": (0, 10), "1h": (0, 10)}, OBJECTIVE, WINDOW_30D, min_events=10).level == "page"
    # min_events = 0 still needs one event: an empty short window has no rate at all.
    assert alert_decision({"5m": (0, 0), "1h": (0, 10)}, OBJECTIVE, WINDOW_30D, min_events=0).level == ""


def test_rate_must_exceed_the_factor():
    # 144 bad of 10,000 in both windows: exactly 14.4×, not over it.
    at_factor = {"5m": (10_000 - 144, 10_000), "1h": (10_000 - 144, 10_000)}
    assert alert_decision(at_factor, OBJECTIVE, WINDOW_30D).level == ""
    # 145 bad: 14.5× > 14.4.
    over = {"5m": (10_000 - 145, 10_000), "1h": (10_000 - 145, 10_000)}
    assert alert_decision(over, OBJECTIVE, WINDOW_30D).level == "page"


def test_window_length_sets_the_factors():
    # 140 bad of 10,000 → 14×: under 14.4 (30 days), over 13.44 (28 days).
    counts = {"5m": (10_000 - 140, 10_000), "1h": (10_000 - 140, 10_000)}
    assert alert_decision(counts, OBJECTIVE, WINDOW_30D).level == ""
    decision = alert_decision(counts, OBJECTIVE, WINDOW_28D)
    assert fired_pairs(decision) == [("page", "1h", "5m")]
    assert decision.fired[0]["factor"] == "13.4400"


def test_missing_lookbacks_fire_nothing():
    assert alert_decision({}, OBJECTIVE, WINDOW_30D) == AlertDecision(level="", fired=[])
    # A short window without its long one is skipped too.
    assert alert_decision({"5m": (0, 100)}, OBJECTIVE, WINDOW_30D).level == ""


# --- states --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "remaining", "level", "state"),
    [
        (0, None, "", "no_data"),
        (0, Decimal("1"), "", "no_data"),  # no events, whatever the remaining says
        (100, None, "", "no_data"),
        (100, Decimal("1"), "", "ok"),
        (100, Decimal("0.25"), "", "ok"),  # exactly a quarter left is not "under" a quarter
        (100, Decimal("0.24999999"), "", "at_risk"),
        (100, Decimal("0.9"), "ticket", "at_risk"),  # a burn alert puts a healthy budget at risk
        (100, Decimal("0.9"), "page", "at_risk"),
        (100, Decimal("0.00000001"), "", "at_risk"),
        (100, Decimal("0"), "", "exhausted"),
        (100, Decimal("-1.5"), "page", "exhausted"),  # exhausted outranks the alert
    ],
)
def test_state_for(total, remaining, level, state):
    assert state_for(total, remaining, level) == state


# --- Wilson interval -----------------------------------------------------------------------------------------


def wilson_by_hand(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """p̂ = x/n; c = (p̂ + z²/2n)/(1 + z²/n); h = z/(1 + z²/n)·√(p̂(1 − p̂)/n + z²/4n²) (notes §3.3), in floats."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def test_wilson_interval_12_of_200():
    # p̂ = 12/200 = 0.06, z² = 3.8416, z²/n = 0.019208, z²/2n = 0.009604
    # c = 0.069604 / 1.019208 = 0.06829224…
    # h = (1.96 / 1.019208) · √(0.06·0.94/200 + 3.8416/160,000) = 1.92306… · √0.00030601 = 0.03364039…
    # → [0.03465185, 0.10193264]
    low, high = wilson_interval(12, 200)
    assert (low, high) == (Decimal("0.03465185"), Decimal("0.10193264"))
    by_hand = wilson_by_hand(12, 200)
    assert abs(float(low) - by_hand[0]) < 1e-8
    assert abs(float(high) - by_hand[1]) < 1e-8
    # scipy's Wilson interval uses z = Φ⁻¹(0.975) = 1.959964…, so it agrees to about 1e-6.
    reference = binomtest(12, 200).proportion_ci(confidence_level=0.95, method="wilson")
    assert abs(float(low) - reference.low) < 1e-5
    assert abs(float(high) - reference.high) < 1e-5


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (10, 10), (1, 1), (50, 100), (3, 1000)])
def test_wilson_interval_matches_the_formula(successes, n):
    low, high = wilson_interval(successes, n)
    by_hand = wilson_by_hand(successes, n)
    assert abs(float(low) - by_hand[0]) < 1e-8
    assert abs(float(high) - by_hand[1]) < 1e-8
    assert Decimal(0) <= low <= Decimal(successes) / n <= high <= Decimal(1)


def test_wilson_interval_edges():
    # 0 of n: the lower bound is exactly 0 (c = h); n of n: the upper bound is exactly 1.
    assert wilson_interval(0, 10)[0] == Decimal("0")
    assert wilson_interval(10, 10)[1] == Decimal("1")
    # A wider z gives a wider interval: z = 2.576 (99 %) around the same 12/200.
    narrow, wide = wilson_interval(12, 200), wilson_interval(12, 200, z=Decimal("2.576"))
    assert wide[0] < narrow[0] and wide[1] > narrow[1]
    by_hand = wilson_by_hand(12, 200, z=2.576)
    assert abs(float(wide[0]) - by_hand[0]) < 1e-8 and abs(float(wide[1]) - by_hand[1]) < 1e-8
    # Nothing judged: no interval.
    assert wilson_interval(0, 0) is None
    assert wilson_interval(0, -1) is None


# --- credits -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attainment", "credit"),
    [
        ("0.995", "0"),  # 99.5 %: under neither bound
        ("0.99", "0"),  # 99.0 %: exactly at 99, and a tier applies only *under* `below`
        ("0.9899", "10"),  # 98.99 % < 99
        ("0.96", "10"),  # 96 % < 99, not < 95
        ("0.95", "10"),  # exactly 95: still only the first tier
        ("0.9499", "25"),  # 94.99 % < 95: the larger credit
        ("0", "25"),  # nothing good at all: the largest tier, no more
    ],
)
def test_credit_percent(attainment, credit):
    assert credit_percent(Decimal(attainment), TIERS) == Decimal(credit)


def test_credit_percent_takes_the_largest_owed_whatever_the_order_and_types():
    # Tiers as the form stores them (strings) and out of order: 94 % is under both, 25 is the larger.
    tiers = [{"below": "95", "credit_percent": "25"}, {"below": "99.0", "credit_percent": "10"}]
    assert credit_percent(Decimal("0.94"), tiers) == Decimal("25")
    assert credit_percent(Decimal("0.97"), tiers) == Decimal("10")
    # Float bounds compare by their shortest repr: 99.9 % is not under 99.9, 99.89 % is.
    assert credit_percent(Decimal("0.999"), [{"below": 99.9, "credit_percent": 5}]) == Decimal("0")
    assert credit_percent(Decimal("0.9989"), [{"below": 99.9, "credit_percent": 5}]) == Decimal("5")


def test_credit_percent_is_capped_at_100_and_empty_tiers_owe_nothing():
    # A stored tier over 100 % (never accepted by validate_credit_tiers) still owes at most 100.
    assert credit_percent(Decimal("0.5"), [{"below": 99, "credit_percent": 150}]) == Decimal("100")
    assert credit_percent(Decimal("0.5"), [{"below": 99, "credit_percent": 100}]) == Decimal("100")
    assert credit_percent(Decimal("0.5"), []) == Decimal("0")


@pytest.mark.parametrize(
    "tiers",
    [
        None,
        "",
        [],
        TIERS,
        [{"below": "99.0", "credit_percent": "10"}],
        [{"below": 100, "credit_percent": 100}],  # both bounds are inclusive at 100
        [{"below": "0.01", "credit_percent": "0.5"}],
    ],
)
def test_validate_credit_tiers_accepts_good_lists(tiers):
    assert validate_credit_tiers(tiers) == []


@pytest.mark.parametrize(
    ("tiers", "problems"),
    [
        ({"below": 99, "credit_percent": 10}, ["Credit tiers are a list of {below, credit_percent}."]),
        ("99:10", ["Credit tiers are a list of {below, credit_percent}."]),
        (
            [99, 10],
            [
                "Tier 1: give exactly `below` and `credit_percent`.",
                "Tier 2: give exactly `below` and `credit_percent`.",
            ],
        ),
        ([{"below": 99}], ["Tier 1: give exactly `below` and `credit_percent`."]),
        (
            [{"below": 99, "credit_percent": 10, "note": "x"}],
            ["Tier 1: give exactly `below` and `credit_percent`."],
        ),
        ([{"below": "ninety", "credit_percent": 10}], ["Tier 1: `below` and `credit_percent` must be numbers."]),
        ([{"below": 99, "credit_percent": None}], ["Tier 1: `below` and `credit_percent` must be numbers."]),
        (
            [{"below": 0, "credit_percent": 10}],
            ["Tier 1: `below` is an attainment in percent, over 0 and at most 100."],
        ),
        (
            [{"below": "100.01", "credit_percent": 10}],
            ["Tier 1: `below` is an attainment in percent, over 0 and at most 100."],
        ),
        (
            [{"below": "NaN", "credit_percent": 10}],
            ["Tier 1: `below` is an attainment in percent, over 0 and at most 100."],
        ),
        ([{"below": 99, "credit_percent": 0}], ["Tier 1: `credit_percent` is over 0 and at most 100."]),
        ([{"below": 99, "credit_percent": 101}], ["Tier 1: `credit_percent` is over 0 and at most 100."]),
        ([{"below": 99, "credit_percent": "Infinity"}], ["Tier 1: `credit_percent` is over 0 and at most 100."]),
        (
            [{"below": -5, "credit_percent": -5}],
            [
                "Tier 1: `below` is an attainment in percent, over 0 and at most 100.",
                "Tier 1: `credit_percent` is over 0 and at most 100.",
            ],
        ),
        (
            # Positions count from 1 and good tiers add nothing.
            [{"below": 99, "credit_percent": 10}, {"below": 95, "credit_percent": 250}],
            ["Tier 2: `credit_percent` is over 0 and at most 100."],
        ),
    ],
)
def test_validate_credit_tiers_reports_each_problem(tiers, problems):
    assert validate_credit_tiers(tiers) == problems


D = Decimal
INF = Decimal("Infinity")


def test_histogram_quantiles_interpolate_inside_the_bucket_the_rank_falls_in():
    buckets = [(D(100), 50), (D(500), 40), (D(1000), 10)]  # 100 requests
    # p50: rank 50 is the top of (0, 100] → 100; p90 top of (100, 500] → 500; p95: 5 of 10 into (500, 1000] → 750.
    assert histogram_quantiles(buckets, (D("0.5"), D("0.9"), D("0.95"))) == [D(100), D(500), D(750)]
    # p25: rank 25 of the first bucket's 50 → 0 + 100 × 25/50.
    assert histogram_quantiles(buckets, (D("0.25"),)) == [D(50)]


def test_histogram_quantiles_merge_unordered_buckets_and_stop_at_the_highest_finite_bound():
    buckets = [(INF, 10), (D(200), 0), (D(100), 90)]
    # p99 falls in the open +Inf bucket: the histogram knows only that it is above 100 (Prometheus answers the same).
    assert histogram_quantiles(buckets, (D("0.5"), D("0.99"))) == [D(100) * D(50) / D(90), D(100)]
    assert histogram_quantiles([(INF, 5)], (D("0.5"),)) == [None]  # no finite bound at all
    assert histogram_quantiles([], (D("0.5"), D("0.99"))) == [None, None]
    assert histogram_quantiles([(D(100), 0)], (D("0.5"),)) == [None]
