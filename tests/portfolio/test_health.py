"""The health score's arithmetic: each component's mapping to 0-100, the weighted average, weight 0 disabling a
component, components not measured left out (not counted as 0), and nothing measured giving no score."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from apps.portfolio import health
from apps.portfolio.health import (
    NEVER,
    Inputs,
    alerts_score,
    budget_score,
    freshness_score,
    inputs_from,
    sla_score,
    weighted,
)

D = Decimal


@pytest.mark.parametrize(
    ("variance", "expected"),
    [("-30", "100.0"), ("0", "100.0"), ("10", "80.0"), ("19.4", "61.2"), ("25", "50.0"), ("50", "0.0"), ("80", "0.0")],
)
def test_budget_variance_full_at_or_under_budget_and_zero_at_fifty_percent_over(variance, expected):
    assert budget_score(D(variance)) == D(expected)


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "100.0"), (1, "75.0"), (2, "50.0"), (3, "25.0"), (4, "0.0"), (9, "0.0")]
)
def test_each_open_critical_alert_costs_twenty_five(count, expected):
    assert alerts_score(count) == D(expected)


@pytest.mark.parametrize(
    ("attainment", "objective", "expected"),
    [
        ("0.9995", "0.999", "100.0"),  # above the target
        ("0.999", "0.999", "100.0"),  # exactly on it
        ("0.99850", "0.999", "50.0"),  # half an error budget below
        ("0.998", "0.999", "0.0"),  # a whole error budget below
        ("0.95", "0.999", "0.0"),
        ("0.985", "0.99", "50.0"),
        ("0.9275", "0.95", "55.0"),  # (0.95 - 0.9275) / 0.05 = 0.45 budgets below
    ],
)
def test_sla_attainment_is_scored_by_error_budgets_below_the_target(attainment, objective, expected):
    assert sla_score(D(attainment), D(objective)) == D(expected)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [("0", "100.0"), ("24", "100.0"), ("30", "95.8"), ("96", "50.0"), ("168", "0.0"), ("500", "0.0")],
)
def test_freshness_full_within_a_day_and_zero_after_a_week(hours, expected):
    assert freshness_score(D(hours)) == D(expected)


def test_billing_sources_that_never_succeeded_score_zero():
    assert freshness_score(NEVER) == D("0.0")
    result = health.health(Inputs(freshness_hours=NEVER))
    assert result.part("freshness").score == D("0.0")
    assert result.part("freshness").value == "no successful ingestion yet"


def test_readiness_and_maturity_count_as_they_are():
    result = health.health(Inputs(readiness=D("72.5"), maturity=D("61.25")))
    assert result.part("readiness").score == D("72.5")
    assert result.part("maturity").score == D("61.3")
    assert health.health(Inputs(readiness=D("130"))).part("readiness").score == D("100.0")  # clamped


def test_the_weighted_average_of_every_component():
    inputs = Inputs(
        budget_variance=D("19.4"),  # 61.2
        open_critical=1,  # 75
        sla_attainment=D("0.985"),  # 50
        sla_objective=D("0.99"),
        readiness=D("25"),
        maturity=D("62.5"),
        freshness_hours=D("30"),  # 95.8
    )
    result = health.health(inputs)  # default weights 20, 25, 20, 15, 10, 10
    expected = (D("61.2") * 20 + 75 * 25 + 50 * 20 + 25 * 15 + D("62.5") * 10 + D("95.8") * 10) / 100
    assert result.score == expected.quantize(D("0.1")) == D("60.6")
    assert result.band == "watch" and result.band_label == "Watch" and result.rounded == 61
    assert [p.key for p in result.parts] == list(health.COMPONENTS)
    assert result.part("sla").value == "worst SLO 98.5 % vs 99 % target"
    assert result.part("budget").value == "forecast 19.4 % over budget"
    assert "SLA attainment: 50.0 (worst SLO 98.5 % vs 99 % target) × 20" in result.breakdown


def test_custom_weights_and_weight_zero_disables_a_component():
    inputs = Inputs(open_critical=2, readiness=D("90"), maturity=D("30"))  # 50, 90, 30
    weights = {"alerts": 50, "readiness": 50, "maturity": 0, "budget": 20, "sla": 20, "freshness": 20}
    result = health.health(inputs, weights)
    assert result.score == D("70.0")  # (50 x 50 + 90 x 50) / 100; maturity switched off
    maturity = result.part("maturity")
    assert maturity.measured and not maturity.counted and maturity.score == D("30.0")
    assert "Maturity: off (weight 0)" in result.breakdown


def test_components_not_measured_are_left_out_not_counted_as_zero():
    only_alerts = health.health(Inputs(open_critical=0))
    assert only_alerts.score == D("100.0")  # not (100 x 25) / 100
    assert [p.key for p in only_alerts.parts if p.counted] == ["alerts"]
    assert only_alerts.part("budget").value == "not measured"
    assert weighted({"alerts": D("75"), "budget": None}, {"alerts": 25, "budget": 20}) == D("75.0")


def test_nothing_measured_or_every_weight_zero_gives_no_score():
    nothing = health.health(Inputs())
    assert nothing.score is None and nothing.band == "unmeasured" and nothing.rounded is None
    assert nothing.band_class == "chip-muted"
    all_off = health.health(Inputs(open_critical=0, readiness=D("80")), dict.fromkeys(health.COMPONENTS, 0))
    assert all_off.score is None


@pytest.mark.parametrize(
    ("score", "band"),
    [("100", "healthy"), ("80", "healthy"), ("79.9", "watch"), ("60", "watch"), ("59.9", "at-risk"), ("0", "at-risk")],
)
def test_bands(score, band):
    assert health.band_of(D(score))[0] == band


def test_inputs_from_the_rollup_row():
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    rollup = SimpleNamespace(
        refreshed_at=now,
        open_critical=1,
        budget_month=dt.date(2026, 11, 1),
        budget_amount=D("2500.00"),
        budget_forecast=D("2985.00"),
        sla_attainment=D("0.985"),
        sla_objective=D("0.99"),
        readiness=D("25.0"),
        billing_sources=1,
        ingestion_succeeded_at=now - dt.timedelta(hours=30),
    )
    inputs = inputs_from(rollup, SimpleNamespace(score=D("62.50")), now=now)
    assert inputs.budget_variance == D("19.4")
    assert inputs.freshness_hours == D("30.0")
    assert inputs.maturity == D("62.50") and inputs.open_critical == 1

    # Last month's budget does not count in a new month (until the next refresh measures this one).
    assert inputs_from(rollup, None, now=dt.datetime(2026, 12, 1, 0, 5, tzinfo=dt.UTC)).budget_variance is None
    # Sources without any success: NEVER; no source at all: not measured.
    rollup.ingestion_succeeded_at = None
    assert inputs_from(rollup, None, now=now).freshness_hours == NEVER
    rollup.billing_sources = 0
    assert inputs_from(rollup, None, now=now).freshness_hours is None
    # No rollup row yet: only the maturity is known.
    assert inputs_from(None, None, now=now) == Inputs()
