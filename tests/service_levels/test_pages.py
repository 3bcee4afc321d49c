"""Service-level pages: the SLO list (worst first, filters, constant queries), the form (percent objective, credit
tiers, 400 on errors), the detail (contract, live numbers, burn pairs, charts, periods, breaches), retire and
delete, breaches and credits with settlement, business calendars, OpenSLO export/import, and the drift pages.

The world, built through the services and the evaluator in alpha's schema (Europe/Paris, EUR, retainer
10,000) with the clock at 20 Nov 2026 12:00 UTC:

    claims-availability  99 %, credits 10 % under 99 %; October 950/1000 (breach, 1,000.00 EUR), then a late
                         1000/1000 (October recomputed: 1950/2000, revision 2); November 1990/2000 on the 10th
                         and 9/10 at 11:50 today: 1999/2010 = 99.452 %, 45.2 % of the budget left, burn 10×
                         over 30 min … 3 days → page (6 h/30 m over 6×), at risk
    claims-latency       95 % within 800 ms; 20 samples 100…2000 ms on 12 Nov: 8/20, budget -1100 % → exhausted;
                         p50 1050, p95 1905, p99 1981 ms (percentile_cont)
    answer-quality       90 %, score ≥ 0.8; 95/100 on 5 Nov: 50 % left → within budget
    hallucination-rate   no measurement → no data
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from decimal import Decimal

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from freezegun import freeze_time
from scipy import stats

from apps.accounts.roles import Role
from apps.service_levels import drift, evaluation, services
from apps.service_levels.ingest import measurements_ingest
from apps.service_levels.models import SLO, BusinessCalendar, DriftCheck, ServiceCredit, SloPeriod
from tests.conftest import make_user

URL = "/c/alpha/service-levels/"
UTC = dt.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ORDER = ["claims-latency", "claims-availability", "answer-quality", "hallucination-rate"]


@pytest.fixture
def clock():
    with freeze_time("2026-11-20 12:00:00", tick=True) as frozen:
        yield frozen


def ingest(items: list[dict]) -> None:
    result = measurements_ingest(items, now=NOW)
    assert result.rejected == 0, result.errors


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> str:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC).isoformat()


@pytest.fixture
def world(alpha, clock):
    """The four SLOs above, measured and evaluated; an incident in October; two drift monitors."""
    from apps.incidents.models import AIIncident
    from apps.inventory.models import Agent

    alpha.monthly_retainer = Decimal("10000")
    alpha.save(update_fields=["monthly_retainer"])
    with schema_context(alpha.schema_name):
        agent = Agent.objects.create(name="claims-triage", kind="agent")
        incident = AIIncident.objects.create(
            title="Claims API down",
            kind="outage",
            detected_at=dt.datetime(2026, 10, 15, 9, tzinfo=UTC),
            aware_at=dt.datetime(2026, 10, 15, 9, tzinfo=UTC),
            closed_at=dt.datetime(2026, 10, 15, 12, tzinfo=UTC),
        )
        incident.assets.add(agent)
        october = dt.datetime(2026, 10, 1, tzinfo=PARIS)
        november = dt.datetime(2026, 11, 1, tzinfo=PARIS)
        availability = services.slo_save(
            name="claims-availability",
            display_name="Claims API availability",
            sli_kind="availability",
            objective=Decimal("0.99"),
            asset_id=agent.pk,
            credit_tiers=[{"below": "99", "credit_percent": "10"}],
            starts_at=october,
        )
        latency = services.slo_save(
            name="claims-latency",
            display_name="Claims API latency",
            sli_kind="latency",
            objective=Decimal("0.95"),
            threshold=Decimal("800"),
            starts_at=november,
        )
        quality = services.slo_save(
            name="answer-quality",
            display_name="Answer quality",
            sli_kind="quality",
            objective=Decimal("0.9"),
            threshold=Decimal("0.8"),
            starts_at=november,
        )
        hallucination = services.slo_save(
            name="hallucination-rate",
            display_name="Hallucination rate",
            sli_kind="hallucination",
            objective=Decimal("0.98"),
            starts_at=november,
        )
        ingest(
            [
                {"slo": "claims-availability", "id": "oct", "at": at(15, month=10), "good": 950, "total": 1000},
                {"slo": "claims-availability", "id": "nov", "at": at(10), "good": 1990, "total": 2000},
                {"slo": "claims-availability", "id": "now", "at": at(20, 11, 50), "good": 9, "total": 10},
                *[
                    {"slo": "claims-latency", "id": f"s{i}", "at": at(12, 9, i), "value_ms": 100 * i}
                    for i in range(1, 21)
                ],
                {"slo": "answer-quality", "id": "q", "at": at(5), "good": 95, "total": 100},
            ]
        )
        evaluation.slos_evaluate(now=NOW)
        ingest([{"slo": "claims-availability", "id": "oct-late", "at": at(20, month=10), "good": 1000, "total": 1000}])

        ages, shifted = list(range(20, 70)) * 4, list(range(40, 90)) * 4
        age_check, _ = services.drift_submit(
            asset=agent,
            feature="claimant_age",
            reference={"values": ages},
            reference_label="Training set 2026-09",
            current={"values": shifted},
            window_start=dt.datetime(2026, 11, 19, tzinfo=UTC),
            window_end=dt.datetime(2026, 11, 20, tzinfo=UTC),
        )
        channel_check, _ = services.drift_submit(
            asset=agent,
            feature="channel",
            kind="categorical",
            reference={"categories": {"web": 80, "phone": 20}},
            current={"categories": {"web": 79, "phone": 21}},
            window_start=dt.datetime(2026, 11, 19, tzinfo=UTC),
            window_end=dt.datetime(2026, 11, 20, tzinfo=UTC),
        )
    return {
        "schema": alpha.schema_name,
        "agent": agent,
        "incident": incident,
        "availability": availability,
        "latency": latency,
        "quality": quality,
        "hallucination": hallucination,
        "age_check": age_check,
        "channel_check": channel_check,
        "ages": ages,
        "shifted": shifted,
    }


def body_of(response) -> str:
    return response.content.decode()


def figure(response, name: str) -> dict:
    return json.loads(str(response.context[name]))


# --- the list ----------------------------------------------------------------------------------------------


def test_the_list_puts_the_worst_first_with_each_slos_figures(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(URL)
    assert page.status_code == 200
    body = body_of(page)
    assert re.findall(r'data-slo="([^"]+)"', body) == ORDER
    assert [row.state for row in page.context["rows"]] == ["exhausted", "at_risk", "ok", "no_data"]
    availability = page.context["rows"][1]
    assert (availability.attainment, availability.remaining, availability.burn_1h) == ("99.452", "45.2", "10.00")
    assert availability.alert_level == "page" and availability.objective == "99"
    assert "99.452 %" in body and "45.2 %" in body and "10.00×" in body
    assert 'data-alert="page"' in body and "Budget exhausted" in body and "No data" in body
    assert "claims-triage" in body and body.count("Whole service") == 3
    assert "1,999 / 2,010" in body  # good / total of the window so far
    latency = page.context["rows"][0]
    assert (latency.attainment, latency.remaining) == ("40.000", "-1100.0")
    assert latency.bar_width == "0.0"  # an overspent budget draws an empty bar, the text says how far over
    for button in ("New SLO", "Export OpenSLO", "Import OpenSLO"):
        assert button in body
    counts = {k: page.context["counts"][k] for k in ("exhausted", "at_risk", "ok", "no_data")}
    assert counts == {"exhausted": 1, "at_risk": 1, "ok": 1, "no_data": 1}


def test_the_list_filters_by_kind_and_state(world, login_as, alpha_manager):
    http = login_as(alpha_manager)
    by_kind = body_of(http.get(URL, {"kind": "latency"}))
    assert re.findall(r'data-slo="([^"]+)"', by_kind) == ["claims-latency"]
    by_state = body_of(http.get(URL, {"state": "ok"}))
    assert re.findall(r'data-slo="([^"]+)"', by_state) == ["answer-quality"]
    nothing = body_of(http.get(URL, {"kind": "latency", "state": "ok"}))
    assert "No SLO matches these filters." in nothing
    ignored = http.get(URL, {"kind": "nonsense", "state": "nonsense"})
    assert len(ignored.context["rows"]) == 4  # unknown values are no filter


def test_retired_slos_show_only_when_asked(world, login_as, alpha_manager):
    with schema_context(world["schema"]):
        services.slo_save(slo=SLO.objects.get(name="answer-quality"), active=False)
    http = login_as(alpha_manager)
    assert "answer-quality" not in re.findall(r'data-slo="([^"]+)"', body_of(http.get(URL)))
    assert "answer-quality" in re.findall(r'data-slo="([^"]+)"', body_of(http.get(URL, {"retired": "1"})))


def test_the_list_runs_the_same_queries_for_two_and_eight_slos(alpha, clock, login_as, alpha_manager):
    from apps.inventory.models import Agent

    def add(count: int, start: int) -> None:
        with schema_context(alpha.schema_name):
            slos = []
            for i in range(start, start + count):
                agent = Agent.objects.create(name=f"agent-{i}", kind="agent")
                slo = services.slo_save(name=f"slo-{i}", sli_kind="availability", objective="0.99", asset_id=agent.pk)
                slos.append(slo)
            ingest([{"slo": s.name, "at": at(20, 11), "good": 99, "total": 100} for s in slos])
            evaluation.statuses_refresh(slos, now=NOW, tz=PARIS)

    http = login_as(alpha_manager)
    add(2, 0)
    http.get(URL)  # warm: session, membership, caches
    with CaptureQueriesContext(connection) as two:
        assert len(http.get(URL).context["rows"]) == 2
    add(6, 2)
    with CaptureQueriesContext(connection) as eight:
        page = http.get(URL)
    assert len(page.context["rows"]) == 8
    assert len(eight.captured_queries) == len(two.captured_queries)
    assert "agent-7" in body_of(page)


def test_an_empty_workspace_says_how_to_start(alpha, clock, login_as, alpha_manager, alpha_executive):
    body = body_of(login_as(alpha_manager).get(URL))
    assert "No service level objective yet." in body
    assert "Add an SLO" in body and "import an OpenSLO file" in body
    assert "/c/alpha/api/v1/slo-measurements/" in body and 'href="/api/docs/' in body
    executive = body_of(login_as(alpha_executive).get(URL))
    assert "No service level objective yet." in executive and "Add an SLO" not in executive


# --- the detail --------------------------------------------------------------------------------------------


def test_the_detail_shows_the_contract_the_live_numbers_and_which_burn_pairs_fired(world, login_as, alpha_manager):
    slo = world["availability"]
    page = login_as(alpha_manager).get(f"{URL}{slo.pk}/")
    assert page.status_code == 200
    body = body_of(page)
    assert 'data-figure="objective">99 %' in body and 'data-figure="attainment">99.452 %' in body
    assert 'data-figure="budget">45.2 %' in body and 'data-figure="burn">10.00×' in body
    assert "1,999 good of 2,010" in body
    assert "Calendar month (Europe/Paris)" in body and "Pushed through the API" in body
    assert "10 % under 99 %" in body  # the credit tier
    pairs = {(p["long"], p["short"]): p for p in page.context["pairs"]}
    assert {key: p["factor"] for key, p in pairs.items()} == {
        ("1h", "5m"): "14.4",
        ("6h", "30m"): "6",
        ("1d", "2h"): "3",
        ("3d", "6h"): "1",
    }
    assert [key for key, p in pairs.items() if p["fired"]] == [("6h", "30m"), ("1d", "2h"), ("3d", "6h")]
    assert pairs[("1h", "5m")]["short_rate"] is None  # nothing in the last 5 minutes: that pair cannot fire
    rates = {lookback["name"]: lookback["rate"] for lookback in page.context["lookbacks"]}
    assert rates == {
        "5m": None,
        "30m": "10.00",
        "1h": "10.00",
        "2h": "10.00",
        "6h": "10.00",
        "1d": "10.00",
        "3d": "10.00",
    }
    # 45.27 % of a 30-day budget at 10× lasts 0.4527 × 43,200 / 10 minutes = 32.6 hours.
    assert page.context["runs_out"] == "about 32 hours"


def test_the_detail_charts_the_daily_sli_and_the_budget_over_the_window(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(f"{URL}{world['availability'].pk}/")
    sli = figure(page, "sli_figure")
    line, objective = sli["data"]
    assert line["x"] == ["2026-11-10", "2026-11-20"]
    assert line["y"] == [99.5, 90.0]
    assert objective["y"] == [99.0, 99.0] and objective["name"] == "Objective 99 %"
    remaining = figure(page, "budget_figure")["data"][0]
    assert remaining["y"] == [50.0, pytest.approx(45.273631)]
    body = body_of(page)
    assert 'data-plotly-figure="sli-figure"' in body and 'data-plotly-figure="budget-figure"' in body
    assert "vendor/plotly.min.js" in body


def test_the_detail_lists_closed_periods_and_the_breach_with_its_credit(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(f"{URL}{world['availability'].pk}/")
    body = body_of(page)
    period = page.context["periods"][0]
    assert period["period"].label == "2026-10" and period["period"].revision == 2
    assert period["attainment"] == "97.500"  # 1950 / 2000 after the late measurement
    assert "recomputed after late data" in body and "Missed" in body
    breach = page.context["breaches"][0]
    assert breach["attainment"] == "95.000"  # the breach keeps what was recorded when the window closed
    assert breach["consumed"] == "500.0" and breach["objective"] == "99"
    assert "1,000.00 EUR" in body and f'href="/c/alpha/incidents/{world["incident"].pk}/"' in body
    assert "Retire" in body and ">Delete<" not in body  # an SLO with a breach can only be retired


def test_a_latency_slo_shows_its_percentiles(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(f"{URL}{world['latency'].pk}/")
    assert page.context["percentiles"] == {
        "samples": 20,
        "source": "samples",
        "p50": Decimal("1050.0"),
        "p95": Decimal("1905.0"),
        "p99": Decimal("1981.0"),
    }
    body = body_of(page)
    assert 'data-percentile="p95">1905.0' in body
    assert "good when it answers within 800 ms" in body and "Budget exhausted" in body


def test_a_latency_slo_fed_histograms_shows_estimated_percentiles(world, login_as, alpha_manager):
    with schema_context(world["schema"]):
        slo = services.slo_save(
            name="bucketed-latency",
            display_name="Bucketed latency",
            sli_kind="latency",
            objective=Decimal("0.95"),
            threshold=Decimal("800"),
            starts_at=dt.datetime(2026, 11, 1, tzinfo=UTC),
        )
        buckets = [{"le": 200, "count": 60}, {"le": 800, "count": 30}, {"le": 2000, "count": 10}]
        ingest([{"slo": "bucketed-latency", "id": "h1", "at": at(12), "histogram": buckets}])
    page = login_as(alpha_manager).get(f"{URL}{slo.pk}/")
    assert page.context["percentiles"]["source"] == "histogram"
    body = body_of(page)
    assert 'data-percentile="p50">166.7' in body and 'data-percentile="p99">1880.0' in body
    assert "Requests in histograms" in body and "percentiles estimated within the buckets" in body


def test_a_slo_without_data_renders_without_charts(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(f"{URL}{world['hallucination'].pk}/")
    assert page.status_code == 200
    assert page.context["sli_figure"] is None and page.context["budget_figure"] is None
    body = body_of(page)
    assert "No events in this window yet." in body and "No window has closed yet." in body
    assert ">Delete<" in body  # no breach: it may go


# --- the form ----------------------------------------------------------------------------------------------


def slo_post(**changes) -> dict:
    values = {
        "name": "claims-p1-response",
        "display_name": "P1 first response",
        "sli_kind": "availability",
        "objective": "99.9",
        "window_kind": "calendar_month",
        "window_days": "30",
        "budgeting": "occurrences",
        "timeslice_minutes": "1",
        "timeslice_target": "95",
        "source": "pushed",
        "min_events": "1",
        "alerting": "on",
        "active": "on",
        "tier_below_1": "99.5",
        "tier_credit_1": "5",
        "tier_below_2": "99",
        "tier_credit_2": "15",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_the_form_adds_an_slo_with_its_objective_in_percent(alpha, clock, login_as, alpha_manager):
    http = login_as(alpha_manager)
    assert http.get(f"{URL}new/").status_code == 200
    response = http.post(
        f"{URL}new/", slo_post(tier_below_1="99", tier_credit_1="15", tier_below_2="99.5", tier_credit_2="5")
    )
    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        slo = SLO.objects.get(name="claims-p1-response")
        assert slo.objective == Decimal("0.999")
        assert slo.credit_tiers == [{"below": "99.5", "credit_percent": "5"}, {"below": "99", "credit_percent": "15"}]
        assert slo.status.state == "no_data"  # evaluated at once
        assert response["Location"] == f"{URL}{slo.pk}/"


def test_the_edit_form_shows_the_percent_and_saves_changes(world, login_as, alpha_manager):
    slo = world["availability"]
    http = login_as(alpha_manager)
    form = http.get(f"{URL}{slo.pk}/edit/")
    assert form.status_code == 200
    assert form.context["form"].initial["objective"] == Decimal("99")
    assert 'name="tier_below_1" value="99"' in body_of(form)
    response = http.post(
        f"{URL}{slo.pk}/edit/",
        slo_post(
            name="claims-availability",
            objective="99.5",
            tier_below_1="",
            tier_credit_1="",
            tier_below_2="",
            tier_credit_2="",
            asset=str(world["agent"].pk),
        ),
    )
    assert response.status_code == 302
    with schema_context(world["schema"]):
        slo.refresh_from_db()
        assert slo.objective == Decimal("0.995") and slo.credit_tiers == [] and slo.asset_id == world["agent"].pk
        assert slo.status.budget_remaining == Decimal("-0.09452736")  # re-evaluated under the new objective


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"objective": "150"}, "objective", "A percentage over 0 and under 100, e.g. 99.9."),
        ({"sli_kind": "latency"}, "threshold", "Give the latency each event may take, in ms."),
        ({"name": "Not A Slug"}, "name", "Lower-case letters, digits and dashes (RFC 1123)"),
        ({"tier_credit_2": ""}, "tier_credit_2", "Give the credit this tier owes."),
        ({"source": "keel", "keel_source": "budgets"}, "keel_source", "budgets cannot measure a availability SLI."),
    ],
)
def test_the_form_shows_problems_next_to_their_fields_with_400(
    alpha, clock, login_as, alpha_manager, changes, field, message
):
    response = login_as(alpha_manager).post(f"{URL}new/", slo_post(**changes))
    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    assert message.split(" (")[0] in body_of(response)
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()


def test_credit_tier_problems_from_the_service_show_by_the_tiers(alpha, clock, login_as, alpha_manager):
    response = login_as(alpha_manager).post(f"{URL}new/", slo_post(tier_below_1="120"))
    assert response.status_code == 400
    assert response.context["form"].tier_errors == [
        "Tier 1: `below` is an attainment in percent, over 0 and at most 100."
    ]
    assert "Check the credit tiers." in body_of(response)


# --- retire and delete -------------------------------------------------------------------------------------


def test_retire_keeps_the_slo_and_delete_needs_no_breaches(world, login_as, alpha_manager):
    http = login_as(alpha_manager)
    availability, quality = world["availability"], world["quality"]
    assert http.get(f"{URL}{availability.pk}/retire/").status_code == 405
    assert http.post(f"{URL}{availability.pk}/retire/").status_code == 302
    refused = http.post(f"{URL}{availability.pk}/delete/", follow=True)
    assert "This SLO has recorded breaches: retire it instead" in body_of(refused)
    deleted = http.post(f"{URL}{quality.pk}/delete/")
    assert deleted.status_code == 302 and deleted["Location"] == URL
    with schema_context(world["schema"]):
        availability.refresh_from_db()
        assert availability.active is False
        assert not SLO.objects.filter(pk=quality.pk).exists()
    assert "This SLO is retired" in body_of(http.get(f"{URL}{availability.pk}/"))


# --- breaches and credits ----------------------------------------------------------------------------------


def test_the_breach_history_and_the_credits_owed(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(f"{URL}breaches/")
    assert page.status_code == 200
    body = body_of(page)
    assert "2026-10" in body and "Claims API availability" in body
    assert "95.000 %" in body and "500.0 %" in body
    assert f'href="/c/alpha/incidents/{world["incident"].pk}/"' in body
    assert "October 2026" in body and "1,000.00 EUR" in body
    assert page.context["due_totals"] == [("EUR", Decimal("1000.00"))]
    month = page.context["months"][0]
    assert (month["month"], month["total"], month["breaches"]) == (dt.date(2026, 10, 1), Decimal("1000.00"), 1)
    assert 'class="inline settle-form"' in body


def test_the_settle_form_marks_a_credit_issued_or_waived_with_a_reason(world, login_as, alpha_manager):
    http = login_as(alpha_manager)
    with schema_context(world["schema"]):
        credit = ServiceCredit.objects.get()
    url = f"{URL}credits/{credit.pk}/settle/"
    assert http.get(url).status_code == 405
    refused = http.post(url, {"status": "waived", "note": ""}, follow=True)
    assert "Say why the credit is waived" in body_of(refused)
    with schema_context(world["schema"]):
        credit.refresh_from_db()
        assert credit.status == "due"
    done = http.post(url, {"status": "issued", "note": "On invoice INV-2026-11"})
    assert done.status_code == 302 and done["Location"].endswith(f"breaches/#credit-{credit.pk}")
    with schema_context(world["schema"]):
        credit.refresh_from_db()
        assert (credit.status, credit.note, credit.updated_by) == ("issued", "On invoice INV-2026-11", "am@msp.test")
    page = http.get(f"{URL}breaches/")
    assert page.context["due_totals"] == [] and "On invoice INV-2026-11" in body_of(page)


# --- the executive -----------------------------------------------------------------------------------------


def test_an_executive_reads_every_page_without_forms_and_is_refused_changes(world, login_as, alpha_executive):
    http = login_as(alpha_executive)
    slo, credit_id = world["availability"], None
    with schema_context(world["schema"]):
        credit_id = ServiceCredit.objects.get().pk
    for path in ("", f"{slo.pk}/", "breaches/", "calendars/", "drift/", f"drift/{world['agent'].pk}/"):
        page = http.get(URL + path)
        assert page.status_code == 200, path
        body = body_of(page)
        assert not re.search(r'method="post"[^>]*action="/c/alpha/service-levels/', body), path
        assert body.count('method="post"') == 1, path  # signing out only
        for button in ("New SLO", "Import OpenSLO", ">Retire<", "settle-form", ">Edit<", ">Delete<"):
            assert button not in body, (path, button)
    for path in ("new/", f"{slo.pk}/edit/", "calendars/new/", "openslo/import/"):
        assert http.get(URL + path).status_code == 403, path
    for path in (f"{slo.pk}/retire/", f"{slo.pk}/delete/", f"credits/{credit_id}/settle/", "new/"):
        assert http.post(URL + path, {"status": "issued"}).status_code == 403, path
    with schema_context(world["schema"]):
        slo.refresh_from_db()
        assert slo.active and ServiceCredit.objects.get().status == "due"


def test_unknown_ids_are_404(world, login_as, alpha_manager):
    http = login_as(alpha_manager)
    for path in ("999999/", "999999/edit/", "calendars/999999/", "drift/999999/"):
        assert http.get(URL + path).status_code == 404, path
    for path in ("999999/retire/", "999999/delete/", "credits/999999/settle/"):
        assert http.post(URL + path).status_code == 404, path


# --- business calendars ------------------------------------------------------------------------------------


def calendar_post(**changes) -> dict:
    values = {
        "name": "Toronto office hours",
        "time_zone": "America/Toronto",
        **{f"hours_{day}": "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "hours_sat": "",
        "hours_sun": "",
        "holiday_country": "ca",
        "holiday_subdivision": "on",
        "extra_holidays": "2026-12-24\n\n2026-12-31\n",
    }
    values.update(changes)
    return values


def test_a_business_calendar_is_added_listed_and_edited(alpha, clock, login_as, alpha_manager):
    http = login_as(alpha_manager)
    assert http.get(f"{URL}calendars/new/").status_code == 200
    response = http.post(f"{URL}calendars/new/", calendar_post(hours_fri="09:00-12:00, 13:00-16:00"))
    assert response.status_code == 302 and response["Location"] == f"{URL}calendars/"
    with schema_context(alpha.schema_name):
        calendar = BusinessCalendar.objects.get()
    assert calendar.hours["mon"] == [["09:00", "17:00"]]
    assert calendar.hours["fri"] == [["09:00", "12:00"], ["13:00", "16:00"]]
    assert "sat" not in calendar.hours
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("CA", "ON")
    assert calendar.extra_holidays == [dt.date(2026, 12, 24), dt.date(2026, 12, 31)]
    listing = body_of(http.get(f"{URL}calendars/"))
    assert "Toronto office hours" in listing and "09:00-12:00, 13:00-16:00" in listing
    assert "Public holidays of CA-ON" in listing and "24 Dec 2026" in listing
    edit = http.get(f"{URL}calendars/{calendar.pk}/")
    assert 'value="09:00-12:00, 13:00-16:00"' in body_of(edit)
    saved = http.post(f"{URL}calendars/{calendar.pk}/", calendar_post(name="Toronto hours", hours_sat="10:00-14:00"))
    assert saved.status_code == 302
    with schema_context(alpha.schema_name):
        calendar.refresh_from_db()
    assert calendar.name == "Toronto hours" and calendar.hours["sat"] == [["10:00", "14:00"]]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"hours_tue": "9 to 5"}, "hours_tue", "“9 to 5”: write it as 09:00-17:00."),
        ({"hours_wed": "17:00-09:00"}, "hours_wed", "wed[0]: start 17:00 must be before end 09:00"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "An IANA time zone"),
        ({"holiday_country": "ZZ"}, "holiday_country", "An ISO country code the holidays calendar knows"),
        ({"extra_holidays": "24/12/2026"}, "extra_holidays", "'24/12/2026' is not a date (YYYY-MM-DD)."),
    ],
)
def test_calendar_problems_rerender_with_400(alpha, clock, login_as, alpha_manager, changes, field, message):
    response = login_as(alpha_manager).post(f"{URL}calendars/new/", calendar_post(**changes))
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    with schema_context(alpha.schema_name):
        assert not BusinessCalendar.objects.exists()


# --- OpenSLO -----------------------------------------------------------------------------------------------


def upload(text: str | bytes, name: str = "slos.yaml") -> dict:
    content = text.encode() if isinstance(text, str) else text
    return {"file": SimpleUploadedFile(name, content, content_type="application/yaml")}


def test_openslo_export_downloads_the_active_slos_and_imports_them_back(world, login_as, alpha_manager):
    http = login_as(alpha_manager)
    exported = http.get(f"{URL}openslo/export/")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("application/yaml")
    assert exported["Content-Disposition"] == 'attachment; filename="alpha-slos.openslo.yaml"'
    documents = list(yaml.safe_load_all(exported.content.decode()))
    assert sorted(d["metadata"]["name"] for d in documents if d and d.get("kind") == "SLO") == sorted(ORDER)
    assert http.get(f"{URL}openslo/import/").status_code == 200
    imported = http.post(f"{URL}openslo/import/", upload(exported.content), follow=True)
    assert "4 SLOs imported (created or updated by name)" in body_of(imported)
    with schema_context(world["schema"]):
        assert SLO.objects.count() == 4


def test_a_bad_openslo_file_lists_its_problems_and_imports_nothing(alpha, clock, login_as, alpha_manager):
    http = login_as(alpha_manager)
    bad = (
        "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: Bad Name\nspec:\n  budgetingMethod: Occurrences\n"
        "---\nkind: SLO\n  broken: [\n"
    )
    response = http.post(f"{URL}openslo/import/", upload(bad))
    assert response.status_code == 400
    problems = response.context["problems"]
    assert problems and all(p.startswith("document 2") for p in problems)
    assert "not YAML (line" in problems[0]
    body = body_of(response)
    assert "Nothing was imported" in body and "not YAML" in body
    invalid = http.post(
        f"{URL}openslo/import/",
        upload("apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: Bad Name\nspec: {}\n"),
    )
    assert invalid.status_code == 400 and invalid.context["problems"][0].startswith("document 1")
    for payload, message in (
        (upload("x: 1", name="slos.txt"), "Choose a .yaml file"),
        (upload("name: caf\xe9".encode("latin-1")), "The file is not UTF-8 text."),
        (upload(b"#" * (1024 * 1024 + 1)), "The file is larger than 1 MB."),
    ):
        refused = http.post(f"{URL}openslo/import/", payload)
        assert refused.status_code == 400 and message in body_of(refused)
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()


# --- drift -------------------------------------------------------------------------------------------------


def test_the_drift_list_groups_monitors_by_asset_with_their_latest_check(world, login_as, alpha_manager):
    page = login_as(alpha_manager).get(f"{URL}drift/")
    assert page.status_code == 200
    (group,) = page.context["groups"]
    assert group["asset"].pk == world["agent"].pk and group["worst"] == "significant"
    rows = {row["monitor"].feature: row for row in group["rows"]}
    assert rows["claimant_age"]["check"].status == DriftCheck.Status.SIGNIFICANT
    assert rows["channel"]["check"].status == DriftCheck.Status.STABLE
    body = body_of(page)
    assert "Significant drift" in body and "Stable" in body
    assert f"{world['age_check'].psi:.4f}" in body and f"{world['channel_check'].js:.4f}" in body


def test_the_drift_page_of_an_asset_shows_both_distributions(world, login_as, alpha_manager):
    check = world["age_check"]
    assert "sample" not in check.reference  # the stored reference drops the sample …
    page = login_as(alpha_manager).get(f"{URL}drift/{world['agent'].pk}/")
    assert page.status_code == 200
    features = {f["monitor"].feature: f for f in page.context["features"]}
    age = features["claimant_age"]
    # … and compare still works on it: the same shares as the comparison with the full reference.
    with schema_context(world["schema"]):
        full = drift.compare(drift.reference_profile("numeric", {"values": world["ages"]}), check.current)
    assert age["result"].reference_share == full.reference_share
    assert age["result"].current_share == full.current_share
    assert age["result"].psi == check.psi and age["result"].js == check.js
    bars = json.loads(str(age["distribution_figure"]))["data"]
    assert [bar["name"] for bar in bars] == ["Training set 2026-09 (n = 200)", "Current window (n = 200)"]
    assert bars[0]["y"] == [float(s * 100) for s in full.reference_share]
    assert bars[1]["y"] == [float(s * 100) for s in full.current_share]
    assert bars[0]["x"] == full.labels and len(full.labels) == 9  # Sturges: ⌈log2 200⌉ + 1
    psi = json.loads(str(age["psi_figure"]))["data"]
    assert psi[0]["y"] == [float(check.psi)] and psi[2]["y"] == [0.2, 0.2]
    channel = features["channel"]["result"]
    assert channel.labels == ["phone", "web"]
    assert channel.reference_share == [Decimal("0.200000"), Decimal("0.800000")]
    assert channel.current_share == [Decimal("0.210000"), Decimal("0.790000")]
    body = body_of(page)
    assert 'data-plotly-figure="dist-m' in body and 'data-plotly-figure="psi-m' in body
    assert f'data-stat="psi">{check.psi:.4f}' in body
    assert "warning 0.1 · alert 0.2" in body and "categorical: no KS" in body
    assert features["claimant_age"]["ks_pvalue"] == "< 0.0001"  # 200 values a side, kept whole: exact p-value
    # 20…69 against 40…89, 4 of each: the CDFs part by 20 / 50 at 39; the p-value is scipy's on the full samples.
    assert features["claimant_age"]["latest"].ks_statistic == Decimal("0.400000")
    assert check.ks_pvalue == pytest.approx(stats.ks_2samp(world["ages"], world["shifted"]).pvalue)


def test_the_drift_page_of_an_asset_without_monitors_and_of_no_asset(alpha, clock, login_as, alpha_manager):
    from apps.inventory.models import Agent

    with schema_context(alpha.schema_name):
        agent = Agent.objects.create(name="quiet-agent", kind="agent")
    http = login_as(alpha_manager)
    assert "No drift monitor on quiet-agent." in body_of(http.get(f"{URL}drift/{agent.pk}/"))
    assert http.get(f"{URL}drift/{agent.pk + 1000}/").status_code == 404
    assert "No drift monitor yet." in body_of(http.get(f"{URL}drift/"))


def test_the_nav_marks_the_service_level_section(world, alpha, login_as, alpha_manager):
    http = login_as(alpha_manager)
    for path, current in (("", "SLOs"), ("breaches/", "Breaches &amp; credits"), ("drift/", "Drift")):
        body = body_of(http.get(URL + path))
        assert re.search(r'aria-current="page">' + re.escape(current) + "<", body), path
    viewer = login_as(make_user("viewer@alpha.test", role=Role.CLIENT_VIEWER, client=alpha))
    assert "Service levels" in body_of(viewer.get("/c/alpha/"))


def test_periods_fixture_sanity(world):
    """The hand-computed numbers above, straight from the models."""
    with schema_context(world["schema"]):
        period = SloPeriod.objects.get(slo=world["availability"])
        assert (period.good, period.total, period.revision) == (1950, 2000, 2)
        assert ServiceCredit.objects.get().amount == Decimal("1000.00")
