"""The value section: time saved from the drivers × the units Keel counted, valued at the loaded hourly rate;
cost avoided = realised savings (the recommendations section's figure) + runaway burn avoided (the anomalies
section's); AI cost = the spend section's AI figure; ROI, net value and the multiple against the retainer; the
bases; no drivers / no rate; the highlight rules and the template with its method box."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from apps.reports.models import ValueDriver, ValueSettings
from apps.reports.sections import anomalies, recommendations, spend, value
from tests.reports.money_factories import *  # noqa: F403
from tests.reports.money_factories import MONTH, assert_highlights, book_rows, day_row, make_period, render_both
from tests.reports.test_section_anomalies import make_incident
from tests.reports.test_section_recommendations import make_rec, realise

APRIL = dt.date(2026, 4, 1)
AWS = {"provider_name": "AWS", "service_name": "Amazon EC2", "service_category": "Compute"}


@pytest.fixture
def inputs(org, source):
    from apps.unit_economics.services import business_unit_save, unit_counts_ingest

    book_rows(
        source,
        [
            day_row("2026-03-05", "1000.00", tags={"team": "claims"}),
            day_row("2026-03-06", "200.00", tags={"team": "risk"}, **AWS),
            day_row("2026-04-01", "555.00", tags={"team": "claims"}),
        ],
        first=dt.date(2026, 3, 1),
        last=APRIL,
    )
    claims = business_unit_save(name="Claim processed", code="claims", unit_label="claim", scope_kind="client")
    tickets = business_unit_save(name="Ticket resolved", code="tickets", unit_label="ticket", scope_kind="client")
    loans = business_unit_save(name="Loan underwritten", code="loans", unit_label="loan", scope_kind="client")
    unit_counts_ingest(
        [
            {"unit": "claims", "day": "2026-03-02", "count": 700},
            {"unit": "claims", "day": "2026-03-31", "count": 500},
            {"unit": "claims", "day": "2026-04-01", "count": 999},  # April
            {"unit": "tickets", "day": "2026-03-10", "count": 600},
        ]
    )
    ValueSettings.objects.create(loaded_hourly_rate=Decimal("50"), rate_basis="HR average for handlers")
    ValueDriver.objects.create(
        unit=claims,
        baseline_minutes=Decimal("18"),
        assisted_minutes=Decimal("7.5"),
        baseline_error_rate=Decimal("4.2"),
        current_error_rate=Decimal("2.1"),
        basis="measured",
        note="Timed on 200 claims.",
    )
    ValueDriver.objects.create(
        unit=tickets, baseline_minutes=Decimal("10"), assisted_minutes=Decimal("4"), basis="self_reported"
    )
    ValueDriver.objects.create(
        unit=loans, baseline_minutes=Decimal("30"), assisted_minutes=Decimal("20"), basis="estimated"
    )
    done = make_rec("400", status="implemented", implemented_on=dt.date(2026, 2, 10))
    realise(done, "300.00")
    realise(
        make_rec("9", status="implemented", implemented_on=dt.date(2026, 2, 1), currency="USD"), "9.00", currency="USD"
    )
    make_incident(
        "underwriter-7",
        detected=dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC),
        delay=60,
        burned="30.00",
        projected="1440.00",
        peak="5.00",
        stopped=dt.datetime(2026, 3, 20, 9, 2, tzinfo=dt.UTC),
    )
    return {"claims": claims, "tickets": tickets, "loans": loans}


def test_time_saved_value_and_roi(inputs):
    data = value.build(make_period(retainer="1500.00"))
    json.dumps(data)
    rows = {r["unit_code"]: r for r in data["drivers"]}
    assert rows["claims"]["units"] == 1200 and rows["claims"]["time_saved_hours"] == "210.0"
    assert rows["claims"]["minutes_saved_per_unit"] == "10.50" and rows["claims"]["value"] == "10500.00"
    assert rows["tickets"]["time_saved_hours"] == "60.0" and rows["tickets"]["value"] == "3000.00"
    assert rows["loans"]["units"] is None and rows["loans"]["time_saved_hours"] == "0.0"
    assert data["time_saved_hours"] == "270.0" and data["value"] == "13500.00"
    assert data["time_saved_basis"] == "self_reported"  # the least certain of the drivers
    assert data["rate"] == "50.00" and data["rate_set"] is True
    # error reduction: (4.2 − 2.1) ÷ 4.2, and 1,200 × 2.1 % errors avoided
    assert rows["claims"]["error_reduction_percent"] == "50.0" and rows["claims"]["errors_avoided"] == "25.2"
    assert data["error_reduction_percent"] == "50.0" and data["error_basis"] == "measured"
    assert rows["tickets"]["error_reduction_percent"] is None
    # ROI = (13,500 + 1,740 − 1,000) ÷ 1,000
    assert data["ai_cost"] == "1000.00"
    assert data["cost_avoided"] == "1740.00" and data["cost_avoided_basis"] == "estimated"
    assert data["roi_percent"] == "1424.0" and data["roi_basis"] == "self_reported"
    assert data["net_value"] == "12740.00"  # 15,240 − 1,000 − 1,500
    assert data["value_multiple"] == "6.10"  # 15,240 ÷ 2,500
    assert data["cost_avoided_other_currencies"] == [{"currency": "USD", "amount": "9.00"}]
    assert data["charts"][0]["series"][0]["values"] == ["13500.00", "1740.00", "1000.00", "1500.00"]


def test_shared_figures_agree_with_the_other_sections(inputs):
    period = make_period()
    data = value.build(period)
    assert data["ai_cost"] == spend.build(period)["ai"]
    assert data["realised_savings"] == recommendations.build(period)["realised_total"] == "300.00"
    assert data["runaway_avoided"] == anomalies.build(period)["runaway_avoided"] == "1440.00"


def test_units_follow_the_unit_economics_counts(inputs):
    from apps.unit_economics.selectors import unit_cost_for_month

    rows = {r["unit_code"]: r for r in value.build(make_period())["drivers"]}
    for code in ("claims", "tickets", "loans"):
        assert rows[code]["units"] == unit_cost_for_month(inputs[code], MONTH).units


def test_no_rate_keeps_hours_but_no_value_or_roi(inputs):
    ValueSettings.objects.update(loaded_hourly_rate=Decimal("0"))
    data = value.build(make_period())
    assert data["rate_set"] is False and data["value"] is None and data["roi_percent"] is None
    assert data["time_saved_hours"] == "270.0" and data["drivers"][0]["value"] is None
    assert data["net_value"] is None and data["value_multiple"] is None and data["charts"] == []
    assert "not entered yet" in data["method"]


def test_no_drivers_is_an_empty_state_pointing_to_the_inputs_page(in_alpha, clock):
    data = value.build(make_period())
    assert data["has_drivers"] is False and data["drivers"] == []
    assert data["value"] is None and data["roi_percent"] is None and data["cost_avoided"] == "0.00"
    assert "/c/alpha/reports/value/" in data["empty_message"]
    json.dumps(data)
    assert value.highlights(data, make_period()) == []
    pdf, web = render_both("value", data, make_period())
    assert "report-empty" in pdf and "/c/alpha/reports/value/" in pdf and "report-method" in pdf
    assert 'href="/c/alpha/reports/value/"' in web


def test_zero_ai_spend_has_no_roi_but_a_multiple(inputs):
    data = value.build(make_period(dt.date(2026, 2, 1), retainer="100"))  # February: no spend, no counts
    assert data["ai_cost"] == "0.00" and data["roi_percent"] is None
    assert data["value"] == "0.00" and data["value_multiple"] == "0.00"


def test_highlights(inputs):
    data = value.build(make_period())
    items = value.highlights(data, make_period())
    assert [i["figure"] for i in items] == [
        "value.time_saved_hours",
        "value.roi_percent",
        "value.error_reduction_percent",
    ]
    assert items[0]["text"] == "AI saved the team about 270.0 hours of work this month."
    assert items[1]["text"] == "AI returned 1,424.0 % more than it cost this month." and items[1]["tone"] == "good"
    assert items[2]["text"] == "Errors fell 50.0 % against the level before AI."
    assert_highlights("value", data, items)


def test_highlight_rules():
    period = make_period()
    base = {
        "currency": "EUR",
        "has_drivers": True,
        "time_saved_hours": "0.0",
        "roi_percent": "-35.5",
        "value": "10.00",
        "cost_avoided": "0.00",
        "error_reduction_percent": None,
    }
    items = value.highlights(base, period)
    assert [i["figure"] for i in items] == ["value.roi_percent"]
    assert items[0]["tone"] == "bad" and "fell 35.5 % short" in items[0]["text"]
    no_inputs = {**base, "has_drivers": False, "roi_percent": None, "value": None, "cost_avoided": "120.00"}
    items = value.highlights(no_inputs, period)
    assert [i["figure"] for i in items] == ["value.cost_avoided"] and "120.00 EUR" in items[0]["text"]
    assert_highlights("value", no_inputs, items)


def test_template(inputs):
    data = value.build(make_period())
    pdf, web = render_both("value", data, make_period())
    for html in (pdf, web):
        assert "270.0 h" in html and "13,500.00 EUR" in html and "1,424.0 %" in html and "12,740.00" in html
        assert "report-basis self_reported" in html and "report-basis estimated" in html and "self-reported" in html
        assert "report-method" in html and "HR average for handlers" in html and "6.10×" in html
        assert '<th scope="col"' in html and '<th scope="row">' in html
    assert "<svg" in pdf and "data-plotly-figure" in web
