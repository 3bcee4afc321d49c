"""The service levels section over SLOs evaluated by the real cycle (measurements_ingest + slos_evaluate): the
month's closed periods, breaches and credits reconcile with SloPeriod / Breach / ServiceCredit, the month
boundary in the client's time zone, rolling windows, resolution times from the incident clocks, drift, the
trend chart, the empty month, JSON, the highlight rules and the template.

October 2026 in alpha (Europe/Paris), retainer 12,000.00 EUR:
    claims-api        99 %, tiers <99 → 10 %     Sep 100 %      Oct 96 %  → breach, credit 1,200.00 (due)
    claims-sync       90 %, tiers <99 → 5 %      Sep 0 % (one bad minute just before the month) → Sep credit 600.00
                                                  Oct 100 % (a good minute just before the month end; a bad one
                                                  just after it is November's)
    model-quality     95 %, quality, <95 → 25 %  Oct 50 %  → breach, credit 3,000.00, settled as issued
    search-rolling    rolling 30 d from 15 Sep   period 15 Sep – 15 Oct (02:00 Paris) closed in October, 100 %
    intake-rolling    rolling 30 d from 10 Oct   nothing closed yet → "rolling, not closed"
    incident-fix      resolution ≤ 240 business minutes, 50 %: Oct high 120 and 360 min, critical 30 min
    old-slo (retired, no period in October) and future-slo (starts in November) are left out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from apps.core.context import acting_as
from apps.reports.period import money
from apps.reports.sections import service_levels as section
from apps.service_levels import selectors
from apps.service_levels.evaluation import slos_evaluate
from apps.service_levels.ingest import measurements_ingest
from apps.service_levels.models import SLO, Breach, ServiceCredit, SloPeriod
from apps.service_levels.services import credit_settle, drift_submit
from apps.tenancy.models import Client
from tests.service_levels.conftest import minutes

from .posture_factories import (
    MONTH,
    MONTH_ENDS,
    MONTH_STARTS,
    assert_highlights,
    data_queries,
    figures,
    make_period,
    render_both,
    roundtrip,
)

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
TIERS_10 = [{"below": "99", "credit_percent": "10"}]
AGES, SHIFTED = list(range(20, 70)) * 4, list(range(40, 90)) * 4


def slo(name, **fields) -> SLO:
    values = {
        "display_name": name.replace("-", " ").capitalize(),
        "sli_kind": "availability",
        "objective": Decimal("0.99"),
        "starts_at": dt.datetime(2026, 9, 1, tzinfo=UTC),
        **fields,
    }
    return SLO.objects.create(name=name, **values)


def ingest(items):
    result = measurements_ingest(items, now=NOW)
    assert not result.errors, result.errors


@pytest.fixture
def world(in_alpha):
    Client.objects.filter(schema_name=connection.schema_name).update(monthly_retainer=Decimal("12000.00"))
    with acting_as(user_email="eng@msp.test"):
        api = slo("claims-api", credit_tiers=TIERS_10)
        sync = slo("claims-sync", objective=Decimal("0.9"), credit_tiers=[{"below": "99", "credit_percent": "5"}])
        quality = slo(
            "model-quality",
            sli_kind="quality",
            objective=Decimal("0.95"),
            credit_tiers=[{"below": "95", "credit_percent": "25"}],
        )
        rolling = slo(
            "search-rolling", window_kind="rolling", window_days=30, starts_at=dt.datetime(2026, 9, 15, tzinfo=UTC)
        )
        fresh = slo(
            "intake-rolling", window_kind="rolling", window_days=30, starts_at=dt.datetime(2026, 10, 10, tzinfo=UTC)
        )
        incidents = slo(
            "incident-fix", sli_kind="incident_resolution", objective=Decimal("0.5"), threshold=Decimal("240")
        )
        old = slo("old-slo", active=False)
        slo("future-slo", starts_at=dt.datetime(2026, 11, 5, tzinfo=UTC))

        ingest(minutes(dt.datetime(2026, 9, 10, tzinfo=UTC), 10, good=100, total=100, slo=api.name))
        ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 100, good=96, total=100, slo=api.name))
        # claims-sync: a bad minute just before October (Paris) is September's; a good one just before the
        # month end is October's; a bad one at the month's end instant is November's.
        ingest(minutes(MONTH_STARTS - MINUTE, 1, good=0, total=100, slo=sync.name))
        ingest(minutes(dt.datetime(2026, 10, 10, tzinfo=UTC), 10, good=100, total=100, slo=sync.name))
        ingest(minutes(MONTH_ENDS - MINUTE, 1, good=100, total=100, slo=sync.name))
        ingest(minutes(MONTH_ENDS, 1, good=0, total=100, slo=sync.name))
        ingest(minutes(dt.datetime(2026, 10, 12, tzinfo=UTC), 10, good=50, total=100, slo=quality.name))
        ingest(minutes(dt.datetime(2026, 9, 20, tzinfo=UTC), 10, good=100, total=100, slo=rolling.name))
        ingest(minutes(dt.datetime(2026, 10, 12, tzinfo=UTC), 10, good=100, total=100, slo=fresh.name))
        ingest(
            [
                {"slo": incidents.name, "id": "i1", "severity": "high",
                 "opened_at": "2026-10-05T10:00:00Z", "resolved_at": "2026-10-05T12:00:00Z"},
                {"slo": incidents.name, "id": "i2", "severity": "high",
                 "opened_at": "2026-10-06T10:00:00Z", "resolved_at": "2026-10-06T16:00:00Z"},
                {"slo": incidents.name, "id": "i3", "severity": "critical",
                 "opened_at": "2026-10-07T10:00:00Z", "resolved_at": "2026-10-07T10:30:00Z"},
                # 23:00 Paris on 30 September: September's, whatever UTC says.
                {"slo": incidents.name, "id": "i4", "severity": "high",
                 "opened_at": "2026-09-30T21:00:00Z", "resolved_at": "2026-10-01T09:00:00Z"},
                {"slo": incidents.name, "id": "i5", "severity": "low", "opened_at": "2026-10-08T10:00:00Z"},
            ]
        )  # fmt: skip
        slos_evaluate(now=NOW)
        quality_credit = ServiceCredit.objects.get(breach__slo=quality)
        credit_settle(credit=quality_credit, status="issued", note="Invoice 2026-11")

        from apps.inventory.models import AIModel

        model = AIModel.objects.create(kind="model", name="Claims scorer", provider="self-hosted", model_id="c-1")
        drift_submit(
            asset=model, feature="claimant_age", reference={"values": AGES}, current={"values": SHIFTED},
            window_start=dt.datetime(2026, 10, 19, tzinfo=UTC), window_end=dt.datetime(2026, 10, 20, tzinfo=UTC),
            key="age-oct",
        )  # fmt: skip
        drift_submit(
            asset=model, feature="claimant_age", current={"values": AGES},
            window_start=dt.datetime(2026, 11, 1, tzinfo=UTC), window_end=dt.datetime(2026, 11, 2, tzinfo=UTC),
            key="age-nov",
        )  # fmt: skip
        drift_submit(
            asset=model, feature="channel", kind="categorical",
            reference={"categories": {"web": 80, "phone": 20}}, current={"categories": {"web": 10, "phone": 90}},
            window_start=dt.datetime(2026, 10, 1, tzinfo=UTC), window_end=dt.datetime(2026, 10, 2, tzinfo=UTC),
            key="channel-early",
        )  # fmt: skip
        drift_submit(
            asset=model, feature="channel", kind="categorical", current={"categories": {"web": 79, "phone": 21}},
            window_start=MONTH_ENDS - dt.timedelta(days=1), window_end=MONTH_ENDS, key="channel-last",
        )  # fmt: skip
        drift_submit(
            asset=model, feature="channel", kind="categorical", current={"categories": {"web": 5, "phone": 95}},
            window_start=MONTH_ENDS, window_end=MONTH_ENDS + MINUTE, key="channel-after",
        )  # fmt: skip
    return {"api": api, "sync": sync, "quality": quality, "rolling": rolling, "fresh": fresh, "old": old}


def by_name(data) -> dict:
    return {row["name"]: row for row in data["slos"]}


def test_each_slo_s_month_reconciles_with_its_closed_period(world):
    data = section.build(make_period())
    rows = by_name(data)
    assert set(rows) == {
        "claims-api",
        "claims-sync",
        "model-quality",
        "search-rolling",
        "intake-rolling",
        "incident-fix",
    }

    api = rows["claims-api"]
    period = SloPeriod.objects.get(slo=world["api"], label="2026-10")
    assert api["attained_percent"] == f"{period.attainment * 100:.3f}" == "96.000"
    assert api["met"] is False and api["target_percent"] == "99"
    assert api["budget_consumed_percent"] == f"{period.budget_consumed * 100:.1f}" == "400.0"
    assert api["period_label"] == "2026-10" and api["window_label"] == "calendar month"
    assert api["credit_total"] == "1200.00"
    assert api["url"] == f"/c/alpha/service-levels/{world['api'].pk}/"

    # The month boundary is the client's: the bad minute just before it is September's, the one at its end
    # November's; October itself is 100 %.
    sync = rows["claims-sync"]
    assert (sync["attained_percent"], sync["met"], sync["target_percent"]) == ("100.000", True, "90")
    assert SloPeriod.objects.get(slo=world["sync"], label="2026-09").attainment == 0

    rolling = rows["search-rolling"]
    assert rolling["period_label"] == "2026-09-15 – 2026-10-15"
    assert (rolling["attained_percent"], rolling["met"], rolling["window_label"]) == (
        "100.000",
        True,
        "rolling 30 days",
    )
    fresh = rows["intake-rolling"]
    assert (fresh["attained_percent"], fresh["met"], fresh["note"], fresh["closed"]) == (
        None,
        None,
        "rolling, not closed",
        False,
    )

    assert rows["model-quality"]["quality"] is True and rows["claims-api"]["quality"] is False
    assert (data["slo_count"], data["met_count"], data["missed_count"], data["unsettled_count"]) == (6, 3, 2, 1)


def test_breaches_closed_in_the_month_and_their_credits_reconcile_to_the_cent(world):
    data = section.build(make_period())
    october = Breach.objects.filter(period_end__gt=MONTH_STARTS, period_end__lte=MONTH_ENDS)
    assert data["breach_count"] == october.count() == 2
    assert {b["slo"] for b in data["breaches"]} == {"Claims api", "Model quality"}
    api = next(b for b in data["breaches"] if b["slo"] == "Claims api")
    assert (api["attained_percent"], api["target_percent"], api["credit_percent"], api["credit_amount"]) == (
        "96.000",
        "99",
        "10.00",
        "1200.00",
    )
    assert api["linked_incidents"] == len(Breach.objects.get(slo=world["api"]).incident_ids)

    credits = ServiceCredit.objects.filter(month=MONTH)
    expected = credits.aggregate(total=Sum("amount"))["total"]
    assert data["credits_total"] == money(expected) == "4200.00"
    assert data["credits_total"] == money(selectors.credits_for_month(MONTH)["total"])
    assert data["credit_count"] == credits.count() == 2
    assert data["credits_by_status"] == {"due": "1200.00", "issued": "3000.00", "waived": "0.00"}
    assert data["credits_other_currencies"] == {}
    assert {(c["slo"], c["amount"], c["status"]) for c in data["credits"]} == {
        ("Claims api", "1200.00", "due"),
        ("Model quality", "3000.00", "issued"),
    }
    # September's credit (claims-sync) is September's, not October's.
    assert ServiceCredit.objects.get(breach__slo=world["sync"]).month == dt.date(2026, 9, 1)
    september = section.build(make_period(dt.date(2026, 9, 1)))
    assert september["credits_total"] == "600.00"
    assert {b["slo"] for b in september["breaches"]} == {"Claims sync", "Incident fix"}  # the latter owes 0


def test_resolution_times_by_severity_from_the_incident_clocks(world):
    data = section.build(make_period())
    mttr = {row["severity"]: row for row in data["mttr"]}
    assert set(mttr) == {"critical", "high"}  # the open low one has no resolution; i4 is September's
    assert (mttr["high"]["incidents"], mttr["high"]["mean_minutes"], mttr["high"]["worst_minutes"]) == (
        2,
        "240.0",
        "360.0",
    )
    assert (mttr["critical"]["incidents"], mttr["critical"]["mean_minutes"]) == (1, "30.0")
    assert data["mttr"][0]["severity"] == "critical"  # worst severity first


def test_drift_takes_each_monitor_s_latest_check_in_the_month(world):
    data = section.build(make_period())
    rows = {row["feature"]: row for row in data["drift"]}
    assert set(rows) == {"claimant_age", "channel"}
    assert rows["claimant_age"]["significant"] is True and rows["claimant_age"]["window_end"] == "2026-10-20"
    # The check ending exactly at the month end is October's; the one a minute later is November's.
    assert rows["channel"]["status"] == "stable" and rows["channel"]["window_end"] == "2026-10-31"
    assert (
        rows["claimant_age"]["statistic"] == "PSI" and rows["claimant_age"]["monitor"] == "Claims scorer · claimant_age"
    )
    assert (data["drift_check_count"], data["drift_significant_count"], data["drift_monitor_count"]) == (2, 1, 2)
    assert data["drift"][0]["feature"] == "claimant_age"  # significant first


def test_the_trend_chart_has_six_months_and_one_series_per_slo(world):
    [chart] = section.build(make_period())["charts"]
    assert chart["kind"] == "line" and chart["unit"] == "%" and chart["monthly"] is True
    assert chart["x"] == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    series = {s["name"]: s["values"] for s in chart["series"]}
    assert len(series) <= 5
    assert series["Claims api"] == [None, None, None, None, "100.000", "96.000"]
    assert series["Claims sync"][-2:] == ["0.000", "100.000"]
    assert "target" not in chart  # the SLOs' targets differ
    assert chart["description"].startswith("Attainment per month from May 2026 to October 2026")


def test_a_single_slo_s_chart_carries_its_target(in_alpha):
    with acting_as(user_email="eng@msp.test"):
        only = slo("only-one", objective=Decimal("0.995"))
        ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 10, good=100, total=100, slo=only.name))
        slos_evaluate(now=NOW)
    data = section.build(make_period())
    [chart] = data["charts"]
    assert chart["target"] == "99.5" and chart["series"][0]["name"] == "Only one"
    assert data["slos"][0]["target_percent"] == "99.5"


def test_an_empty_month_is_a_valid_section(in_alpha):
    data = roundtrip(section.build(make_period()))
    assert data["slos"] == [] and data["breaches"] == [] and data["credits"] == [] and data["drift"] == []
    assert (data["slo_count"], data["breach_count"], data["credits_total"], data["charts"]) == (0, 0, "0.00", [])
    assert section.highlights(data, make_period()) == []
    pdf, web = render_both(section.KEY, data, make_period())
    assert 'class="report-empty"' in pdf and 'class="report-empty"' in web


def test_the_section_is_json_and_a_few_queries_whatever_the_data(world):
    data, queries = data_queries(section.build, make_period())
    roundtrip(data)
    assert len(queries) <= 7, queries
    with acting_as(user_email="eng@msp.test"):  # more SLOs with closed months: the same queries
        for n in range(4):
            more = slo(f"more-{n}", credit_tiers=TIERS_10)
            ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 5, good=90, total=100, slo=more.name))
        slos_evaluate(now=NOW)
    bigger, again = data_queries(section.build, make_period())
    assert bigger["slo_count"] == data["slo_count"] + 4 and len(again) == len(queries)


def test_highlight_rules_on(world):
    period = make_period()
    data = section.build(period)
    items = assert_highlights(section.KEY, data, section.highlights(data, period))
    assert figures(items) == [
        "service_levels.missed_count",
        "service_levels.credits_total",
        "service_levels.drift_significant_count",
    ]
    assert items[0]["text"] == "2 service levels missed their target this month." and items[0]["tone"] == "bad"
    assert "4200.00 EUR" in items[1]["text"]


def test_highlight_rules_off_and_the_all_met_sentence(world):
    period = make_period()
    data = section.build(period)
    calm = {**data, "missed_count": 0, "credits_total": "0.00", "drift_significant_count": 0}
    items = assert_highlights(section.KEY, calm, section.highlights(calm, period))
    assert figures(items) == ["service_levels.met_count"] and items[0]["tone"] == "good"
    nothing = {**calm, "met_count": 0}
    assert section.highlights(nothing, period) == []
    one = {**data, "missed_count": 1, "drift_significant_count": 1}
    texts = [item["text"] for item in assert_highlights(section.KEY, one, section.highlights(one, period))]
    assert "1 service level missed its target this month." in texts
    assert any(text.startswith("1 monitored model input has drifted") for text in texts)


def test_the_template_shows_the_figures_in_the_pdf_and_the_portal(world):
    period = make_period()
    data = section.build(period)
    pdf, web = render_both(section.KEY, data, period)
    for html in (pdf, web):
        assert "96.000 %" in html and "4,200.00 EUR" in html and "1,200.00 EUR" in html
        assert "rolling, not closed" in html and "Claims scorer · claimant_age" in html
        assert '<th scope="col">' in html and '<th scope="row">' in html
        assert "Quality and drift" in html and "240.0" in html
    assert "<svg" in pdf and "data-plotly-figure" not in pdf
    assert "data-plotly-figure" in web and f'href="/c/alpha/service-levels/{world["api"].pk}/"' in web
    assert "<a " not in pdf
