"""Cost per unit from the daily rollup: exact Decimal arithmetic on known ledger rows, no ratio without units,
scopes (asset, department, model, AI only, whole client), currencies, counts per department or asset, and the
month-over-month drivers (volume vs unit cost, contributors that add up)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.unit_economics.selectors import (
    CostScope,
    daily_volume,
    scope_from_params,
    unit_cost_drivers,
    unit_cost_for_month,
    unit_cost_series,
    units_overview,
)
from apps.unit_economics.services import unit_counts_ingest

from .conftest import book, queries_run, row

D = dt.date


@pytest.fixture
def ledger(org, source):
    """October and November 2026 of a claims agent (and others around it), booked the real way."""
    book(
        source,
        [
            row("2026-10-10", "30.00", agent="claims-bot", x_model="gpt-4o"),
            row("2026-10-11", "6.00", agent="claims-bot", x_model="gpt-4o-mini"),
            row("2026-11-02", "10.00", agent="claims-bot", x_model="gpt-4o"),
            row("2026-11-02", "5.00", department="risk", x_model="gpt-4o-mini"),
            row("2026-11-03", "7.50", agent="claims-bot", x_model="gpt-4o"),
            row(
                "2026-11-03",
                "2.50",
                department="claims-ops",
                service_name="Amazon S3",
                service_category="Storage",
                provider_name="AWS",
            ),
            row("2026-11-04", "3.00", agent="claims-bot", x_model="gpt-4o-mini"),
        ],
        start="2026-10-01",
        end="2026-12-01",
    )
    return org


@pytest.fixture
def claims(ledger, make_unit):
    unit = make_unit("claims", scope_kind="asset", asset=ledger["bot"])
    counts = {"2026-10-10": 10, "2026-10-11": 10, "2026-11-02": 4, "2026-11-03": 3, "2026-11-04": 0}
    unit_counts_ingest([{"unit": "claims", "day": day, "count": n} for day, n in counts.items()])
    return unit


def test_daily_cost_per_unit_is_exact_and_days_without_units_have_no_ratio(claims):
    series = unit_cost_series(claims, start=D(2026, 11, 1), end=D(2026, 11, 6), granularity="day")
    by_day = {p.period: p for p in series.points}
    assert list(by_day) == [D(2026, 11, d) for d in range(1, 6)]  # every day, with or without data
    assert (by_day[D(2026, 11, 2)].cost, by_day[D(2026, 11, 2)].units) == (Decimal("10"), 4)
    assert by_day[D(2026, 11, 2)].cost_per_unit == Decimal("2.50000000")
    assert by_day[D(2026, 11, 3)].cost_per_unit == Decimal("2.50000000")  # 7.50 / 3: the risk and S3 rows are out
    assert by_day[D(2026, 11, 4)].cost == Decimal("3") and by_day[D(2026, 11, 4)].units == 0
    assert by_day[D(2026, 11, 4)].cost_per_unit is None  # zero units: no ratio, never infinity
    assert by_day[D(2026, 11, 5)].units is None and by_day[D(2026, 11, 5)].cost_per_unit is None
    assert series.cost == Decimal("20.5") and series.units == 7
    assert series.cost_per_unit == Decimal("2.92857143")  # 20.50 / 7, half up at 8 places
    assert series.currency == "USD" and series.other_currencies == {} and series.volume_basis == "total"


def test_monthly_cost_per_unit_and_the_month_helper(claims):
    series = unit_cost_series(claims, start=D(2026, 10, 1), end=D(2026, 12, 1), granularity="month")
    october, november = series.points
    assert (october.period, october.cost, october.units, october.days_with_counts) == (
        D(2026, 10, 1),
        Decimal("36"),
        20,
        2,
    )
    assert october.cost_per_unit == Decimal("1.80000000")
    assert (november.cost, november.units, november.last_day) == (Decimal("20.5"), 7, D(2026, 11, 30))
    assert unit_cost_for_month(claims, D(2026, 11, 17)) == november
    # a range cutting a month keeps only its days of it
    cut = unit_cost_series(claims, start=D(2026, 11, 3), end=D(2026, 11, 4), granularity="month").points
    assert [(p.first_day, p.last_day, p.cost, p.units) for p in cut] == [
        (D(2026, 11, 3), D(2026, 11, 3), Decimal("7.5"), 3)
    ]


def test_scopes_select_exactly_their_rollup_rows(claims, ledger):
    def cost(scope):
        return unit_cost_series(claims, start=D(2026, 11, 1), end=D(2026, 12, 1), scope=scope).cost

    assert cost(CostScope()) == Decimal("28")  # the whole client
    assert cost(CostScope(department_id=ledger["claims"].pk)) == Decimal("23")  # the agent's rows and the S3 row
    assert cost(CostScope(department_id=ledger["claims"].pk, ai_only=True)) == Decimal("20.5")
    assert cost(CostScope(model="gpt-4o")) == Decimal("17.5")
    assert cost(CostScope(department_id=ledger["risk"].pk)) == Decimal("5")
    assert cost(CostScope(missing="Its department was deleted.")) == Decimal("0")  # never the whole client


def test_page_and_api_parameters_choose_the_scope(claims, ledger):
    assert scope_from_params({}, claims).is_default
    chosen = scope_from_params({"scope": f"department:{ledger['claims'].pk}", "ai": "yes"}, claims)
    assert chosen.scope == CostScope(department_id=ledger["claims"].pk, ai_only=True) and not chosen.is_default
    api = scope_from_params({"department": str(ledger["claims"].pk), "model": "gpt-4o"}, claims)
    assert api.scope == CostScope(department_id=ledger["claims"].pk, model="gpt-4o")
    assert scope_from_params({"scope": "client"}, claims).scope == CostScope()
    unknown = scope_from_params({"department": "999999"}, claims)
    assert unknown.is_default and "no department #999999" in unknown.errors[0]
    assert scope_from_params({"scope": "galaxy:1"}, claims).errors


def test_a_deleted_department_leaves_the_unit_without_cost_not_with_the_whole_client(ledger, make_unit):
    unit = make_unit("reviews", scope_kind="department", department=ledger["risk"])
    unit_counts_ingest([{"unit": "reviews", "day": "2026-11-02", "count": 5}])
    assert unit_cost_for_month(unit, D(2026, 11, 1)).cost_per_unit == Decimal("1.00000000")
    ledger["risk"].delete()
    unit.refresh_from_db()
    point = unit_cost_for_month(unit, D(2026, 11, 1))
    assert point.cost == 0 and point.units == 5 and point.cost_per_unit is None  # the counts stay, no ratio


def test_spend_in_another_currency_is_reported_not_added(claims):
    from apps.finops.models import BillingSource

    book(
        BillingSource.objects.create(name="OpenAI EU", kind="openai"),
        [row("2026-11-02", "40.00", agent="claims-bot", billing_currency="EUR", billing_account_id="org-eu")],
        start="2026-11-02",
        end="2026-11-03",
    )
    usd = unit_cost_for_month(claims, D(2026, 11, 1), currency="USD")
    assert usd.cost == Decimal("20.5")
    series = unit_cost_series(claims, start=D(2026, 11, 1), end=D(2026, 12, 1))
    assert series.currency == "EUR" and series.cost == Decimal("40")  # the larger spend is shown…
    assert series.other_currencies == {"USD": Decimal("20.5")}  # …and the other one named beside it


def test_counts_per_department_or_asset_are_that_scopes_volume():
    rows = [
        (D(2026, 11, 2), None, None, 100),  # the unit's total
        (D(2026, 11, 2), 1, None, 60),  # department 1's share
        (D(2026, 11, 2), 2, None, 40),
        (D(2026, 11, 3), 1, None, 70),  # a day reported only per department
        (D(2026, 11, 3), 2, None, 20),
        (D(2026, 11, 3), 1, 9, 15),  # asset 9 in department 1
    ]
    assert daily_volume(rows, CostScope()) == ({D(2026, 11, 2): 100, D(2026, 11, 3): 90}, "total")
    assert daily_volume(rows, CostScope(department_id=1)) == ({D(2026, 11, 2): 60, D(2026, 11, 3): 85}, "department")
    assert daily_volume(rows, CostScope(asset_id=9)) == ({D(2026, 11, 3): 15}, "asset")
    # an asset nobody reported counts for falls back to the unit's totals
    assert daily_volume(rows, CostScope(asset_id=5))[1] == "total"


def test_month_drivers_split_volume_from_unit_cost_and_name_the_models(claims):
    drivers = unit_cost_drivers(claims, D(2026, 11, 1), by="model")
    assert (drivers.previous.cost, drivers.previous.units) == (Decimal("36"), 20)
    assert (drivers.current.cost, drivers.current.units) == (Decimal("20.5"), 7)
    assert drivers.cost_change == Decimal("-15.5")
    assert drivers.volume_change == -13
    assert drivers.volume_effect == Decimal("-23.4")  # 13 fewer claims at October's 1.80
    assert drivers.unit_cost_effect == Decimal("7.9")  # (2.928571… − 1.80) × 7
    assert drivers.volume_effect + drivers.unit_cost_effect == drivers.cost_change
    assert drivers.per_unit_change == Decimal("1.12857143")
    assert drivers.per_unit_change_percent == Decimal("62.7")
    lines = {c.key: c for c in drivers.contributors}
    assert set(lines) == {"gpt-4o", "gpt-4o-mini"}
    assert (lines["gpt-4o"].previous_cost, lines["gpt-4o"].current_cost) == (Decimal("30"), Decimal("17.5"))
    assert lines["gpt-4o"].previous_per_unit == Decimal("1.50000000")
    assert lines["gpt-4o"].per_unit_change == Decimal("1.00000000")  # 17.50/7 − 30/20
    assert lines["gpt-4o-mini"].per_unit_change == Decimal("0.12857143")  # 3/7 − 6/20
    assert drivers.contributors[0].key == "gpt-4o"  # the largest move first
    assert sum(c.per_unit_change for c in drivers.contributors) == drivers.per_unit_change


def test_drivers_fold_the_rest_into_all_other_and_still_add_up(claims, source):
    book(
        source,
        [row("2026-11-05", f"{i}.25", agent="claims-bot", x_model=f"m-{i}") for i in range(1, 6)],
        start="2026-11-05",
        end="2026-11-06",
    )
    drivers = unit_cost_drivers(claims, D(2026, 11, 1), by="model", top=2)
    assert len(drivers.contributors) == 3 and drivers.contributors[-1].other
    assert drivers.contributors[-1].groups == 5
    assert sum(c.current_cost for c in drivers.contributors) == drivers.current.cost
    assert sum(c.previous_cost for c in drivers.contributors) == drivers.previous.cost
    assert sum(c.per_unit_change for c in drivers.contributors) == drivers.per_unit_change


def test_drivers_without_units_last_month_give_no_split(ledger, make_unit):
    unit = make_unit("claims", scope_kind="asset", asset=ledger["bot"])
    unit_counts_ingest([{"unit": "claims", "day": "2026-11-02", "count": 4}])
    drivers = unit_cost_drivers(unit, D(2026, 11, 1), by="service")
    assert drivers.previous.units is None and drivers.previous.cost == Decimal("36")
    assert drivers.volume_effect is None and drivers.unit_cost_effect is None and drivers.per_unit_change is None
    assert drivers.contributors[0].per_unit_change is None and drivers.contributors[0].change == Decimal("-15.5")


def test_the_overview_reads_every_unit_in_constant_queries(claims, ledger, make_unit):
    make_unit("reviews", scope_kind="department", department=ledger["risk"])
    make_unit("everything")
    unit_counts_ingest([{"unit": "reviews", "day": "2026-11-02", "count": 2}])
    from apps.unit_economics.selectors import units_list

    with CaptureQueriesContext(connection) as captured:
        overview = units_overview(units_list(), D(2026, 11, 1))
    assert len(queries_run(captured)) == 3  # the units, the rollup, the counts: whatever the number of units
    by_code = {o.unit.code: o for o in overview}
    assert by_code["claims"].current.cost_per_unit == Decimal("2.92857143")
    assert by_code["claims"].previous.cost_per_unit == Decimal("1.80000000")
    assert by_code["claims"].change_percent == Decimal("62.7")
    assert by_code["reviews"].current.cost_per_unit == Decimal("2.50000000")  # 5.00 / 2
    assert by_code["everything"].current.cost == Decimal("28") and by_code["everything"].current.units is None
    assert by_code["claims"].scope_label == "All spend of claims-bot (agent)"
