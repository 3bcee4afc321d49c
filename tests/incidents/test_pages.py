"""Incident pages: the register with what is due when, the detail's clocks in the client's zone and UTC, the
forms and actions, read-only roles, the buttons on runaway and anomaly pages, other clients' incidents 404,
and query counts that do not grow with the number of incidents."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.incidents.models import AIIncident, IncidentEvent, IncidentSettings, Obligation
from tests.incidents.conftest import NOW, make_incident, obligation

URL = "/c/alpha/incidents/"
pytestmark = pytest.mark.usefixtures("in_alpha", "clock")


def body(response) -> str:
    return response.content.decode()


def test_the_register_says_what_is_due_when(login_as, alpha_manager):
    make_incident(title="Leaked transcripts", kind="data_leak", regimes=["gdpr-art33-34"], personal_data=True)
    late = make_incident(
        title="Agent outage", kind="outage", regimes=["nis2-art23"], aware_at=NOW - dt.timedelta(hours=25)
    )
    make_incident(title="Old one", status="closed")
    page = login_as(alpha_manager).get(URL)
    assert page.status_code == 200
    html = body(page)
    assert "Leaked transcripts" in html and "Agent outage" in html and "Old one" not in html  # active by default
    assert "overdue by 1 h" in html  # NIS2 early warning, 24 h from awareness 25 h ago
    assert "due in 2 days 23 h" in html  # GDPR, 72 h from an hour ago
    assert "Wed 2 Dec 2026 10:00 CET" in html and "Wed 2 Dec 09:00 UTC" in html  # NIS2 early warning was due then
    deadlines = page.context["deadlines"]
    assert deadlines[0][0].pk == late.pk and deadlines[0][1].state == "overdue"
    assert page.context["overdue"] == 1
    assert re.search(r'data-figure="overdue"[^>]*>1<', html)
    everything = login_as(alpha_manager).get(URL, {"status": "all", "q": "old"})
    assert [i.title for i in everything.context["incidents"]] == ["Old one"]
    by_regime = login_as(alpha_manager).get(URL, {"regime": "nis2-art23", "status": "nonsense"})
    assert [i.title for i in by_regime.context["incidents"]] == ["Agent outage"]


def test_list_queries_do_not_grow_with_incidents(login_as, alpha, alpha_manager, django_assert_max_num_queries):
    client = login_as(alpha_manager)
    make_incident(regimes=["gdpr-art33-34", "nis2-art23"], personal_data=True)
    client.get(URL)
    with django_assert_max_num_queries(40) as one:
        client.get(URL)
    with schema_context(alpha.schema_name):
        from apps.inventory.models import Agent

        agent = Agent.objects.create(kind="agent", name="bot", lifecycle="production")
        for n in range(8):
            make_incident(title=f"Incident {n}", regimes=["gdpr-art33-34", "dora-art19"], assets=[agent])
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(URL)
    assert len(response.context["incidents"]) == 9


def test_the_detail_shows_each_clock_in_the_clients_zone_and_utc(login_as, alpha_manager):
    incident = make_incident(kind="outage", regimes=["dora-art19", "gdpr-art33-34"], personal_data=True)
    page = login_as(alpha_manager).get(f"{URL}{incident.pk}/")
    html = body(page)
    assert page.status_code == 200
    assert "Notification clocks" in html and "Times in Europe/Paris · UTC" in html
    assert "Sat 5 Dec 2026 10:00 CET · 09:00 UTC" in html  # GDPR due, 72 h after awareness
    assert "DORA's initial notification starts when the incident is classified as major" in html
    assert "Record classification" in html and "Record submission" in html
    assert 'data-report="dora-art19:initial_notification"' in html and "starts at classification as major" in html
    states = [c.state for c in page.context["clocks"]]
    assert states.count("waiting") == 3 and "running" in states


def test_a_manager_records_an_incident_with_the_suggested_regimes(login_as, alpha_manager, alpha):
    alpha.data_residency_region = "eu"
    alpha.save(update_fields=["data_residency_region"])
    response = login_as(alpha_manager).post(
        f"{URL}new/",
        {
            "title": "Support bot disclosed another customer's address",
            "kind": "data_leak",
            "severity": "high",
            "status": "open",
            "detected_at": "2026-12-02T09:30",  # Paris time: 08:30 UTC
            "aware_at": "2026-12-02T10:00",
            "personal_data": "on",
            "personal_data_categories": "contact details, order history",
            "people_affected": "2",
            "apply_suggested": "on",
        },
    )
    incident = AIIncident.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/incidents/{incident.pk}/#clocks")
    assert incident.aware_at == dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    assert incident.regimes == ["gdpr-art33-34"]
    assert incident.personal_data_categories == ["contact details", "order history"]
    assert obligation(incident, "gdpr-art33-34", "authority_notification").due_at == dt.datetime(
        2026, 12, 5, 9, 0, tzinfo=dt.UTC
    )


def test_form_errors_are_shown_next_to_the_fields(login_as, alpha_manager):
    response = login_as(alpha_manager).post(
        f"{URL}new/",
        {
            "title": "x",
            "kind": "bias",
            "severity": "high",
            "status": "open",
            "detected_at": "2026-12-02T09:00",
            "aware_at": "2026-12-09T10:00",
        },
    )
    assert response.status_code == 200
    assert "aware_at" in response.context["form"].errors
    assert "That time is in the future." in body(response)
    assert not AIIncident.objects.exists()


def test_recording_a_submission_and_the_other_actions(login_as, alpha_manager):
    incident = make_incident(kind="outage", regimes=["dora-art19"], aware_at=NOW - dt.timedelta(hours=2))
    client = login_as(alpha_manager)
    classify = client.post(f"{URL}{incident.pk}/classify/", {"classified_major_at": "2026-12-02T10:30"})
    assert classify.status_code == 302
    initial = obligation(incident, "dora-art19", "initial_notification")
    assert initial.due_at == NOW + dt.timedelta(hours=3, minutes=30)
    action = f"{URL}{incident.pk}/obligations/{initial.pk}/"
    client.post(f"{action}submit/", {"reference": "ACPR-2211", "submitted_at": ""})
    initial.refresh_from_db()
    assert (initial.status, initial.reference, initial.submitted_by) == ("submitted", "ACPR-2211", "am@msp.test")
    intermediate = obligation(incident, "dora-art19", "intermediate_report")
    assert intermediate.t0_at == NOW
    page = client.get(f"{URL}{incident.pk}/")
    assert "submitted 2 Dec 11:00" in body(page)  # Paris time

    refused = client.post(
        f"{URL}{incident.pk}/obligations/{intermediate.pk}/not-required/", {"reason": "no"}, follow=True
    )
    assert "Say why in a sentence" in body(refused)
    assert obligation(incident, "dora-art19", "intermediate_report").status == "pending"
    assert client.post(f"{URL}{incident.pk}/obligations/{intermediate.pk}/explode/").status_code == 404

    client.post(f"{URL}{incident.pk}/status/", {"status": "contained", "note": "Failover done."})
    client.post(f"{URL}{incident.pk}/note/", {"text": "Provider confirmed the root cause."})
    incident.refresh_from_db()
    assert incident.status == "contained"
    texts = list(IncidentEvent.objects.filter(incident=incident).values_list("kind", "text"))
    assert ("status", "Status changed from open to contained.") in texts
    assert ("note", "Provider confirmed the root cause.") in texts
    assert any(kind == "notification_sent" and "ACPR-2211" in text for kind, text in texts)
    assert AuditEvent.objects.filter(action="incident.obligation_submit").count() == 1


def test_choosing_regimes_on_the_detail_page(login_as, alpha_manager):
    incident = make_incident()
    client = login_as(alpha_manager)
    assert "No clock runs until you choose" in body(client.get(f"{URL}{incident.pk}/"))
    client.post(f"{URL}{incident.pk}/regimes/", {"regimes": ["eu-ai-act-art73"], "flags": ["death"]})
    assert list(Obligation.objects.filter(incident=incident).values_list("report", flat=True)) == [
        "serious_incident_report_death"
    ]
    bad = client.post(f"{URL}{incident.pk}/regimes/", {"regimes": ["made-up"]}, follow=True)
    assert "made-up" in body(bad) or "Select a valid choice" in body(bad)


def test_executives_read_the_register_but_change_nothing(login_as, alpha_executive):
    incident = make_incident(regimes=["gdpr-art33-34"], personal_data=True)
    notify = obligation(incident, "gdpr-art33-34", "authority_notification")
    client = login_as(alpha_executive)
    assert client.get(URL).status_code == 200
    detail = client.get(f"{URL}{incident.pk}/")
    assert detail.status_code == 200 and "due in 2 days 23 h" in body(detail)
    assert "Record submission" not in body(detail) and ">Edit<" not in body(detail)
    assert client.get(f"{URL}new/").status_code == 403
    assert client.post(f"{URL}{incident.pk}/obligations/{notify.pk}/submit/", {}).status_code == 403
    assert client.post(f"{URL}{incident.pk}/note/", {"text": "x"}).status_code == 403
    assert client.get(f"{URL}settings/").status_code == 200
    assert client.post(f"{URL}settings/", {"dora_weekend_rule": "all"}).status_code == 403
    notify.refresh_from_db()
    assert notify.status == "pending"


def test_settings_show_the_guess_then_save_and_recompute(login_as, alpha_manager):
    client = login_as(alpha_manager)
    page = client.get(f"{URL}settings/")
    assert "Not saved yet" in body(page)
    response = client.post(
        f"{URL}settings/",
        {"dora_financial_entity": "on", "dora_weekend_rule": "all", "bank_holidays": "2026-12-24\n2026-12-31"},
    )
    assert response.status_code == 302
    saved = IncidentSettings.objects.get()
    assert saved.dora_financial_entity and saved.bank_holidays == [dt.date(2026, 12, 24), dt.date(2026, 12, 31)]
    bad = client.post(f"{URL}settings/", {"dora_weekend_rule": "all", "bank_holidays": "Christmas"})
    assert bad.status_code == 200 and "is not a date" in body(bad)


def test_the_regimes_page_explains_every_deadline(login_as, alpha_manager):
    page = body(login_as(alpha_manager).get(f"{URL}regimes/"))
    assert "Hours and minutes are elapsed time" in page
    assert "Submission of the initial notification" in page and "keep 24 months" in page
    assert "verify" in page


def test_another_clients_incident_is_not_found(beta, login_as, alpha_manager):
    with schema_context(beta.schema_name):
        theirs = make_incident(title="Beta's incident", regimes=["nis2-art23"])
        early = obligation(theirs, "nis2-art23", "early_warning")
    client = login_as(alpha_manager)
    for suffix in ("", "edit/"):
        assert client.get(f"{URL}{theirs.pk}/{suffix}").status_code == 404
    assert client.post(f"{URL}{theirs.pk}/obligations/{early.pk}/submit/").status_code == 404
    assert client.post(f"{URL}{theirs.pk}/note/", {"text": "x"}).status_code == 404


# --- the buttons on runaway and anomaly pages ------------------------------------------------------------------


@pytest.fixture
def runaway():
    from apps.runaway.models import RunawayIncident

    return RunawayIncident.objects.create(
        scope_kind="api_key",
        scope_key="key_batch",
        currency="USD",
        status="ended",
        started_at=NOW - dt.timedelta(hours=3),
        detected_at=NOW - dt.timedelta(hours=3) + dt.timedelta(seconds=50),
        last_seen_at=NOW - dt.timedelta(hours=2),
        last_scan_at=NOW - dt.timedelta(hours=2),
        burned=Decimal("310.5"),
        peak_per_minute=Decimal("6.2"),
    )


def test_one_click_on_the_runaway_page_opens_the_ai_incident_once(runaway, login_as, alpha_manager):
    client = login_as(alpha_manager)
    page = body(client.get(f"/c/alpha/finops/runaway/{runaway.pk}/"))
    assert f'action="/c/alpha/incidents/from-runaway/{runaway.pk}/"' in page and "Open an AI incident" in page
    first = client.post(f"{URL}from-runaway/{runaway.pk}/")
    incident = AIIncident.objects.get()
    assert first["Location"] == f"{URL}{incident.pk}/"
    assert "310.50 USD burned" in incident.description and incident.kind == "cost_runaway"
    second = client.post(f"{URL}from-runaway/{runaway.pk}/", follow=True)
    assert AIIncident.objects.count() == 1 and "was already open" in body(second)
    page = body(client.get(f"/c/alpha/finops/runaway/{runaway.pk}/"))
    assert f'href="/c/alpha/incidents/{incident.pk}/"' in page and "AI incident AI-" in page
    detail = body(client.get(f"{URL}{incident.pk}/"))
    assert f'href="/c/alpha/finops/runaway/{runaway.pk}/"' in detail
    assert client.post(f"{URL}from-runaway/999999/").status_code == 404


def test_one_click_on_the_anomaly_page_opens_the_ai_incident_once(login_as, alpha_manager, alpha_executive):
    from apps.anomalies.models import Anomaly

    anomaly = Anomaly.objects.create(
        scope_kind="service",
        scope_key="Amazon Bedrock",
        scope_label="Amazon Bedrock",
        day=dt.date(2026, 12, 1),
        currency="EUR",
        actual=Decimal("900"),
        expected=Decimal("200"),
        expected_low=Decimal("150"),
        expected_high=Decimal("250"),
        impact=Decimal("700"),
        direction="spike",
        score=Decimal("14"),
        spread=Decimal("50"),
        typical=Decimal("200"),
        first_detected_at=NOW - dt.timedelta(hours=4),
        last_detected_at=NOW - dt.timedelta(hours=4),
    )
    client = login_as(alpha_manager)
    page = body(client.get(f"/c/alpha/finops/anomalies/{anomaly.pk}/"))
    assert f'action="/c/alpha/incidents/from-anomaly/{anomaly.pk}/"' in page
    client.post(f"{URL}from-anomaly/{anomaly.pk}/")
    client.post(f"{URL}from-anomaly/{anomaly.pk}/")
    incident = AIIncident.objects.get()
    assert (incident.source_kind, incident.source_id) == ("anomaly", anomaly.pk)
    viewer_page = body(login_as(alpha_executive).get(f"/c/alpha/finops/anomalies/{anomaly.pk}/"))
    assert "Open an AI incident" not in viewer_page and f"AI incident {incident.reference}" in viewer_page
    assert login_as(alpha_executive).post(f"{URL}from-anomaly/{anomaly.pk}/").status_code == 403
