"""The unit economics section: each unit's month and six-month trend equal apps.unit_economics' own selectors
(unit_cost_for_month, unit_cost_series), the UTC month boundary of counts, units without counts, an empty
client, constant queries, the highlight rules and the template."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.reports.sections import unit_economics
from tests.reports.money_factories import *  # noqa: F403
from tests.reports.money_factories import MONTH, assert_highlights, book_rows, day_row, make_period, render_both

APRIL = dt.date(2026, 4, 1)
START = dt.date(2025, 10, 1)


@pytest.fixture
def units(org, source):
    from apps.unit_economics.services import business_unit_save, unit_counts_ingest

    book_rows(
        source,
        [
            day_row("2025-10-15", "100.00", tags={"team": "claims"}),
            day_row("2026-02-10", "200.00", tags={"team": "claims"}),
            day_row("2026-03-05", "300.00", tags={"team": "claims"}),
            day_row("2026-03-06", "60.00", tags={"team": "risk"}),
            day_row("2026-04-01", "999.00", tags={"team": "claims"}),
        ],
        first=START,
        last=APRIL,
    )
    claims = business_unit_save(
        name="Claim processed", code="claims", unit_label="claim", scope_kind="department", department=org["claims"]
    )
    tickets = business_unit_save(name="Ticket resolved", code="tickets", unit_label="ticket", scope_kind="client")
    loans = business_unit_save(name="Loan underwritten", code="loans", unit_label="loan", scope_kind="client")
    result = unit_counts_ingest(
        [
            {"unit": "claims", "day": "2025-10-15", "count": 50},
            {"unit": "claims", "day": "2026-02-10", "count": 100},
            {"unit": "claims", "day": "2026-02-28", "count": 10},  # the day before the month
            {"unit": "claims", "day": "2026-03-01", "count": 70},
            {"unit": "claims", "day": "2026-03-31", "count": 50},  # the month's last UTC day
            {"unit": "claims", "day": "2026-04-01", "count": 999},  # the first day after
            {"unit": "tickets", "day": "2026-03-10", "count": 1200},
        ]
    )
    assert result.rejected == 0, result.errors
    return {**org, "source": source, "claims": claims, "tickets": tickets, "loans": loans}


def test_each_unit_equals_the_unit_economics_selectors(units):
    from apps.unit_economics.selectors import unit_cost_for_month, unit_cost_series

    data = unit_economics.build(make_period())
    json.dumps(data)
    assert data["unit_count"] == 3 and data["measured_count"] == 2
    rows = {r["code"]: r for r in data["units"]}
    for code in ("claims", "tickets", "loans"):
        unit = units[code]
        point = unit_cost_for_month(unit, MONTH)
        row = rows[code]
        assert row["units"] == point.units
        assert row["cost"] == str(point.cost.quantize(Decimal("0.01")))
        expected = point.cost_per_unit
        assert row["cost_per_unit"] == (None if expected is None else str(expected.quantize(Decimal("0.0001"))))
        series = unit_cost_series(unit, start=START, end=APRIL)
        assert [p["units"] for p in row["trend"]] == [p.units for p in series.points]
        assert [p["cost"] for p in row["trend"]] == [str(p.cost.quantize(Decimal("0.01"))) for p in series.points]
    assert rows["claims"]["units"] == 120 and rows["claims"]["cost"] == "300.00"
    assert rows["claims"]["cost_per_unit"] == "2.5000"
    assert rows["claims"]["previous_units"] == 110  # 28 Feb counts in February, 1 Apr in April
    assert rows["claims"]["previous_cost_per_unit"] == "1.8182"
    assert rows["claims"]["change_percent"] == "37.5"
    assert rows["tickets"]["cost"] == "360.00" and rows["tickets"]["cost_per_unit"] == "0.3000"
    assert rows["loans"]["units"] is None and rows["loans"]["cost_per_unit"] is None
    assert [r["code"] for r in data["units"]] == ["tickets", "claims", "loans"]  # measured, costliest first
    assert rows["claims"]["url"] == "/c/alpha/finops/unit-economics/claims/"
    assert data["months"] == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert rows["claims"]["trend"][0] == {"month": "2025-10", "units": 50, "cost": "100.00", "cost_per_unit": "2.0000"}


def test_chart_draws_the_three_costliest_units_with_a_trend(units):
    data = unit_economics.build(make_period())
    chart = data["charts"][0]
    assert chart["kind"] == "line" and chart["unit"] == "EUR per unit"
    assert [s["name"] for s in chart["series"]] == ["Ticket resolved", "Claim processed"]  # loans: never counted
    assert chart["series"][1]["values"][-1] == "2.5000"


def test_queries_do_not_grow_with_the_units(units):
    from apps.unit_economics.services import business_unit_save

    with CaptureQueriesContext(connection) as few:
        unit_economics.build(make_period())
    for n in range(5):
        business_unit_save(name=f"Unit {n}", code=f"unit-{n}", unit_label="thing", scope_kind="client")
    with CaptureQueriesContext(connection) as more:
        unit_economics.build(make_period())
    assert len(more.captured_queries) == len(few.captured_queries)


def test_empty(in_alpha, clock):
    data = unit_economics.build(make_period())
    assert data["units"] == [] and data["charts"] == [] and data["headline_cost_per_unit"] is None
    assert unit_economics.highlights(data, make_period()) == []
    pdf, _web = render_both("unit_economics", data, make_period())
    assert "report-empty" in pdf and "No business units are defined" in pdf


def test_highlights(units):
    data = unit_economics.build(make_period())
    items = unit_economics.highlights(data, make_period())
    assert [i["figure"] for i in items] == [
        "unit_economics.headline_cost_per_unit",
        "unit_economics.biggest_change_percent",
    ]
    assert items[0]["text"] == "Each ticket cost 0.3000 EUR in AI and cloud spend this month."
    assert items[1]["tone"] == "bad" and "cost per claim rose 37.5 %" in items[1]["text"]
    assert_highlights("unit_economics", data, items)


def test_highlight_rules():
    period = make_period()
    base = {
        "headline_cost_per_unit": None,
        "headline_label": None,
        "headline_currency": None,
        "biggest_change_label": "claim",
        "biggest_change_percent": "-9.9",
    }
    assert unit_economics.highlights(base, period) == []  # under 10 %
    fell = unit_economics.highlights({**base, "biggest_change_percent": "-20.0"}, period)
    assert fell[0]["tone"] == "good" and "fell 20.0 %" in fell[0]["text"]
    big = {**base, "headline_cost_per_unit": "1234.5000", "headline_label": "loan", "headline_currency": "EUR"}
    items = unit_economics.highlights(big, period)
    assert "1,234.5000 EUR" in items[0]["text"]
    assert_highlights("unit_economics", big, items)


def test_template(units):
    data = unit_economics.build(make_period())
    pdf, web = render_both("unit_economics", data, make_period())
    for html in (pdf, web):
        assert "Claim processed" in html and "2.5000 EUR" in html and "+37.5 %" in html and "1,200" in html
        assert '<th scope="col"' in html and '<th scope="row">' in html
    assert "<svg" in pdf and "data-plotly-figure" in web
    assert 'href="/c/alpha/finops/unit-economics/claims/"' in web and "href=" not in pdf
