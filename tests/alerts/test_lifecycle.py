"""Raising, de-duplicating, escalating, acknowledging and resolving alerts: the service layer, its history
(AlertEvent) and its audit trail (AuditEvent in the client's own schema)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.alerts.models import Alert, AlertEvent
from apps.alerts.services import (
    alert_acknowledge,
    alert_add_note,
    alert_assign,
    alert_resolve,
    alert_resolve_condition,
)
from apps.audit.models import AuditEvent
from apps.core.context import acting_as

from .support import audit_trail, raise_alert

ENGINEER = "eng@msp.test"
MANAGER = "am@msp.test"


def _age(alert: Alert, hours: int = 1) -> Alert:
    """Pretend the alert was first (and last) seen `hours` ago."""
    earlier = timezone.now() - timedelta(hours=hours)
    Alert.objects.filter(pk=alert.pk).update(first_seen_at=earlier, last_seen_at=earlier)
    alert.refresh_from_db()
    return alert


# --- raise and de-duplicate -------------------------------------------------------------------------------


def test_a_new_condition_opens_an_alert_with_a_raised_event_and_an_audit_record(in_alpha):
    with acting_as(user_email=ENGINEER, source="portal"):
        alert = raise_alert(data={"agent": "uw-7"})
    alert.refresh_from_db()
    assert (alert.state, alert.severity, alert.severity_rank, alert.occurrences) == ("open", "high", 1, 1)
    assert alert.first_seen_at == alert.last_seen_at and alert.data == {"agent": "uw-7"}
    [event] = alert.events.all()
    assert (event.kind, event.actor, event.note) == ("raised", ENGINEER, "uw-7 spent 9x its hourly baseline.")
    [record] = audit_trail(alert)
    assert record.action == "alert.raise" and record.actor_email == ENGINEER and record.source == "portal"
    assert record.before is None
    assert record.after["state"] == "open" and record.after["dedup_key"] == "cost:uw-7"


def test_the_same_dedup_key_updates_the_one_open_alert(in_alpha):
    first = _age(raise_alert())
    again = raise_alert(body="Still 9x.", subject="Spend spike on agent uw-7 (again)", link="/inventory/agents/7/")
    third = raise_alert()

    assert again.pk == first.pk == third.pk
    assert Alert.objects.filter(dedup_key="cost:uw-7").count() == 1
    third.refresh_from_db()
    assert third.occurrences == 3
    assert third.first_seen_at == first.first_seen_at  # the first sighting is kept…
    assert third.last_seen_at > first.last_seen_at  # …the last one moves on
    assert third.link == "/inventory/agents/7/"  # a repeat without a link keeps the one it had
    assert list(third.events.values_list("kind", flat=True)) == ["raised"]  # repeats do not flood the history


def test_a_different_dedup_key_is_a_different_alert(in_alpha):
    one = raise_alert(dedup_key="cost:uw-7")
    other = raise_alert(dedup_key="cost:uw-8")
    assert one.pk != other.pk and Alert.objects.exclude(state="resolved").count() == 2


def test_a_repeat_at_a_lower_severity_does_not_downgrade_or_reopen(in_alpha):
    alert = raise_alert(severity="critical")
    alert_acknowledge(alert=alert, note="On it.")
    repeat = raise_alert(severity="low")
    repeat.refresh_from_db()
    assert (repeat.severity, repeat.state, repeat.occurrences) == ("critical", "acknowledged", 2)
    assert not repeat.events.filter(kind=AlertEvent.Kind.ESCALATED).exists()


def test_a_worse_severity_escalates_and_reopens_an_acknowledged_alert(in_alpha):
    alert = raise_alert(severity="medium")
    with acting_as(user_email=ENGINEER):
        alert_acknowledge(alert=alert, note="Watching it.")
    escalated = raise_alert(severity="critical")

    escalated.refresh_from_db()
    assert escalated.pk == alert.pk
    assert (escalated.severity, escalated.severity_rank, escalated.state) == ("critical", 0, "open")
    event = escalated.events.get(kind=AlertEvent.Kind.ESCALATED)
    assert event.note == "Severity raised to Critical."
    record = audit_trail(alert)[-1]
    assert record.action == "alert.escalate"
    # "before" is the alert as it was stored before this sighting, "after" as it is now.
    assert record.before["severity"] == "medium" and record.before["state"] == "acknowledged"
    assert record.before["occurrences"] == 1
    assert record.after["severity"] == "critical" and record.after["state"] == "open"
    assert record.after["occurrences"] == 2


def test_after_resolution_the_same_condition_opens_a_new_alert(in_alpha):
    old = raise_alert()
    alert_resolve(alert=old, note="Agent restarted.")
    new = raise_alert()
    assert new.pk != old.pk
    assert (new.state, new.occurrences) == ("open", 1)
    old.refresh_from_db()
    assert old.state == "resolved"  # the closed one is history, untouched
    assert list(Alert.objects.filter(dedup_key="cost:uw-7").order_by("pk").values_list("state", flat=True)) == [
        "resolved",
        "open",
    ]
    assert list(new.events.values_list("kind", flat=True)) == ["raised"]


def test_an_unknown_severity_is_refused(in_alpha):
    with pytest.raises(ValidationError, match="Unknown severity"):
        raise_alert(severity="apocalyptic")
    assert not Alert.objects.exists()


# --- acknowledge and resolve ------------------------------------------------------------------------------


def test_acknowledge_then_resolve_records_who_when_and_why(in_alpha):
    alert = raise_alert()
    with acting_as(user_email=ENGINEER, source="portal"):
        acknowledged = alert_acknowledge(alert=alert, note="Looking into the token spike.")
    assert acknowledged.state == "acknowledged"
    assert acknowledged.acknowledged_by == ENGINEER and acknowledged.acknowledged_at is not None
    assert acknowledged.owner_email == ENGINEER  # whoever acknowledges owns it unless someone already does

    with acting_as(user_email=MANAGER, source="portal"):
        resolved = alert_resolve(alert=acknowledged, note="Rate limit added to the agent.")
    assert resolved.state == "resolved" and resolved.resolved_by == MANAGER and resolved.resolved_at is not None
    assert resolved.owner_email == ENGINEER

    history = [(e.kind, e.actor, e.note) for e in resolved.events.all()]
    assert history == [
        ("raised", "Keel", "uw-7 spent 9x its hourly baseline."),
        ("acknowledged", ENGINEER, "Looking into the token spike."),
        ("resolved", MANAGER, "Rate limit added to the agent."),
    ]


def test_an_open_alert_can_be_resolved_directly(in_alpha):
    alert = alert_resolve(alert=raise_alert(), note="False positive.")
    assert alert.state == "resolved" and alert.acknowledged_at is None


def test_acknowledging_twice_is_refused_and_leaves_no_trace(in_alpha):
    alert = raise_alert()
    alert_acknowledge(alert=alert)
    events, records = alert.events.count(), len(audit_trail(alert))
    with pytest.raises(ValidationError, match="Only an open alert can be acknowledged"):
        alert_acknowledge(alert=alert, note="me too")
    assert alert.events.count() == events and len(audit_trail(alert)) == records


def test_resolving_twice_is_refused(in_alpha):
    alert = raise_alert()
    alert_resolve(alert=alert)
    with pytest.raises(ValidationError, match="already resolved"):
        alert_resolve(alert=alert, note="again")
    with pytest.raises(ValidationError, match="Only an open alert"):
        alert_acknowledge(alert=alert)
    assert list(alert.events.values_list("kind", flat=True)) == ["raised", "resolved"]


def test_a_stale_copy_is_judged_by_the_stored_state(in_alpha):
    alert = raise_alert()
    stale = Alert.objects.get(pk=alert.pk)
    alert_resolve(alert=alert)
    assert stale.state == "open"  # the in-memory copy still says open…
    with pytest.raises(ValidationError, match="already resolved"):
        alert_resolve(alert=stale)  # …but the service reads the row under lock


def test_a_cleared_condition_resolves_its_alert(in_alpha):
    alert = raise_alert()
    resolved = alert_resolve_condition(dedup_key="cost:uw-7")
    assert resolved.pk == alert.pk and resolved.state == "resolved"
    assert resolved.events.last().note == "Condition cleared."
    assert alert_resolve_condition(dedup_key="cost:uw-7") is None  # nothing open any more
    assert alert_resolve_condition(dedup_key="never-raised") is None


def test_notes_and_owner_changes_are_history_and_audited(in_alpha):
    alert = raise_alert()
    with pytest.raises(ValidationError, match="Write a note first"):
        alert_add_note(alert=alert, note="   ")
    with acting_as(user_email=ENGINEER):
        alert_add_note(alert=alert, note="  Paged the client's on-call.  ")
        alert_assign(alert=alert, owner_email=" Lee@MSP.test ")
    alert.refresh_from_db()
    assert alert.owner_email == "lee@msp.test"
    assert [(e.kind, e.actor, e.note) for e in alert.events.all()][1:] == [
        ("note", ENGINEER, "Paged the client's on-call."),
        ("assigned", ENGINEER, "Owner: lee@msp.test"),
    ]
    note, assign = audit_trail(alert)[-2:]
    assert note.action == "alert.note" and note.after == {"note": "Paged the client's on-call."}
    assert assign.action == "alert.assign"
    assert assign.before["owner_email"] == "" and assign.after["owner_email"] == "lee@msp.test"


def test_every_change_is_audited_in_the_clients_own_schema(alpha, beta):
    with schema_context("public"):
        public_before = AuditEvent.objects.filter(action__startswith="alert.").count()
    with schema_context(alpha.schema_name):
        with acting_as(user_email=ENGINEER, source="portal", ip="203.0.113.9", request_id="req-1"):
            alert = raise_alert(severity="medium")
            raise_alert(severity="critical")
            alert_acknowledge(alert=alert, note="mine")
            alert_resolve(alert=alert, note="done")
        trail = audit_trail(alert)
        assert [r.action for r in trail] == ["alert.raise", "alert.escalate", "alert.acknowledge", "alert.resolve"]
        assert {(r.actor_email, r.source, r.ip, r.request_id) for r in trail} == {
            (ENGINEER, "portal", "203.0.113.9", "req-1")
        }
        acknowledge, resolve = trail[2], trail[3]
        assert acknowledge.before["state"] == "open" and acknowledge.after["state"] == "acknowledged"
        assert acknowledge.after["note"] == "mine"
        assert resolve.before["state"] == "acknowledged" and resolve.after["state"] == "resolved"
        assert resolve.after["note"] == "done"
        # The records chain to each other like every other audit event.
        assert all(later.prev_hash == earlier.hash for earlier, later in zip(trail, trail[1:], strict=False))
    with schema_context("public"):
        assert AuditEvent.objects.filter(action__startswith="alert.").count() == public_before
    with schema_context(beta.schema_name):
        assert not AuditEvent.objects.filter(action__startswith="alert.").exists()
