"""The maturity section over assessments made and finalised through apps.assessments' services (the t-small
template of tests/assessments/conftest.py) and a roadmap edited through its services under a moving clock.

    Spring   assessed 15 Apr, final:  mfa none (red flag), keys l4, billing daily     → 45.00
    Autumn   assessed 10 Oct, final:  mfa admins, keys l4, billing daily              → 65.00 (+20.00)
    Draft    assessed 20 Oct (not final); Late: assessed 31 Oct but finalised 1 Nov 00:30 Paris;
    Winter   assessed 2 Nov, final — none of these three counts for October.
Roadmap (t-small dimensions): done 15 Oct; done 30 Sep; open due 20 Oct and 31 Oct (overdue at the month end);
open due 1 Nov … 5 Jan and one undated; dropped; created in November; done on 3 Nov (open at the month end,
due 25 Oct so overdue then); dropped on 3 Nov (open at the month end).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from apps.assessment_templates.models import Question
from apps.assessments.models import Assessment, RoadmapItem
from apps.assessments.services import answer_save, assessment_create, assessment_finalise, roadmap_item_create
from apps.assessments.services import roadmap_item_save as item_save
from apps.core.context import acting_as
from apps.reports.sections import maturity as section
from tests.assessments.conftest import small_doc, store

from .posture_factories import (
    MONTH_ENDS,
    assert_highlights,
    data_queries,
    figures,
    make_period,
    render_both,
    roundtrip,
)

pytestmark = pytest.mark.django_db
LINK = {"url": "https://wiki.alpha.test/key-rotation", "title": "Key rotation runbook"}


def assess(version, qs, *, on, title, mfa="admins", final=True):
    assessment = assessment_create(template_version=version, title=title, assessed_on=on, prefill=False)
    answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key=mfa)
    answer_save(assessment=assessment, question=qs["sec-keys"], choice_key="l4", links=[LINK])
    answer_save(assessment=assessment, question=qs["bill-fresh"], choice_key="daily")
    answer_save(assessment=assessment, question=qs["agt-kill"], is_na=True)
    if final:
        assessment_finalise(assessment=assessment)
    assessment.refresh_from_db()
    return assessment


@pytest.fixture
def maturity(in_alpha):
    version = store(small_doc())
    qs = {q.ref: q for q in Question.objects.filter(version=version)}
    template = version.template
    with acting_as(user_email="am@msp.test", source="portal"), freeze_time("2026-04-20 10:00:00") as clock:
        spring = assess(version, qs, on=dt.date(2026, 4, 15), title="Spring", mfa="none")
        clock.move_to("2026-09-20 10:00:00")

        def item(title, dimension="sec", **fields):
            return roadmap_item_create(template=template, dimension_ref=dimension, title=title, **fields)

        done_oct = item("Enforce MFA everywhere", status="in_progress")
        done_sep = item("Rotate keys", dimension="bill")
        late_a = item("Kill switches", dimension="agt", due_on=dt.date(2026, 10, 20), status="planned")
        late_b = item("Billing tags", dimension="bill", due_on=dt.date(2026, 10, 31))
        upcoming = [
            item(f"Next {n}", due_on=day)
            for n, day in enumerate(
                [dt.date(2026, 11, 1), dt.date(2026, 11, 5), dt.date(2026, 11, 10), dt.date(2026, 12, 1),
                 dt.date(2027, 1, 5), dt.date(2027, 2, 1)]
            )
        ]  # fmt: skip
        undated = item("Someday")
        dropped = item("Abandoned", status="dropped")
        finished_late = item("Finished in November", due_on=dt.date(2026, 10, 25))
        dropped_late = item("Dropped in November")

        clock.move_to("2026-09-30 12:00:00")
        item_save(item=done_sep, status="done")
        clock.move_to("2026-10-10 09:00:00")
        autumn = assess(version, qs, on=dt.date(2026, 10, 10), title="Autumn")
        clock.move_to("2026-10-15 09:00:00")
        item_save(item=done_oct, status="done")
        clock.move_to("2026-10-20 09:00:00")
        draft = assess(version, qs, on=dt.date(2026, 10, 20), title="Draft", final=False)
        clock.move_to(MONTH_ENDS - dt.timedelta(hours=2))
        late = assess(version, qs, on=dt.date(2026, 10, 31), title="Late", mfa="everyone", final=False)
        clock.move_to(MONTH_ENDS + dt.timedelta(minutes=30))  # 1 Nov 00:30 in Paris
        assessment_finalise(assessment=late)
        november = item("Created in November", due_on=dt.date(2026, 11, 2))
        clock.move_to("2026-11-03 09:00:00")
        item_save(item=finished_late, status="done")
        item_save(item=dropped_late, status="dropped")
        winter = assess(version, qs, on=dt.date(2026, 11, 2), title="Winter", mfa="everyone")
        yield {
            "spring": spring,
            "autumn": autumn,
            "draft": draft,
            "late": late,
            "winter": winter,
            "items": {"late_a": late_a, "late_b": late_b, "upcoming": upcoming, "undated": undated,
                      "dropped": dropped, "november": november},
        }  # fmt: skip


def test_the_latest_final_assessment_as_at_the_month_end_and_its_predecessor(maturity):
    data = section.build(make_period())
    autumn, spring = maturity["autumn"], maturity["spring"]
    assert data["assessment_title"] == "Autumn" and data["assessed_on"] == "2026-10-10"
    assert data["score"] == str(Assessment.objects.get(pk=autumn.pk).overall_score) == "65.00"
    assert data["level"] == autumn.results["overall_level"]
    assert (data["previous_title"], data["previous_score"], data["score_delta"]) == ("Spring", "45.00", "20.00")
    assert data["previous_score"] == str(spring.overall_score)
    assert data["assessment_url"] == f"/c/alpha/assessments/{autumn.pk}/"
    assert data["template_name"] == "Template t-small"
    dims = {row["ref"]: row for row in data["dimensions"]}
    assert (dims["sec"]["level"], dims["sec"]["target"], dims["sec"]["gap"]) == ("3.3", "4", "0.7")
    assert (dims["bill"]["level"], dims["bill"]["target"]) == ("4.0", "5")
    assert (dims["agt"]["level"], dims["agt"]["target"]) == (None, "3")  # N/A only: not assessed
    assert data["gap_count"] == 2
    hard = autumn.results["hard_questions"]
    assert (data["hard_questions_satisfied"], data["hard_questions_total"], data["red_flags"]) == (
        hard["satisfied"],
        hard["total"],
        0,
    )
    # The one finalised 30 minutes into November (Paris) is not October's, though it describes 31 October.
    assert Assessment.objects.get(pk=maturity["late"].pk).status == "final"
    assert section.build(make_period(dt.date(2026, 11, 1)))["assessment_title"] == "Winter"


def test_an_earlier_month_shows_the_assessment_final_then(maturity):
    data = section.build(make_period(dt.date(2026, 9, 1)))
    assert (data["assessment_title"], data["score"], data["previous_score"], data["score_delta"]) == (
        "Spring",
        "45.00",
        None,
        None,
    )
    assert data["red_flags"] == 1  # mfa "none" is a red flag


def test_roadmap_progress_at_the_month_end(maturity):
    data = section.build(make_period())
    assert [r["title"] for r in data["roadmap_done_in_month"]] == ["Enforce MFA everywhere"]
    assert data["roadmap_done_in_month"][0]["completed_on"] == "2026-10-15"
    assert data["roadmap_done_in_month_count"] == 1
    # Open then: 2 overdue + 6 upcoming + undated + finished in November + dropped in November.
    assert data["roadmap_open_count"] == 11
    assert [r["title"] for r in data["roadmap_overdue"]] == ["Kill switches", "Finished in November", "Billing tags"]
    assert data["roadmap_overdue_count"] == 3
    assert [r["title"] for r in data["roadmap_next_due"]] == ["Next 0", "Next 1", "Next 2", "Next 3", "Next 4"]
    assert data["roadmap_next_due"][0]["due_on"] == "2026-11-01"
    assert RoadmapItem.objects.filter(status="done", completed_on__month=10).count() == 1


def test_the_dimension_chart_has_current_and_target_bars(maturity):
    [chart] = section.build(make_period())["charts"]
    assert chart["kind"] == "bar" and chart["x"] == ["Dimension sec", "Dimension bill", "Dimension agt"]
    assert chart["series"] == [
        {"name": "Current", "values": ["3.3", "4.0", None]},
        {"name": "Target", "values": ["4", "5", "3"]},
    ]


def test_an_empty_month_is_a_valid_section(in_alpha):
    data = roundtrip(section.build(make_period()))
    assert data["assessment_title"] is None and data["score"] is None and data["charts"] == []
    assert data["roadmap_open_count"] == data["roadmap_overdue_count"] == 0
    assert section.highlights(data, make_period()) == []
    pdf, web = render_both(section.KEY, data, make_period())
    assert pdf.count('class="report-empty"') == 2 and 'class="report-empty"' in web


def test_json_and_a_fixed_number_of_queries(maturity):
    data, queries = data_queries(section.build, make_period())
    roundtrip(data)
    assert len(queries) <= 4, queries


def test_highlight_rules(maturity):
    period = make_period()
    data = section.build(period)
    items = assert_highlights(section.KEY, data, section.highlights(data, period))
    assert figures(items) == ["maturity.score_delta", "maturity.roadmap_overdue_count"]
    assert items[0]["text"] == "The maturity score rose 20.00 points since the previous assessment."
    assert [i["tone"] for i in items] == ["good", "bad"]

    worse = {**data, "score_delta": "-5.00", "red_flags": 2, "roadmap_overdue_count": 0}
    items = assert_highlights(section.KEY, worse, section.highlights(worse, period))
    assert figures(items) == ["maturity.score_delta", "maturity.red_flags", "maturity.roadmap_done_in_month_count"]
    assert [i["tone"] for i in items] == ["bad", "bad", "good"]
    assert "fell 5.00 points" in items[0]["text"]

    first = {**data, "score_delta": None, "roadmap_overdue_count": 0, "roadmap_done_in_month_count": 0}
    [item] = assert_highlights(section.KEY, first, section.highlights(first, period))
    assert item["figure"] == "maturity.score" and item["tone"] == "neutral"


def test_the_template_shows_the_figures(maturity):
    period = make_period()
    data = section.build(period)
    pdf, web = render_both(section.KEY, data, period)
    for html in (pdf, web):
        assert "65.00" in html and "+20.00 pts" in html and "Kill switches" in html and "Next 4" in html
        assert '<th scope="col"' in html and '<th scope="row">' in html and "Dimension sec" in html
    assert "<svg" in pdf and "data-plotly-figure" in web
    assert f'href="/c/alpha/assessments/{maturity["autumn"].pk}/"' in web and "<a " not in pdf
    assert Decimal(data["score"]) > Decimal(data["previous_score"])


def test_in_the_month_still_running_only_what_is_past_due_is_overdue(maturity):
    with freeze_time("2026-10-21 12:00:00"):
        data = section.build(make_period())
    assert [r["title"] for r in data["roadmap_overdue"]] == ["Kill switches"]
    assert data["roadmap_next_due"][0]["title"] == "Billing tags"
