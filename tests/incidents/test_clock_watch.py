"""The clock watch: each stage of each pending deadline alerts once (half the window, 2 h before or a quarter of a
short window, overdue), later stages supersede earlier ones, submissions silence them, a moved due time re-arms
them, and "as soon as feasible" reports are reminded once a day."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.alerts.models import Alert
from apps.incidents.models import ObligationAlert
from apps.incidents.services import clock_watch, incident_change, obligation_mark_not_required, obligation_submit
from apps.incidents.tasks import clock_watch_task
from tests.incidents.conftest import NOW, make_incident, obligation

pytestmark = pytest.mark.usefixtures("in_alpha")


def deadline_alerts():
    return Alert.objects.filter(kind="incident_deadline").order_by("id")


def test_each_stage_alerts_once_and_supersedes_the_one_before(clock):
    incident = make_incident(regimes=["gdpr-art33-34"], personal_data=True, owner_email="dpo@alpha.test")
    notify = obligation(incident, "gdpr-art33-34", "authority_notification")
    t0, due = notify.t0_at, notify.due_at  # 72 hours
    assert clock_watch()["alerts_raised"] == 1  # the breach documentation reminder ("without undue delay")
    reminder = deadline_alerts().get()
    assert reminder.dedup_key.endswith(":reminder:2026-12-02") and "breach documentation" in reminder.subject

    clock.move_to(t0 + (due - t0) / 2 - dt.timedelta(minutes=1))
    assert clock_watch()["alerts_raised"] == 1  # only the next day's reminder: half the window is not used yet
    assert not deadline_alerts().filter(dedup_key__startswith=f"incident_deadline:{notify.pk}:").exists()
    clock.move_to(t0 + (due - t0) / 2 + dt.timedelta(minutes=1))
    assert clock_watch()["alerts_raised"] == 1
    half = deadline_alerts().get(dedup_key=f"incident_deadline:{notify.pk}:half")
    assert (half.severity, half.state, half.owner_email) == ("medium", "open", "dpo@alpha.test")
    assert "due in 1 day 11 h" in half.subject and "(09:00 UTC)" in half.subject and "10:00 CET" in half.subject
    assert half.link == f"/incidents/{incident.pk}/#clocks"
    assert clock_watch()["alerts_raised"] == 0  # once

    clock.move_to(due - dt.timedelta(hours=2))
    clock_watch()
    final = deadline_alerts().get(dedup_key=f"incident_deadline:{notify.pk}:final")
    assert final.severity == "high" and "due in 2 h" in final.subject
    half.refresh_from_db()
    assert half.state == "resolved"  # superseded: one open alert per report

    clock.move_to(due + dt.timedelta(minutes=5))
    clock_watch()
    overdue = deadline_alerts().get(dedup_key=f"incident_deadline:{notify.pk}:overdue")
    assert overdue.severity == "critical" and "overdue since" in overdue.subject
    assert clock_watch()["alerts_raised"] == 0

    obligation_submit(obligation=notify, reference="CNIL-7781")
    overdue.refresh_from_db()
    assert overdue.state == "resolved"
    clock.move_to(due + dt.timedelta(days=3))
    clock_watch()
    assert not deadline_alerts().filter(dedup_key__startswith=f"incident_deadline:{notify.pk}:", state="open").exists()
    stages = ObligationAlert.objects.filter(obligation=notify).values_list("stage", "raised_alert")
    assert sorted(stages) == [("final", True), ("half", True), ("overdue", True)]


def test_a_late_start_raises_only_the_stage_reached_and_short_windows_warn_at_a_quarter(clock):
    incident = make_incident(kind="outage", regimes=["dora-art19"], aware_at=NOW - dt.timedelta(hours=3))
    incident = incident_change(incident=incident, classified_major_at=NOW - dt.timedelta(minutes=150))
    initial = obligation(incident, "dora-art19", "initial_notification")  # 4 h window, 1 h 30 left
    assert clock_watch()["alerts_raised"] == 1
    assert list(ObligationAlert.objects.filter(obligation=initial).values_list("stage", "raised_alert")) == [
        ("half", True)
    ]
    clock.move_to(initial.due_at - dt.timedelta(minutes=59))  # inside the last quarter (1 h) of a 4 h window
    clock_watch()
    assert deadline_alerts().get(dedup_key=f"incident_deadline:{initial.pk}:final").severity == "high"

    other = make_incident(kind="outage", regimes=["dora-art19"], aware_at=NOW - dt.timedelta(hours=23))
    other = incident_change(incident=other, classified_major_at=NOW - dt.timedelta(hours=22))
    late = obligation(other, "dora-art19", "initial_notification")
    clock_watch()
    assert list(
        ObligationAlert.objects.filter(obligation=late).order_by("id").values_list("stage", "raised_alert")
    ) == [
        ("half", False),
        ("final", False),
        ("overdue", True),
    ]
    assert deadline_alerts().filter(dedup_key__startswith=f"incident_deadline:{late.pk}:").count() == 1


def test_a_moved_due_time_re_arms_the_stages(clock):
    incident = make_incident(regimes=["nis2-art23"], aware_at=NOW - dt.timedelta(hours=13))
    early = obligation(incident, "nis2-art23", "early_warning")  # 24 h: past half
    clock_watch()
    half = deadline_alerts().get(dedup_key=f"incident_deadline:{early.pk}:half")
    incident_change(incident=incident, aware_at=NOW - dt.timedelta(hours=23))  # awareness was earlier
    half.refresh_from_db()
    assert half.state == "resolved"
    clock_watch()
    final = deadline_alerts().get(dedup_key=f"incident_deadline:{early.pk}:final")
    assert final.state == "open" and "due in 1 h" in final.subject


def test_not_required_reports_and_waiting_clocks_stay_quiet(clock):
    incident = make_incident(
        regimes=["gdpr-art33-34", "dora-art19"], personal_data=True, aware_at=NOW - dt.timedelta(hours=70)
    )
    obligation_mark_not_required(
        obligation=obligation(incident, "gdpr-art33-34", "authority_notification"),
        reason="Unlikely to result in a risk: only pseudonymised ids.",
    )
    obligation_submit(obligation=obligation(incident, "gdpr-art33-34", "breach_documentation"))
    clock.move_to(NOW + dt.timedelta(days=5))
    assert clock_watch() == {"obligations": 0, "alerts_raised": 0}  # DORA waits for a classification
    assert not deadline_alerts().exists()


def test_as_soon_as_feasible_reports_are_reminded_once_a_day_from_9_local(clock):
    incident = make_incident(regimes=["pipeda-s10-1"], personal_data=True, flags=["rrosh"])
    opc = obligation(incident, "pipeda-s10-1", "opc_report")
    assert opc.due_at is None
    clock_watch()
    first = deadline_alerts().get(dedup_key=f"incident_deadline:{opc.pk}:reminder:2026-12-02")
    assert "as soon as feasible" in first.subject
    assert clock_watch()["alerts_raised"] == 0
    clock.move_to(dt.datetime(2026, 12, 3, 7, 30, tzinfo=dt.UTC))  # 08:30 in Paris: not yet
    assert clock_watch()["alerts_raised"] == 0
    clock.move_to(dt.datetime(2026, 12, 3, 8, 5, tzinfo=dt.UTC))  # 09:05 in Paris
    assert clock_watch()["alerts_raised"] == 4  # the OPC report, the individuals, the organisations, the record
    first.refresh_from_db()
    assert first.state == "resolved"
    assert deadline_alerts().filter(state="open").count() == 4


def test_the_task_runs_the_watch_in_the_clients_schema(clock):
    make_incident(regimes=["nis2-art23"], aware_at=NOW - dt.timedelta(hours=13))
    result = clock_watch_task.apply().get()
    assert result["alerts_raised"] == 1
