"""The regimes file and the deadline arithmetic, regime by regime: Friday-evening awareness, DORA's weekend and
bank-holiday rule and its cap, calendar months, and daylight-saving changes in the client's time zone."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml

from apps.incidents.regimes import (
    DEFAULT_PATH,
    Duration,
    RegimeFileError,
    compute_due,
    load_regimes,
    parse_regimes,
)
from tests.incidents.conftest import utc

BERLIN, PARIS, TORONTO = "Europe/Berlin", "Europe/Paris", "America/Toronto"
FRIDAY_EVENING = utc(2026, 12, 4, 17, 0)  # Fri 4 Dec 2026, 18:00 in Paris and Berlin


def report(regime_id: str, report_id: str):
    return load_regimes().get(regime_id).report(report_id)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


# --- the file --------------------------------------------------------------------------------------------------


def test_the_shipped_file_loads_with_every_regime_the_register_needs():
    book = load_regimes()
    assert {r.id for r in book.regimes} == {
        "eu-ai-act-art73",
        "nis2-art23",
        "dora-art19",
        "gdpr-art33-34",
        "pipeda-s10-1",
    }
    for regime in book.regimes:
        assert regime.source_url.startswith("https://") and regime.act and regime.reports
        for r in regime.reports:
            assert r.id and r.name and r.recipient and r.source and r.t0, r.key
    assert report("dora-art19", "initial_notification").cap.deadline == Duration.parse("PT24H")
    assert report("pipeda-s10-1", "breach_record").retention == Duration.parse("P24M")
    assert report("dora-art19", "intermediate_report").repeatable
    assert report("dora-art19", "initial_notification").verify  # the late-classification reading is flagged


def test_the_file_is_what_the_raw_yaml_says(raw):
    book = parse_regimes(raw)
    assert book.version == raw["version"] >= 1
    assert len(book.regimes) == len(raw["regimes"])


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d.update(version=0), "version"),
        (lambda d: d["regimes"].append(copy.deepcopy(d["regimes"][0])), "used twice"),
        (lambda d: d["regimes"][0]["reports"][0].update(deadline="P1X"), r"regimes\[0\]\.reports\[0\]\.deadline"),
        (lambda d: d["regimes"][0]["reports"][0].update(deadline="soon"), "ISO 8601 duration or one of"),
        (lambda d: d["regimes"][0]["reports"][0].update(t0="lunch"), r"\.t0: 'lunch'"),
        (lambda d: d["regimes"][2]["reports"][0].update(t0="report:final_report"), "earlier report"),
        (lambda d: d["regimes"][0]["reports"][1].update(when=["blue_moon"]), "unknown flag 'blue_moon'"),
        (lambda d: d["regimes"][0]["reports"][0].update(retention="P1Y"), "only records"),
        (lambda d: d["regimes"][0]["reports"][0].pop("source"), r"reports\[0\]\.source: required"),
        (lambda d: d["regimes"][2]["reports"][0].update(weekend_rule="never_on_sunday"), "weekend_rule"),
        (lambda d: d["regimes"][0].update(source_url="http://example.com"), "https://"),
        (lambda d: d["regimes"][1]["reports"][3].update(deadline="P1D"), "on_request"),
        (lambda d: d["regimes"][0]["reports"][0].update(repeatable="yes"), "true or false"),
        (lambda d: d["regimes"][0]["reports"][0].update(deadline="P0D"), "zero duration"),
    ],
)
def test_a_broken_file_is_refused_with_the_entry_named(raw, break_it, message):
    break_it(raw)
    with pytest.raises(RegimeFileError, match=message):
        parse_regimes(raw)


def test_durations_parse_iso_8601_and_refuse_the_rest():
    assert Duration.parse("PT72H").elapsed == dt.timedelta(hours=72)
    assert (Duration.parse("P1M").months, Duration.parse("P2W").days) == (1, 14)
    assert Duration.parse("P1DT12H").label() == "1 day 12 hours"
    for bad in ("", "P", "PT", "72h", "P1H", "PT1D"):
        with pytest.raises(ValueError):
            Duration.parse(bad)


# --- EU AI Act Art 73 -------------------------------------------------------------------------------------------


def test_ai_act_counts_calendar_days_from_awareness_with_no_weekend_rule():
    due = compute_due(report("eu-ai-act-art73", "serious_incident_report"), FRIDAY_EVENING, PARIS)
    assert due.due_at == utc(2026, 12, 19, 17, 0)  # Saturday 19 Dec, 18:00 Paris: not moved
    assert not due.shifted
    assert compute_due(report("eu-ai-act-art73", "serious_incident_report_critical"), FRIDAY_EVENING, PARIS).due_at == (
        utc(2026, 12, 6, 17, 0)
    )
    assert compute_due(report("eu-ai-act-art73", "serious_incident_report_death"), FRIDAY_EVENING, PARIS).due_at == (
        utc(2026, 12, 14, 17, 0)
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], "serious_incident_report"),
        (["death"], "serious_incident_report_death"),
        (["widespread_or_critical_infrastructure"], "serious_incident_report_critical"),
        (["death", "widespread_or_critical_infrastructure"], "serious_incident_report_critical"),  # shortest wins
    ],
)
def test_ai_act_alternatives_pick_the_shortest_deadline_that_applies(flags, expected):
    chosen = load_regimes().get("eu-ai-act-art73").applicable_reports(flags)
    assert [r.id for r in chosen] == [expected]


# --- NIS2 Art 23 ------------------------------------------------------------------------------------------------


def test_nis2_early_warning_and_notification_are_elapsed_hours_over_the_weekend():
    assert compute_due(report("nis2-art23", "early_warning"), FRIDAY_EVENING, PARIS).due_at == utc(2026, 12, 5, 17, 0)
    due = compute_due(report("nis2-art23", "incident_notification"), FRIDAY_EVENING, PARIS)
    assert due.due_at == utc(2026, 12, 7, 17, 0) and not due.shifted
    assert compute_due(report("nis2-art23", "final_report"), utc(2026, 12, 7, 12, 0), PARIS).due_at == utc(
        2027, 1, 7, 12, 0
    )


def test_nis2_trust_service_providers_get_24_hours_and_the_on_request_report_has_no_due_time():
    regime = load_regimes().get("nis2-art23")
    ids = [r.id for r in regime.applicable_reports(["trust_service_provider"])]
    assert "incident_notification_tsp" in ids and "incident_notification" not in ids
    intermediate = compute_due(regime.report("intermediate_report"), FRIDAY_EVENING, PARIS)
    assert intermediate.kind == "on_request" and intermediate.due_at is None


# --- DORA Art 19 + RTS 2025/301 ---------------------------------------------------------------------------------


def dora(report_id: str, t0, *, relief=True, holidays=(), cap_t0=None):
    return compute_due(
        report("dora-art19", report_id), t0, BERLIN, cap_t0=cap_t0, holidays=frozenset(holidays), weekend_relief=relief
    )


def test_dora_initial_notification_is_4_hours_from_classification_on_a_working_day():
    due = dora("initial_notification", utc(2026, 12, 4, 18, 30), cap_t0=FRIDAY_EVENING)
    assert due.due_at == utc(2026, 12, 4, 22, 30)  # Friday 23:30 Berlin: a working day, nothing moves
    assert not due.capped and not due.shifted


def test_dora_friday_night_deadline_moves_to_monday_noon_where_the_relief_applies():
    classified = utc(2026, 12, 4, 21, 30)  # Friday 22:30 Berlin, +4 h = Saturday 02:30
    relieved = dora("initial_notification", classified, cap_t0=FRIDAY_EVENING)
    assert relieved.base_due_at == utc(2026, 12, 5, 1, 30)
    assert relieved.due_at == utc(2026, 12, 7, 11, 0) and relieved.shifted  # Monday 12:00 Berlin (CET)
    listed = dora("initial_notification", classified, cap_t0=FRIDAY_EVENING, relief=False)  # Art 5(5) entity
    assert listed.due_at == utc(2026, 12, 5, 1, 30) and not listed.shifted


def test_dora_bank_holidays_count_like_weekends():
    christmas = dt.date(2026, 12, 25)  # a Friday; the 26th and 27th are the weekend
    t0 = utc(2026, 12, 22, 9, 0)
    assert dora("intermediate_report", t0).due_at == utc(2026, 12, 25, 9, 0)  # unknown holiday: not moved
    moved = dora("intermediate_report", t0, holidays=[christmas])
    assert moved.due_at == utc(2026, 12, 28, 11, 0)  # Monday 28 Dec, 12:00 Berlin


def test_dora_initial_is_capped_at_24_hours_from_awareness():
    late_in_the_day = FRIDAY_EVENING + dt.timedelta(hours=22)
    due = dora("initial_notification", late_in_the_day, cap_t0=FRIDAY_EVENING, relief=False)
    assert due.due_at == FRIDAY_EVENING + dt.timedelta(hours=24) and due.capped
    # Classified only after the 24 hours: 4 hours from the classification (our reading, marked verify).
    after = FRIDAY_EVENING + dt.timedelta(hours=30)
    due = dora("initial_notification", after, cap_t0=FRIDAY_EVENING, relief=False)
    assert due.due_at == after + dt.timedelta(hours=4) and not due.capped


def test_dora_final_report_is_a_calendar_month_clamped_to_the_month_end_and_moved_off_sunday():
    due = dora("final_report", utc(2026, 12, 31, 10, 0))  # 31 Dec 11:00 Berlin + 1 month = Sun 31 Jan 2027
    assert due.base_due_at == utc(2027, 1, 31, 10, 0)
    assert due.due_at == utc(2027, 2, 1, 11, 0)  # Monday 1 Feb 12:00 Berlin
    clamped = compute_due(report("nis2-art23", "final_report"), utc(2027, 1, 31, 9, 0), BERLIN)
    assert clamped.due_at == utc(2027, 2, 28, 9, 0)


# --- GDPR and PIPEDA --------------------------------------------------------------------------------------------


def test_gdpr_72_hours_from_a_friday_evening_end_on_monday_evening():
    due = compute_due(report("gdpr-art33-34", "authority_notification"), FRIDAY_EVENING, PARIS)
    assert due.due_at == utc(2026, 12, 7, 17, 0) and not due.shifted  # GDPR has no weekend rule
    people = compute_due(report("gdpr-art33-34", "data_subject_communication"), FRIDAY_EVENING, PARIS)
    assert people.kind == "without_undue_delay" and people.due_at is None


def test_pipeda_has_no_hard_deadline_and_keeps_the_record_24_months():
    determined = utc(2026, 12, 4, 23, 0)  # Friday 18:00 Toronto
    opc = compute_due(report("pipeda-s10-1", "opc_report"), determined, TORONTO)
    assert opc.kind == "as_soon_as_feasible" and opc.due_at is None
    record = compute_due(report("pipeda-s10-1", "breach_record"), determined, TORONTO)
    assert record.due_at is None and record.keep_until == utc(2028, 12, 4, 23, 0)


def test_no_start_event_no_due_time():
    assert compute_due(report("gdpr-art33-34", "authority_notification"), None, PARIS).due_at is None
    with pytest.raises(ValueError, match="aware"):
        compute_due(report("gdpr-art33-34", "authority_notification"), dt.datetime(2026, 12, 4, 17), PARIS)


# --- daylight saving in the client's time zone ------------------------------------------------------------------


def test_hours_are_elapsed_across_a_dst_change():
    aware = utc(2027, 3, 12, 23, 0)  # Friday 18:00 EST; clocks spring forward on Sunday 14 March
    due = compute_due(report("gdpr-art33-34", "authority_notification"), aware, TORONTO)
    assert due.due_at == utc(2027, 3, 15, 23, 0)  # 72 real hours: Monday 19:00 EDT on the wall clock


def test_days_keep_the_wall_clock_across_a_dst_change():
    aware = utc(2027, 3, 5, 23, 0)  # Friday 18:00 EST
    due = compute_due(report("eu-ai-act-art73", "serious_incident_report"), aware, TORONTO)
    assert due.due_at == utc(2027, 3, 20, 22, 0)  # Saturday 18:00 EDT: 15 days less one hour of elapsed time


def test_a_wall_clock_time_that_falls_in_the_dst_gap_or_overlap_resolves_to_the_earlier_instant():
    gap = compute_due(report("eu-ai-act-art73", "serious_incident_report_critical"), utc(2027, 3, 26, 1, 30), BERLIN)
    assert gap.due_at == utc(2027, 3, 28, 0, 30)  # 02:30 on 28 March does not exist in Berlin
    overlap = compute_due(
        report("eu-ai-act-art73", "serious_incident_report_critical"), utc(2026, 10, 23, 0, 30), BERLIN
    )
    assert overlap.due_at == utc(2026, 10, 25, 0, 30)  # 02:30 on 25 October exists twice: the CEST one
