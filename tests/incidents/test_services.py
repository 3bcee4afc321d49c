"""Incidents and their obligations through the services: regimes start clocks, corrections move them, DORA's
reports chain, the timeline only grows, every write is audited, and a runaway incident or an anomaly opens its
AI incident once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from apps.audit.models import AuditEvent
from apps.incidents.models import AIIncident, IncidentEvent, IncidentSettings, Obligation
from apps.incidents.selectors import clock_for, suggest_regimes
from apps.incidents.services import (
    incident_add_note,
    incident_change,
    incident_open_from_anomaly,
    incident_open_from_runaway,
    incident_set_regimes,
    incident_settings_save,
    obligation_mark_not_required,
    obligation_reopen,
    obligation_submit,
)
from tests.incidents.conftest import NOW, make_incident, obligation, utc

pytestmark = pytest.mark.usefixtures("in_alpha", "clock")


def test_an_incident_with_regimes_owes_each_report_with_its_due_time():
    incident = make_incident(regimes=["gdpr-art33-34", "eu-ai-act-art73"], personal_data=True)
    reports = list(Obligation.objects.filter(incident=incident).values_list("regime", "report"))
    assert sorted(reports) == [
        ("eu-ai-act-art73", "serious_incident_report"),
        ("gdpr-art33-34", "authority_notification"),
        ("gdpr-art33-34", "breach_documentation"),  # data subjects only with the high-risk fact
    ]
    gdpr = obligation(incident, "gdpr-art33-34", "authority_notification")
    assert gdpr.t0_at == incident.aware_at and gdpr.due_at == incident.aware_at + dt.timedelta(hours=72)
    started = IncidentEvent.objects.filter(incident=incident, kind="clock_started")
    assert started.count() == 3
    assert "GDPR Art 33/34 notification to the supervisory authority" in started.first().text
    assert AuditEvent.objects.filter(action="incident.create", object_id=str(incident.pk)).exists()
    assert AuditEvent.objects.filter(action="incident.obligation_add").count() == 3


def test_bad_input_is_refused_field_by_field():
    with pytest.raises(ValidationError) as caught:
        make_incident(
            title=" ",
            kind="meteor",
            aware_at=NOW + dt.timedelta(days=1),
            classified_major_at=NOW - dt.timedelta(days=9),
            owner_email="nobody",
            regimes=["gdpr-art99"],
            people_affected=-3,
        )
    errors = caught.value.message_dict
    assert set(errors) >= {"title", "kind", "aware_at", "owner_email", "regimes", "people_affected"}
    assert "future" in errors["aware_at"][0]
    with pytest.raises(ValidationError, match="classified after"):
        make_incident(classified_major_at=NOW - dt.timedelta(days=9))
    with pytest.raises(ValidationError, match="begun after it was detected"):
        make_incident(occurred_at=NOW - dt.timedelta(minutes=30))
    assert not AIIncident.objects.exists()


def test_correcting_awareness_moves_the_clocks_and_says_so():
    incident = make_incident(regimes=["nis2-art23"])
    early = obligation(incident, "nis2-art23", "early_warning")
    assert early.due_at == NOW + dt.timedelta(hours=23)
    incident = incident_change(incident=incident, aware_at=NOW - dt.timedelta(hours=20))
    early.refresh_from_db()
    assert early.due_at == NOW + dt.timedelta(hours=4)
    texts = list(IncidentEvent.objects.filter(incident=incident).values_list("text", flat=True))
    assert any(t.startswith("Awareness corrected from") for t in texts)
    assert any("NIS2 Art 23 early warning: due time moved" in t for t in texts)
    assert AuditEvent.objects.filter(action="incident.obligation_recompute", object_id=str(early.pk)).exists()


def test_dora_reports_chain_from_classification_to_the_final_report():
    incident = make_incident(kind="outage", regimes=["dora-art19"], aware_at=NOW - dt.timedelta(hours=3))
    initial = obligation(incident, "dora-art19", "initial_notification")
    intermediate = obligation(incident, "dora-art19", "intermediate_report")
    final = obligation(incident, "dora-art19", "final_report")
    assert initial.t0_at is None and clock_for(initial).state == "waiting"
    assert intermediate.t0_at is None and final.t0_at is None

    classified = NOW - dt.timedelta(hours=1)
    incident = incident_change(incident=incident, classified_major_at=classified)
    initial.refresh_from_db()
    intermediate.refresh_from_db()
    assert initial.t0_at == classified and initial.due_at == classified + dt.timedelta(hours=4)  # Wednesday
    assert intermediate.t0_at is None and intermediate.due_estimated  # estimated from the initial's due time
    assert intermediate.due_at == initial.due_at + dt.timedelta(hours=72)

    obligation_submit(obligation=initial, submitted_at=NOW - dt.timedelta(minutes=10), reference="CA-1")
    intermediate.refresh_from_db()
    assert intermediate.t0_at == NOW - dt.timedelta(minutes=10) and not intermediate.due_estimated
    assert intermediate.due_at == NOW + dt.timedelta(hours=72) - dt.timedelta(minutes=10)  # Saturday: listed default

    obligation_submit(obligation=intermediate, submitted_at=NOW)
    final.refresh_from_db()
    assert final.t0_at == NOW and final.due_at == utc(2027, 1, 4, 11, 0)  # 2 Jan is a Saturday → Mon 12:00 Paris
    # An updated intermediate report (regular activities recovered): the final report counts from the latest.
    obligation_submit(obligation=obligation(incident, "dora-art19", "intermediate_report"), submitted_at=NOW)
    later = NOW + dt.timedelta(hours=1)
    with pytest.raises(ValidationError, match="future"):
        obligation_submit(obligation=obligation(incident, "dora-art19", "intermediate_report"), submitted_at=later)
    updated = obligation(incident, "dora-art19", "intermediate_report")
    assert updated.submissions == 2
    with pytest.raises(ValidationError, match="no updates"):
        obligation_submit(obligation=obligation(incident, "dora-art19", "initial_notification"))
    sent = IncidentEvent.objects.filter(incident=incident, kind="notification_sent").values_list("text", flat=True)
    assert len(sent) == 3 and "reference CA-1" in sent[0] and "updated and submitted again" in sent[2]


def test_the_weekend_rule_follows_the_settings():
    incident = make_incident(kind="outage", regimes=["dora-art19"], aware_at=NOW - dt.timedelta(hours=3))
    incident = incident_change(incident=incident, classified_major_at=NOW - dt.timedelta(hours=1))
    initial = obligation(incident, "dora-art19", "initial_notification")
    obligation_submit(obligation=initial, submitted_at=NOW)  # intermediate due Saturday 5 Dec 10:00 UTC
    intermediate = obligation(incident, "dora-art19", "intermediate_report")
    assert intermediate.due_at == utc(2026, 12, 5, 10, 0)  # final-only relief by default (Art 5(5) entity)
    incident_settings_save(
        dora_financial_entity=True, dora_weekend_rule="all", nis2_entity=False, bank_holidays=["2026-12-07"]
    )
    intermediate.refresh_from_db()
    assert intermediate.base_due_at == utc(2026, 12, 5, 10, 0)
    assert intermediate.due_at == utc(2026, 12, 8, 11, 0)  # Monday 7 Dec listed as a holiday: Tuesday 12:00 Paris
    with pytest.raises(ValidationError, match="not a date"):
        incident_settings_save(
            dora_financial_entity=True, dora_weekend_rule="all", nis2_entity=False, bank_holidays=["25/12/2026"]
        )
    assert IncidentSettings.objects.get().bank_holidays == [dt.date(2026, 12, 7)]


def test_facts_switch_reports_on_and_off_and_keep_what_people_acted_on():
    incident = make_incident(regimes=["eu-ai-act-art73"])
    assert obligation(
        incident, "eu-ai-act-art73", "serious_incident_report"
    ).due_at == incident.aware_at + dt.timedelta(days=15)
    incident = incident_set_regimes(incident=incident, regimes=["eu-ai-act-art73"], flags=["death"])
    reports = set(Obligation.objects.filter(incident=incident).values_list("report", flat=True))
    assert reports == {"serious_incident_report_death"}  # the untouched 15-day one is gone
    death = obligation(incident, "eu-ai-act-art73", "serious_incident_report_death")
    obligation_submit(obligation=death)
    incident = incident_set_regimes(incident=incident, regimes=[], flags=[])
    assert list(Obligation.objects.filter(incident=incident).values_list("report", "status")) == [
        ("serious_incident_report_death", "submitted")  # history stays
    ]
    assert IncidentEvent.objects.filter(incident=incident, text__contains="no longer applies AI Act Art 73").exists()


def test_not_required_needs_a_reason_and_reopen_brings_it_back():
    incident = make_incident(regimes=["gdpr-art33-34"], personal_data=True)
    notify = obligation(incident, "gdpr-art33-34", "authority_notification")
    with pytest.raises(ValidationError, match="Say why"):
        obligation_mark_not_required(obligation=notify, reason="no")
    obligation_mark_not_required(obligation=notify, reason="Unlikely to result in a risk: the data was encrypted.")
    notify.refresh_from_db()
    assert notify.status == "not_required" and clock_for(notify).state == "not_required"
    with pytest.raises(ValidationError, match="reopen it"):
        obligation_submit(obligation=notify)
    obligation_reopen(obligation=notify, note="The key was on the same laptop.")
    notify.refresh_from_db()
    assert notify.status == "pending" and notify.not_required_reason == ""


def test_an_on_request_report_starts_when_the_authority_asks():
    incident = make_incident(kind="security", regimes=["nis2-art23"])
    asked = obligation(incident, "nis2-art23", "intermediate_report")
    assert asked.status == "not_required" and clock_for(asked).state == "on_request"
    obligation_reopen(obligation=asked, note="The CSIRT asked for a status update.")
    asked.refresh_from_db()
    assert asked.status == "pending" and asked.t0_at == NOW and clock_for(asked).state == "soft"


def test_the_timeline_is_append_only_in_the_model_and_in_the_database():
    incident = make_incident()
    event = incident_add_note(incident=incident, text="Called the provider.")
    event.text = "Never called."
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        IncidentEvent.objects.filter(pk=event.pk).update(text="Never called.")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        IncidentEvent.objects.filter(pk=event.pk).delete()
    assert IncidentEvent.objects.get(pk=event.pk).text == "Called the provider."
    with pytest.raises(ValidationError):
        incident_add_note(incident=incident, text="  ")


# --- opening from a runaway incident or an anomaly --------------------------------------------------------------


@pytest.fixture
def runaway():
    from apps.inventory.models import Agent, AssetKind
    from apps.runaway.models import RunawayIncident

    agent = Agent.objects.create(kind=AssetKind.AGENT, name="underwriter-7", lifecycle="production")
    return RunawayIncident.objects.create(
        scope_kind="agent",
        scope_key="underwriter-7",
        agent=agent,
        currency="USD",
        started_at=NOW - dt.timedelta(hours=5),
        detected_at=NOW - dt.timedelta(hours=5) + dt.timedelta(seconds=40),
        last_seen_at=NOW - dt.timedelta(hours=4, minutes=20),
        last_scan_at=NOW - dt.timedelta(hours=4),
        burned=Decimal("904.000000"),
        peak_per_minute=Decimal("22.600000"),
        requests=3200,
    )


def test_a_runaway_incident_opens_its_ai_incident_once(runaway):
    incident, created = incident_open_from_runaway(runaway)
    assert created
    assert (incident.kind, incident.severity, incident.source_kind, incident.source_id) == (
        "cost_runaway",
        "critical",
        "runaway",
        runaway.pk,
    )
    assert incident.aware_at == runaway.detected_at == incident.detected_at
    assert incident.occurred_at == runaway.started_at
    assert "904.00 USD burned" in incident.description and "32,544.00 USD" in incident.description
    assert [a.name for a in incident.assets.all()] == ["underwriter-7"]
    again, created_again = incident_open_from_runaway(runaway)
    assert (again.pk, created_again) == (incident.pk, False)
    assert AIIncident.objects.count() == 1
    kinds = list(IncidentEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds == ["created", "linked", "linked"]  # the source, then the agent's asset


def test_an_anomaly_opens_its_ai_incident_once():
    from apps.anomalies.models import Anomaly
    from apps.inventory.models import Agent, AssetKind

    agent = Agent.objects.create(kind=AssetKind.AGENT, name="claims-triage", lifecycle="production")
    anomaly = Anomaly.objects.create(
        scope_kind="asset",
        scope_key=str(agent.pk),
        scope_label="claims-triage",
        day=dt.date(2026, 12, 1),
        currency="EUR",
        actual=Decimal("1840"),
        expected=Decimal("310"),
        expected_low=Decimal("250"),
        expected_high=Decimal("370"),
        impact=Decimal("1530"),
        direction="spike",
        score=Decimal("25.5"),
        spread=Decimal("60"),
        typical=Decimal("300"),
        first_detected_at=NOW - dt.timedelta(hours=3),
        last_detected_at=NOW - dt.timedelta(hours=3),
    )
    incident, created = incident_open_from_anomaly(anomaly)
    assert created and incident.kind == "cost_runaway" and incident.severity == "high"
    assert incident.aware_at == anomaly.first_detected_at
    assert "+1,530.00 EUR" in incident.description
    assert list(incident.assets.all()) == [agent.asset_ptr]
    assert incident_open_from_anomaly(anomaly) == (incident, False)


# --- suggestions ------------------------------------------------------------------------------------------------


def test_suggestions_follow_personal_data_residency_settings_and_assets(alpha):
    from apps.inventory.models import Agent, AssetKind

    def ids(**kwargs):
        kwargs.setdefault("frameworks", set())
        return [s.regime.id for s in suggest_regimes(client=alpha, **kwargs)]

    alpha.data_residency_region = "eu"
    assert ids(kind="data_leak", personal_data=True) == ["gdpr-art33-34"]
    alpha.data_residency_region = "ca"
    assert ids(kind="data_leak", personal_data=True) == ["pipeda-s10-1"]
    alpha.data_residency_region = "us"
    assert ids(kind="data_leak", personal_data=True) == []
    lender = IncidentSettings(pk=1, dora_financial_entity=True)
    assert ids(kind="cost_runaway", personal_data=False, settings=lender) == ["dora-art19"]
    assert ids(kind="hallucination_harm", personal_data=False, settings=lender) == []  # not an ICT incident
    high = Agent(kind=AssetKind.AGENT, name="scorer", risk_tier="high")
    assert ids(kind="bias", personal_data=False, assets=[high]) == ["eu-ai-act-art73"]
    assert ids(kind="bias", personal_data=False) == []  # no high-risk asset affected
    enabled = suggest_regimes(kind="other", personal_data=False, client=alpha, frameworks={"nis2"})
    assert [(s.regime.id, "register" in s.reason) for s in enabled] == [("nis2-art23", True)]
    alpha.refresh_from_db()
