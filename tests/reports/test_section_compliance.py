"""The compliance section over a register built through apps.compliance's services under a moving clock:
readiness at the month end reconciles with ReadinessSnapshot / readiness(), the previous month end, gaps, what
changed (with the month boundary in the client's time zone), the empty month, JSON, highlights, the template.

The story (alpha, Europe/Paris), test frameworks TF-ISO (A.2.2, A.6.2.8) and TF-NIST (GV-1.1, MS-2.4):
    10 Sep   TF-ISO enabled; AI-POL-01 (active) → A.2.2 full; "AI policy" approved, expires 20 Oct;
             "Old DPIA" approved, expires 30 Sep                                     TF-ISO 50.0
    30 Sep   23:30 Paris: "Vendor list" approved (September's)                        snapshot 30 Sep: 50.0
     5 Oct   TF-NIST enabled; AI-LOG-01 (active) → A.6.2.8 partial, MS-2.4 full; "Logging config" approved
    20 Oct   "AI policy" expires → A.2.2 missing evidence
    31 Oct   23:30 Paris: "Monitoring runbook" approved (October's)                   snapshot 31 Oct: TF-ISO 25.0,
                                                                                               TF-NIST 50.0
     1 Nov   00:30 Paris: control AI-NOV-01 added (November's); the report is made at 09:00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from apps.compliance.models import ReadinessSnapshot
from apps.compliance.selectors import client_frameworks, readiness
from apps.compliance.services import control_save, evidence_create, framework_enable, mapping_add
from apps.core.context import acting_as
from apps.reports.sections import compliance as section
from tests.compliance.conftest import ISO_NODES, NIST_NODES, make_framework, urn

from .posture_factories import (
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
OCT_31, SEP_30 = dt.date(2026, 10, 31), dt.date(2026, 9, 30)


def link(title, *, controls=(), effective=dt.date(2026, 9, 1), expires_on=None):
    return evidence_create(
        title=title,
        url=f"https://wiki.alpha.test/{title.lower().replace(' ', '-')}",
        effective_date=effective,
        expires_on=expires_on,
        controls=list(controls),
        approve=True,
    )


@pytest.fixture
def register(in_alpha):
    iso_version = make_framework("tf-iso", ISO_NODES)
    nist_version = make_framework("tf-nist", NIST_NODES)
    with acting_as(user_email="grc@msp.test"), freeze_time("2026-09-10 10:00:00") as clock:
        iso = framework_enable(framework=iso_version.framework, version=iso_version)
        policy = control_save(code="AI-POL-01", name="AI policy", status="active")
        mapping_add(control=policy, urn=urn("tf-iso", "A.2.2"))
        link("AI policy", controls=[policy], expires_on=dt.date(2026, 10, 20))
        link("Old DPIA", controls=[policy], expires_on=SEP_30)

        clock.move_to(MONTH_STARTS - dt.timedelta(minutes=30))  # 30 Sep 23:30 in Paris
        link("Vendor list")

        clock.move_to("2026-10-05 09:00:00")
        nist = framework_enable(framework=nist_version.framework, version=nist_version)
        logging = control_save(code="AI-LOG-01", name="Central AI logging", status="active")
        mapping_add(control=logging, urn=urn("tf-iso", "A.6.2.8"), coverage="partial")
        mapping_add(control=logging, urn=urn("tf-nist", "MS-2.4"))
        link("Logging config", controls=[logging], effective=dt.date(2026, 10, 1))

        clock.move_to(MONTH_ENDS - dt.timedelta(minutes=30))  # 31 Oct 23:30 in Paris
        link("Monitoring runbook", effective=dt.date(2026, 10, 1))

        clock.move_to(MONTH_ENDS + dt.timedelta(minutes=30))  # 1 Nov 00:30 in Paris
        control_save(code="AI-NOV-01", name="November control")

        clock.move_to("2026-11-01 08:00:00")
        yield {"iso": iso, "nist": nist, "clock": clock}


def by_name(data) -> dict:
    return {row["name"]: row for row in data["frameworks"]}


def test_readiness_at_the_month_end_is_the_last_day_s_snapshot(register):
    data = section.build(make_period())
    iso, nist = by_name(data)["TF-ISO"], by_name(data)["TF-NIST"]
    snapshot = ReadinessSnapshot.objects.get(client_framework=register["iso"], day=OCT_31)
    assert iso["readiness_percent"] == str(snapshot.score) == "25.0"
    assert iso["readiness_percent"] == str(readiness(register["iso"], today=OCT_31).score)
    assert (iso["basis"], iso["as_of"]) == ("snapshot", "2026-10-31")
    assert (iso["met"], iso["partial"], iso["gaps"], iso["missing_evidence"], iso["applicable"]) == (0, 1, 1, 1, 2)
    assert iso["previous_percent"] == str(
        ReadinessSnapshot.objects.get(client_framework=register["iso"], day=SEP_30).score
    )
    assert (iso["previous_percent"], iso["previous_as_of"], iso["change_points"]) == ("50.0", "2026-09-30", "-25.0")
    assert iso["top_gaps"] == [
        {
            "ref": "A.2.2",
            "title": "AI policy",
            "status": "missing_evidence",
            "status_label": "Missing evidence",
            "url": iso["top_gaps"][0]["url"],
        }
    ]
    assert iso["url"] == f"/c/alpha/compliance/frameworks/{register['iso'].pk}/"

    assert (nist["readiness_percent"], nist["previous_percent"], nist["change_points"]) == ("50.0", None, None)
    assert nist["enabled_in_month"] is True and iso["enabled_in_month"] is False
    assert [(g["ref"], g["status"]) for g in nist["top_gaps"]] == [("GV-1.1", "no_control")]


def test_without_the_last_day_s_snapshot_the_just_closed_month_reads_live_readiness(register):
    ReadinessSnapshot.objects.filter(day__gte=OCT_31).delete()
    data = section.build(make_period())
    iso = by_name(data)["TF-ISO"]
    live = readiness(register["iso"], today=OCT_31)
    assert iso["readiness_percent"] == str(live.score) == "25.0"
    assert (iso["basis"], iso["as_of"], iso["partial"], iso["gaps"]) == ("live", "2026-10-31", 1, 1)


def test_an_older_month_reads_the_nearest_snapshot_before_its_end_and_only_its_frameworks(register):
    september = section.build(make_period(dt.date(2026, 9, 1)))
    assert [row["name"] for row in september["frameworks"]] == ["TF-ISO"]  # TF-NIST came in October
    assert by_name(september)["TF-ISO"]["readiness_percent"] == "50.0"
    ReadinessSnapshot.objects.filter(day=SEP_30).delete()
    iso = by_name(section.build(make_period(dt.date(2026, 9, 1))))["TF-ISO"]
    snap = ReadinessSnapshot.objects.filter(client_framework=register["iso"], day__lte=SEP_30).latest("day")
    assert (iso["basis"], iso["as_of"], iso["readiness_percent"]) == ("snapshot", snap.day.isoformat(), str(snap.score))


def test_what_changed_uses_the_client_s_calendar_month(register):
    data = section.build(make_period())
    assert [e["title"] for e in data["evidence_approved"]] == ["Logging config", "Monitoring runbook"]
    assert data["evidence_approved"][0]["controls"] == ["AI-LOG-01"]
    assert data["evidence_approved"][1]["approved_on"] == "2026-10-31"  # 22:30 UTC, still October in Paris
    assert [(e["title"], e["expired_on"]) for e in data["evidence_expired"]] == [("AI policy", "2026-10-20")]
    assert [c["code"] for c in data["controls_added"]] == ["AI-LOG-01"]  # AI-NOV-01 is November's
    assert data["frameworks_enabled"] == [{"name": "TF-NIST", "enabled_on": "2026-10-05"}]
    counts = [data[k] for k in ("evidence_approved_count", "evidence_expired_count", "controls_added_count")]
    assert counts + [data["frameworks_enabled_count"]] == [2, 1, 1, 1]

    september = section.build(make_period(dt.date(2026, 9, 1)))
    assert [e["title"] for e in september["evidence_approved"]] == ["AI policy", "Old DPIA", "Vendor list"]
    assert [e["title"] for e in september["evidence_expired"]] == ["Old DPIA"]


def test_the_chart_compares_the_two_month_ends(register):
    [chart] = section.build(make_period())["charts"]
    assert chart["kind"] == "bar" and chart["x"] == ["TF-ISO", "TF-NIST"] and chart["unit"] == "%"
    assert [s["values"] for s in chart["series"]] == [["50.0", None], ["25.0", "50.0"]]
    assert [s["name"] for s in chart["series"]] == ["End of September 2026", "End of October 2026"]


def test_an_empty_month_is_a_valid_section(in_alpha):
    data = roundtrip(section.build(make_period()))
    assert data["frameworks"] == [] and data["charts"] == [] and data["framework_count"] == 0
    assert data["evidence_approved_count"] == data["controls_added_count"] == 0
    assert section.highlights(data, make_period()) == []
    pdf, web = render_both(section.KEY, data, make_period())
    assert pdf.count('class="report-empty"') == 2 and 'class="report-empty"' in web


def test_json_and_a_fixed_number_of_queries(register):
    data, queries = data_queries(section.build, make_period())
    roundtrip(data)
    assert len(queries) <= 16, queries


def test_highlight_rules(register):
    period = make_period()
    data = section.build(period)
    items = assert_highlights(section.KEY, data, section.highlights(data, period))
    assert figures(items) == ["compliance.frameworks.0.change_points", "compliance.evidence_expired_count"]
    assert items[0]["text"] == "Readiness for TF-ISO fell 25.0 points this month." and items[0]["tone"] == "bad"
    assert items[1]["tone"] == "bad"

    # The lowest readiness under half is said when the change sentence did not already name it.
    frameworks = [dict(row) for row in data["frameworks"]]
    frameworks[1]["readiness_percent"] = "40.0"
    low = {**data, "frameworks": frameworks, "evidence_expired_count": 0}
    items = assert_highlights(section.KEY, low, section.highlights(low, period))
    assert figures(items) == [
        "compliance.frameworks.0.change_points",
        "compliance.frameworks.1.readiness_percent",
        "compliance.evidence_approved_count",
    ]
    assert items[2]["tone"] == "good"

    # A rise is good news; a name with digits is not read out (it would be a second figure).
    frameworks = [dict(row) for row in data["frameworks"]]
    frameworks[0].update(change_points="12.5", name="ISO 42001", full_name="ISO/IEC 42001:2023")
    rise = {**data, "frameworks": frameworks, "evidence_expired_count": 0, "evidence_approved_count": 0}
    [item] = assert_highlights(section.KEY, rise, section.highlights(rise, period))
    assert item["text"] == "Readiness for one of your frameworks rose 12.5 points this month."
    assert item["tone"] == "good"

    quiet = {**rise, "frameworks": [{**frameworks[0], "change_points": "0.0", "readiness_percent": "80.0"}]}
    assert section.highlights(quiet, period) == []


def test_the_template_shows_the_figures(register):
    period = make_period()
    data = section.build(period)
    pdf, web = render_both(section.KEY, data, period)
    for html in (pdf, web):
        assert "25.0 %" in html and "-25.0 pts" in html and "from 50.0 %" in html
        assert "A.2.2" in html and "Missing evidence" in html and "Monitoring runbook" in html
        assert '<th scope="col"' in html and '<th scope="row">' in html
    assert "<svg" in pdf and "data-plotly-figure" in web
    assert f'href="/c/alpha/compliance/frameworks/{register["iso"].pk}/"' in web and "<a " not in pdf


def test_frameworks_come_from_the_register(register):
    assert [row["name"] for row in section.build(make_period())["frameworks"]] == [
        cf.framework.short_name for cf in client_frameworks()
    ]
    assert Decimal(section.build(make_period())["frameworks"][1]["readiness_percent"]) == Decimal("50.0")


def test_in_the_month_still_running_evidence_expiring_later_has_not_expired(register):
    register["clock"].move_to("2026-10-10 12:00:00")
    data = section.build(make_period())
    assert data["evidence_expired"] == [] and data["evidence_expired_count"] == 0
