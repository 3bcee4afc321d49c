"""The spend section: March 2026's total equals the raw ledger's and the cost explorer's to the cent, AI share,
budgets, last month and last year, departments, assets and providers, the UTC month boundary, an empty month,
the highlight rules and the template."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.reports.sections import spend
from tests.reports.money_factories import *  # noqa: F403
from tests.reports.money_factories import (
    MONTH,
    assert_highlights,
    book_rows,
    day_row,
    ledger_sum,
    make_period,
    render_both,
)

APRIL = dt.date(2026, 4, 1)
AWS = {"provider_name": "AWS", "service_name": "Amazon EC2", "service_category": "Compute"}


def rows() -> list[dict]:
    return [
        day_row("2025-03-15", "100.00", tags={"team": "claims"}),  # a year ago
        day_row("2026-02-10", "200.00", tags={"team": "claims"}),
        day_row("2026-02-28", "50.00", tags={"team": "risk"}),  # the day before the month
        day_row("2026-03-01", "300.0049", tags={"team": "claims"}),
        day_row("2026-03-15", "120.0031", tags={"agent": "claims-triage"}),
        day_row("2026-03-20", "80.00", tags={"team": "risk"}, **AWS),
        day_row("2026-03-31", "40.00"),  # unallocated, the month's last UTC day
        day_row("2026-03-31", "7.00", currency="USD"),
        day_row("2026-03-10", "-15.00", tags={"team": "claims"}, charge_category="Credit"),
        day_row("2026-04-01", "999.00", tags={"team": "claims"}),  # the first day after
    ]


@pytest.fixture
def booked(org, source):
    book_rows(source, rows(), first=dt.date(2025, 3, 1), last=APRIL)
    return {**org, "source": source}


def make_budget(**fields):
    from apps.budgets.services import budget_save

    return budget_save(**({"name": "Whole client", "amount": "500", "scope": "client"} | fields))


def test_total_reconciles_with_the_ledger_and_the_explorer(booked):
    from apps.finops.selectors import ExplorerQuery, cost_explorer

    data = spend.build(make_period())
    ledger = ledger_sum(first=MONTH, end=APRIL)
    assert ledger == Decimal("525.01")  # 525.008: rounded once, on the total
    assert data["total"] == str(ledger)
    explorer = cost_explorer(ExplorerQuery(start=MONTH, end=APRIL)).totals["EUR"]
    assert data["total"] == str(explorer.quantize(Decimal("0.01")))
    # AI: the AI and Machine Learning category (the credit is an OpenAI credit), as the dashboard counts it
    ai = ledger_sum(first=MONTH, end=APRIL, service_category="AI and Machine Learning")
    assert data["ai"] == str(ai) == "445.01"
    assert data["other"] == "80.00"
    assert data["ai_share_percent"] == "84.8"
    assert spend.ai_spend(make_period()).quantize(Decimal("0.01")) == ai
    assert data["other_currencies"] == [{"currency": "USD", "total": "7.00", "ai": "7.00"}]
    json.dumps(data)


def test_month_boundary_is_utc_charge_days(booked):
    data = spend.build(make_period())
    # 28 Feb and 1 Apr are outside; 31 Mar (UTC) is inside though it ends at 02:00 on 1 Apr in Paris
    assert data["first_day"] == "2026-03-01" and data["last_day"] == "2026-03-31"
    assert data["last_month_total"] == "250.00" == str(ledger_sum(first=dt.date(2026, 2, 1), end=MONTH))
    april = spend.build(make_period(APRIL))
    assert april["total"] == "999.00"


def test_last_month_last_year_and_trend(booked):
    data = spend.build(make_period())
    assert data["vs_last_month_change"] == "275.01"
    assert data["vs_last_month_percent"] == "110.0"
    assert data["year_ago_total"] == "100.00"
    assert data["vs_year_ago_percent"] == "425.0"
    assert [row["month"] for row in data["trend"]] == [f"{m:%Y-%m}" for m in make_period().months_back(12)]
    assert data["trend"][-1] == {"month": "2026-03", "total": "525.01", "ai": "445.01", "other": "80.00"}
    assert data["trend"][-2]["total"] == "250.00"
    assert data["trend"][0]["month"] == "2025-04"  # the year-ago month is compared, not drawn
    chart = data["charts"][0]
    assert chart["kind"] == "stacked" and chart["series"][0]["values"][-1] == "445.01"


def test_departments_assets_and_providers_add_up(booked):
    data = spend.build(make_period())
    by_name = {d["name"]: d["amount"] for d in data["departments"]}
    assert by_name["Risk"] == "80.00"
    assert by_name["No department"] == data["unallocated_total"]
    assert sum(Decimal(d["amount"]) for d in data["departments"]) == Decimal(data["total"])
    assert Decimal(data["allocated_total"]) + Decimal(data["unallocated_total"]) == Decimal(data["total"])
    assert data["top_assets"][0]["name"] == "claims-triage"
    assert data["top_assets"][0]["amount"] == "120.00"
    assert data["asset_count"] == 1
    providers = {p["name"]: p["amount"] for p in data["providers"]}
    assert providers == {"OpenAI": "445.01", "AWS": "80.00"}
    assert any(c["id"] == "spend-departments" for c in data["charts"])


def test_budgets(booked):
    from apps.budgets.services import budget_save

    make_budget()
    budget_save(name="Claims", amount="1000", scope="department", department=booked["claims"])
    budget_save(name="OpenAI in USD", amount="10", scope="provider", provider_name="OpenAI", currency="USD")
    data = spend.build(make_period())
    assert data["budget_total"] == "500.00"
    assert data["budget_variance"] == "25.01"
    assert data["budget_used_percent"] == "105.0"
    assert data["budgets_amount_total"] == "1500.00"  # EUR budgets only
    rows_ = {b["name"]: b for b in data["budgets"]}
    assert rows_["Whole client"]["actual"] == data["total"]
    assert rows_["Whole client"]["state"] == "over"
    assert rows_["OpenAI in USD"]["actual"] == "7.00" and rows_["OpenAI in USD"]["currency"] == "USD"
    assert data["budgets_over"] == 1
    assert rows_["Whole client"]["url"].startswith("/c/alpha/finops/budgets/")


def test_a_budget_override_for_the_month_is_used(booked):
    make_budget(overrides={"2026-03": "600"})
    data = spend.build(make_period())
    assert data["budget_total"] == "600.00"
    assert data["budget_used_percent"] == "87.5"


def test_empty_month(in_alpha, clock):
    data = spend.build(make_period())
    assert data["has_spend"] is False
    assert data["total"] == "0.00" and data["ai_share_percent"] is None
    assert data["vs_last_month_percent"] is None and data["budget_total"] is None
    assert data["departments"] == [] and data["top_assets"] == []
    json.dumps(data)
    assert spend.highlights(data, make_period()) == []
    pdf, web = render_both("spend", data, make_period())
    assert "report-empty" in pdf and "No AI or cloud spend was booked" in pdf


def test_queries_do_not_grow_with_the_data(booked):
    make_budget()
    with CaptureQueriesContext(connection) as few:
        spend.build(make_period())
    book_rows(
        booked["source"],
        rows() + [day_row(f"2026-03-{d:02d}", "1.00", tags={"team": "risk"}) for d in range(2, 29)],
        first=dt.date(2025, 3, 1),
        last=APRIL,
    )
    from apps.budgets.services import budget_save

    budget_save(name="Risk", amount="100", scope="department", department=booked["risk"])
    with CaptureQueriesContext(connection) as more:
        spend.build(make_period())
    assert len(more.captured_queries) == len(few.captured_queries)


def test_highlights(booked):
    make_budget()
    data = spend.build(make_period())
    items = spend.highlights(data, make_period())
    assert [i["figure"] for i in items] == ["spend.total", "spend.vs_last_month_percent", "spend.budget_used_percent"]
    assert items[1]["tone"] == "bad" and "rose 110.0 %" in items[1]["text"]
    assert items[2]["tone"] == "bad" and "over the monthly budget" in items[2]["text"]
    assert "525.01 EUR" in items[0]["text"]
    assert_highlights("spend", data, items)


def test_highlight_rules_off_and_good():
    period = make_period()
    base = {"currency": "EUR", "total": "100.00", "vs_last_month_percent": "-9.9", "budget_used_percent": None}
    assert [i["figure"] for i in spend.highlights(base, period)] == ["spend.total"]  # under 10 %: no sentence
    fell = spend.highlights({**base, "vs_last_month_percent": "-12.5", "budget_used_percent": "80.0"}, period)
    assert fell[1]["tone"] == "good" and "fell 12.5 %" in fell[1]["text"]
    assert fell[2]["tone"] == "good" and "within the monthly budget" in fell[2]["text"]
    assert_highlights("spend", {**base, "vs_last_month_percent": "-12.5", "budget_used_percent": "80.0"}, fell)


def test_template(booked):
    make_budget()
    data = spend.build(make_period())
    pdf, web = render_both("spend", data, make_period())
    for html in (pdf, web):
        assert "525.01 EUR" in html and "445.01 EUR" in html and "+110.0 %" in html
        assert "105.0 %" in html and "claims-triage" in html and "7.00 USD" in html
        assert '<th scope="col">' in html and '<th scope="row">' in html
    assert "<svg" in pdf and "data-plotly-figure" not in pdf
    assert "data-plotly-figure" in web and 'href="/c/alpha/finops/' in web
    assert "href=" not in pdf
