"""The recommendations section: the five open ones with the largest estimated saving, the open total per
currency, recommendations implemented in the month (calendar dates) and the savings realised in it, which equal
apps.recommendations' realised_savings(month); the highlight rules and the template."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from apps.reports.sections import recommendations
from tests.reports.money_factories import *  # noqa: F403
from tests.reports.money_factories import MONTH, assert_highlights, make_period, render_both

COUNTER = {"n": 0}


def make_rec(saving: str, *, status="open", currency="EUR", implemented_on=None, kind="model_routing", **fields):
    from apps.recommendations.models import Recommendation

    COUNTER["n"] += 1
    n = COUNTER["n"]
    return Recommendation.objects.create(
        fingerprint=f"{n:064d}",
        kind=kind,
        title=fields.pop("title", f"Route short prompts of agent {n} to a smaller model"),
        scope_kind="asset",
        scope_label=f"agent-{n}",
        status=status,
        implemented_on=implemented_on,
        dismiss_reason="Not for us." if status == "dismissed" else "",
        estimated_monthly_saving=Decimal(saving),
        currency=currency,
        window_start=dt.date(2026, 2, 1),
        window_end=dt.date(2026, 3, 2),
        **fields,
    )


def realise(rec, amount: str, *, month=MONTH, currency="EUR"):
    from apps.recommendations.models import RealisedSaving

    return RealisedSaving.objects.create(
        recommendation=rec,
        month=month,
        first_day=month,
        last_day=dt.date(month.year, month.month, 28),
        amount=Decimal(amount),
        currency=currency,
        method="per_request",
        cost=Decimal("100"),
        volume=Decimal("1000"),
        unit_cost=Decimal("0.1"),
        baseline_unit_cost=Decimal("0.2"),
    )


@pytest.fixture
def recs(in_alpha, clock):
    found = {f"open_{s}": make_rec(s) for s in ("10", "20", "30", "40", "50", "60", "70")}
    found["open_usd"] = make_rec("500", currency="USD")
    found["dismissed"] = make_rec("1000", status="dismissed")
    found["accepted"] = make_rec("25", status="accepted")
    found["march"] = make_rec("150", status="implemented", implemented_on=dt.date(2026, 3, 10), title="Cache prompts")
    found["february"] = make_rec("90", status="implemented", implemented_on=dt.date(2026, 2, 20))
    found["last_day"] = make_rec("40", status="implemented", implemented_on=dt.date(2026, 3, 31))
    found["april"] = make_rec("40", status="implemented", implemented_on=dt.date(2026, 4, 1))
    found["usd_done"] = make_rec("9", status="implemented", implemented_on=dt.date(2026, 1, 5), currency="USD")
    realise(found["march"], "120.5049")
    realise(found["february"], "80.2450")
    realise(found["february"], "70.00", month=dt.date(2026, 2, 1))  # another month
    realise(found["usd_done"], "9.00", currency="USD")
    return found


def test_open_recommendations(recs):
    data = recommendations.build(make_period())
    json.dumps(data)
    assert [r["estimated_saving"] for r in data["top"]] == ["500.00", "70.00", "60.00", "50.00", "40.00"]
    assert data["top"][0]["currency"] == "USD" and data["top"][1]["kind_label"] == "Model routing"
    assert data["open_count"] == 8 and data["open_in_currency_count"] == 7
    assert data["open_total"] == "280.00"
    assert data["open_other_currencies"] == [{"currency": "USD", "amount": "500.00", "count": 1}]
    assert data["accepted_count"] == 1 and data["accepted_total"] == "25.00"
    assert data["top"][1]["url"] == f"/c/alpha/finops/recommendations/{recs['open_70'].pk}/"
    assert data["as_of"] == "2026-04-02"


def test_implemented_in_the_month_and_realised_savings(recs):
    from apps.recommendations.selectors import realised_savings

    data = recommendations.build(make_period())
    assert [r["id"] for r in data["implemented"]] == [recs["march"].pk, recs["last_day"].pk]  # not 20 Feb, 1 Apr
    assert data["implemented_count"] == 2
    assert data["implemented"][0]["realised"] == "120.50" and data["implemented"][1]["realised"] is None
    source = realised_savings(MONTH)
    assert data["realised_total"] == str(source.totals["EUR"].quantize(Decimal("0.01"))) == "200.75"
    assert data["realised_other_currencies"] == [{"currency": "USD", "amount": "9.00"}]
    assert {r["id"] for r in data["realised"]} == {recs["march"].pk, recs["february"].pk, recs["usd_done"].pk}
    shared = recommendations.realised_for_month(make_period())
    assert shared["total"] == Decimal("200.7499")


def test_empty(in_alpha, clock):
    data = recommendations.build(make_period())
    assert data["top"] == [] and data["open_total"] == "0.00" and data["realised_total"] == "0.00"
    assert recommendations.highlights(data, make_period()) == []
    pdf, _web = render_both("recommendations", data, make_period())
    assert "No open savings recommendation" in pdf and "No recommendation was implemented" in pdf


def test_queries_do_not_grow(recs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        recommendations.build(make_period())
    for n in range(10):
        realise(make_rec(str(n + 1), status="implemented", implemented_on=dt.date(2026, 3, 15)), "1.00")
        make_rec(str(n + 100))
    with CaptureQueriesContext(connection) as more:
        recommendations.build(make_period())
    assert len(more.captured_queries) == len(few.captured_queries)


def test_highlights(recs):
    data = recommendations.build(make_period())
    items = recommendations.highlights(data, make_period())
    assert [i["figure"] for i in items] == [
        "recommendations.realised_total",
        "recommendations.implemented_count",
        "recommendations.open_total",
    ]
    assert "200.75 EUR" in items[0]["text"] and items[0]["tone"] == "good"
    assert items[1]["text"] == "2 saving recommendations were implemented this month."
    assert "280.00 EUR" in items[2]["text"]
    assert_highlights("recommendations", data, items)


def test_highlight_rules():
    base = {"currency": "EUR", "realised_total": "-5.00", "implemented_count": 1, "open_total": "0.00"}
    items = recommendations.highlights(base, make_period())
    assert [i["figure"] for i in items] == ["recommendations.implemented_count"]  # a negative saving: no claim
    assert items[0]["text"] == "1 saving recommendation was implemented this month."
    assert_highlights("recommendations", base, items)


def test_template(recs):
    data = recommendations.build(make_period())
    pdf, web = render_both("recommendations", data, make_period())
    for html in (pdf, web):
        assert "280.00 EUR" in html and "500.00 USD" in html and "Cache prompts" in html and "200.75 EUR" in html
        assert "not measured yet" in html and '<th scope="col">' in html and '<th scope="row">' in html
    assert f'href="/c/alpha/finops/recommendations/{recs["march"].pk}/"' in web and "href=" not in pdf
