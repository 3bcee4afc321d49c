"""The agent's kill-switch: called once, signed with the client's secret, when auto-stop is on; failures are
recorded, escalate the alert and never break the scan; auto-stop off means no call at all."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from apps.alerts.delivery import verify_signature
from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.runaway.models import KillSwitchCall, RunawayIncident
from apps.runaway.services import incident_stop, runaway_scan, runaway_settings, runaway_settings_save
from tests.runaway.conftest import DAY, KILL_URL, LOOP_START, KillSwitchStandIn, at, ingest, stand_in_session


@pytest.fixture
def loop(in_alpha, agent, events):
    ingest(
        events.history(hour=13)
        + events.per_minute(at(DAY, 13, 0), 30, 2)
        + events.per_minute(LOOP_START, 6, 20, cost="1.13", prompt_hash="c0ffee" * 10)
    )


def scan(moment, session):
    return runaway_scan(now=moment, session=session)


def test_auto_stop_calls_the_kill_switch_once_signed_and_records_it(loop, kill_switch):
    adapter, session = kill_switch
    runaway_settings_save(auto_stop=True)
    result = scan(at(DAY, 13, 13), session)
    assert len(adapter.requests) == 1
    sent = adapter.requests[0]
    assert sent.url == KILL_URL and sent.method == "POST"
    assert adapter.timeouts[0] <= 5
    secret = runaway_settings().kill_switch_secret
    assert verify_signature(secret, sent.headers["X-Keel-Signature"], sent.body)
    assert not verify_signature("another-secret-of-enough-length", sent.headers["X-Keel-Signature"], sent.body)
    assert sent.headers["X-Keel-Event"] == "runaway.kill_switch"
    payload = adapter.payloads[0]
    incident = RunawayIncident.objects.get()
    assert payload["action"] == "stop" and payload["trigger"] == "automatic"
    assert payload["agent"] == {"id": incident.agent_id, "name": "underwriter-7"}
    assert payload["incident"]["id"] == incident.pk
    assert payload["incident"]["burned"] == "22.76"
    assert payload["client"]["slug"] == "alpha"

    call = KillSwitchCall.objects.get()
    assert result.kill_switch_calls == [call.pk]
    assert (call.outcome, call.status_code, call.trigger, call.signed) == ("stopped", 200, "automatic", True)
    assert call.called_at == at(DAY, 13, 13)
    assert call.response_excerpt == '{"status": "stopped"}'
    assert incident.status == RunawayIncident.Status.STOPPED
    assert incident.stopped_at == at(DAY, 13, 13)
    alert = Alert.objects.get(kind="runaway_spend")
    assert "Kill-switch called at" in alert.body and "HTTP 200" in alert.body
    assert AuditEvent.objects.filter(action="runaway.kill_switch", object_id=str(incident.pk)).exists()

    scan(at(DAY, 13, 14), session)  # stopped: not called again
    assert len(adapter.requests) == 1


def test_spend_continuing_after_the_stop_is_reported(loop, kill_switch):
    adapter, session = kill_switch
    runaway_settings_save(auto_stop=True)
    for minute in range(13, 19):
        scan(at(DAY, 13, minute), session)
    incident = RunawayIncident.objects.get()
    assert incident.status == RunawayIncident.Status.STOPPED
    assert "burning_after_stop" in incident.signals
    assert "still above the threshold" in incident.alert.body


@pytest.mark.parametrize(
    ("adapter", "error"),
    [
        (KillSwitchStandIn(status=503, text="upstream down"), "The kill-switch answered HTTP 503."),
        (KillSwitchStandIn(error=requests.ConnectTimeout("slow")), "did not answer within"),
        (KillSwitchStandIn(error=requests.ConnectionError("refused")), "could not be reached (ConnectionError)"),
        (KillSwitchStandIn(error=RuntimeError("bug in a transport")), "failed (RuntimeError)"),
    ],
)
def test_a_failed_call_is_recorded_escalates_the_alert_and_is_retried(loop, adapter, error):
    session = stand_in_session(adapter)
    runaway_settings_save(auto_stop=True)
    scan(at(DAY, 13, 13), session)  # never raises
    call = KillSwitchCall.objects.get()
    assert call.outcome == KillSwitchCall.Outcome.FAILED
    assert error in call.error
    incident = RunawayIncident.objects.get()
    assert incident.status == RunawayIncident.Status.OPEN
    alert = Alert.objects.get(kind="runaway_spend")
    assert alert.severity == "critical"
    assert "KILL-SWITCH CALL FAILED" in alert.body and "Stop the agent by hand" in alert.body
    for minute in (14, 15, 16, 17):
        scan(at(DAY, 13, minute), session)
    assert KillSwitchCall.objects.count() == 3  # three automatic tries, one per scan, then people decide


def test_auto_stop_off_never_calls(loop, kill_switch):
    adapter, session = kill_switch
    assert runaway_settings().auto_stop is False
    for minute in range(13, 17):
        scan(at(DAY, 13, minute), session)
    assert adapter.requests == []
    assert not KillSwitchCall.objects.exists()
    incident = RunawayIncident.objects.get()
    assert incident.status == RunawayIncident.Status.OPEN
    assert "call it from the incident page (auto-stop is off)" in incident.alert.body


def test_manual_stop_calls_even_with_auto_stop_off_and_escalates_a_high_incident(in_alpha, agent, events):
    ingest(events.per_minute(at(DAY, 9, 0), 5, 12, cost="0.001", prompt_hash="ab" * 32))  # a cheap loop: high
    runaway_scan(now=at(DAY, 9, 5))
    incident = RunawayIncident.objects.get()
    assert incident.severity == "high"
    adapter = KillSwitchStandIn(status=500, text="boom")
    call = incident_stop(incident=incident, session=stand_in_session(adapter))
    assert call.trigger == "manual" and call.outcome == "failed"
    incident.refresh_from_db()
    assert incident.severity == "critical"
    alert = Alert.objects.get(pk=incident.alert_id)
    assert alert.severity == "critical"
    assert alert.events.filter(kind="escalated").exists()


def test_manual_stop_needs_an_agent_with_a_kill_switch(in_alpha, agent, events):
    from django.core.exceptions import ValidationError

    agent.kill_switch_url = ""
    agent.save()
    ingest(events.per_minute(at(DAY, 9, 0), 2, 20, cost="1.00"))
    runaway_scan(now=at(DAY, 9, 2))
    incident = RunawayIncident.objects.get()
    with pytest.raises(ValidationError, match="has no kill-switch URL"):
        incident_stop(incident=incident, session=stand_in_session(KillSwitchStandIn()))
    assert "has no kill-switch URL in the inventory" in incident.alert.body
    assert dt.timedelta(0) <= incident.detected_at - incident.started_at <= dt.timedelta(minutes=5)
