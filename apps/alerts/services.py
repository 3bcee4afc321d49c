"""Raise, update and close alerts. Every capability raises through `alert_raise`; nothing else writes alerts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.services import audit_record, snapshot
from apps.core.context import current_actor

from .models import SEVERITY_RANK, Alert, AlertEvent, Severity

AUDITED_FIELDS = ["kind", "severity", "subject", "dedup_key", "state", "owner_email", "occurrences"]


def _actor_label() -> str:
    actor = current_actor()
    return actor.user_email or (f"API key {actor.api_key_prefix}" if actor.api_key_prefix else "Keel")


def _after_change(alert: Alert, event_kind: str) -> None:
    """Deliver to channels and refresh the MSP console's feed once the change is committed."""
    from config.celery import app

    from .tasks import deliver_alert_task

    schema = connection.schema_name

    def enqueue():
        with schema_context(schema):  # on_commit may run after the caller left the client's schema
            deliver_alert_task.delay(alert.pk, event_kind)
            # By name: the portfolio app reads alerts, alerts must not import it.
            app.signature("portfolio.refresh_client_rollup").delay()

    transaction.on_commit(enqueue)


def alert_raise(
    *,
    kind: str,
    severity: str,
    subject: str,
    dedup_key: str,
    body: str = "",
    link: str = "",
    data: dict | None = None,
) -> Alert:
    """Open an alert, or update the open one for the same condition (dedup_key).

    A repeat bumps the count and last-seen time; a worse severity escalates it (and is delivered again);
    an acknowledged alert stays acknowledged unless it escalates.
    """
    if severity not in SEVERITY_RANK:
        raise ValidationError({"severity": f"Unknown severity {severity!r}."})
    now = timezone.now()
    with transaction.atomic():
        open_alerts = Alert.objects.select_for_update().exclude(state=Alert.State.RESOLVED)
        alert = open_alerts.filter(dedup_key=dedup_key).first()
        if alert is None:
            alert = Alert.objects.create(
                kind=kind,
                severity=severity,
                severity_rank=SEVERITY_RANK[severity],
                subject=subject[:300],
                body=body,
                dedup_key=dedup_key,
                link=link,
                data=data or {},
                first_seen_at=now,
                last_seen_at=now,
            )
            AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.RAISED, at=now, actor=_actor_label(), note=body)
            audit_record(action="alert.raise", target=alert, after=snapshot(alert, AUDITED_FIELDS))
            _after_change(alert, AlertEvent.Kind.RAISED)
            return alert

        escalated = SEVERITY_RANK[severity] < alert.severity_rank
        before = snapshot(alert, AUDITED_FIELDS)  # as stored, before this sighting changes it
        alert.occurrences += 1
        alert.last_seen_at = now
        alert.subject, alert.body, alert.link = subject[:300], body, link or alert.link
        alert.data = data or alert.data
        if escalated:
            alert.severity, alert.severity_rank = severity, SEVERITY_RANK[severity]
            alert.state = Alert.State.OPEN
            AlertEvent.objects.create(
                alert=alert,
                kind=AlertEvent.Kind.ESCALATED,
                at=now,
                actor=_actor_label(),
                note=f"Severity raised to {Severity(severity).label}.",
            )
            audit_record(action="alert.escalate", target=alert, before=before, after=snapshot(alert, AUDITED_FIELDS))
            _after_change(alert, AlertEvent.Kind.ESCALATED)
        alert.save()
    return alert


def _transition(
    alert: Alert, *, to_state: str, allowed_from: set[str], refusal: str, event_kind: str, note: str, action: str
) -> Alert:
    now = timezone.now()
    actor = _actor_label()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)  # judge the stored state, not a stale copy
        if alert.state not in allowed_from:
            raise ValidationError(refusal)
        before = snapshot(alert, AUDITED_FIELDS)
        alert.state = to_state
        if to_state == Alert.State.ACKNOWLEDGED:
            alert.acknowledged_at, alert.acknowledged_by = now, actor
            alert.owner_email = alert.owner_email or current_actor().user_email
        elif to_state == Alert.State.RESOLVED:
            alert.resolved_at, alert.resolved_by = now, actor
        alert.save()
        AlertEvent.objects.create(alert=alert, kind=event_kind, at=now, actor=actor, note=note)
        after = {**snapshot(alert, AUDITED_FIELDS), "note": note}
        audit_record(action=action, target=alert, before=before, after=after)
        _after_change(alert, event_kind)
    return alert


def alert_acknowledge(*, alert: Alert, note: str = "") -> Alert:
    return _transition(
        alert,
        to_state=Alert.State.ACKNOWLEDGED,
        allowed_from={Alert.State.OPEN},
        refusal="Only an open alert can be acknowledged.",
        event_kind=AlertEvent.Kind.ACKNOWLEDGED,
        note=note,
        action="alert.acknowledge",
    )


def alert_resolve(*, alert: Alert, note: str = "") -> Alert:
    return _transition(
        alert,
        to_state=Alert.State.RESOLVED,
        allowed_from={Alert.State.OPEN, Alert.State.ACKNOWLEDGED},
        refusal="This alert is already resolved.",
        event_kind=AlertEvent.Kind.RESOLVED,
        note=note,
        action="alert.resolve",
    )


def alert_resolve_condition(*, dedup_key: str, note: str = "Condition cleared.") -> Alert | None:
    """Close the open alert for a condition that has cleared (called by the detectors themselves)."""
    alert = Alert.objects.filter(dedup_key=dedup_key).exclude(state=Alert.State.RESOLVED).first()
    if alert is None:
        return None
    return alert_resolve(alert=alert, note=note)


def alert_add_note(*, alert: Alert, note: str) -> AlertEvent:
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Write a note first."})
    with transaction.atomic():
        event = AlertEvent.objects.create(
            alert=alert, kind=AlertEvent.Kind.NOTE, at=timezone.now(), actor=_actor_label(), note=note
        )
        audit_record(action="alert.note", target=alert, after={"note": note})
    return event


def alert_assign(*, alert: Alert, owner_email: str) -> Alert:
    with transaction.atomic():
        before = snapshot(alert, AUDITED_FIELDS)
        alert.owner_email = owner_email.strip().lower()
        alert.save(update_fields=["owner_email"])
        AlertEvent.objects.create(
            alert=alert,
            kind=AlertEvent.Kind.ASSIGNED,
            at=timezone.now(),
            actor=_actor_label(),
            note=f"Owner: {alert.owner_email or 'nobody'}",
        )
        audit_record(action="alert.assign", target=alert, before=before, after=snapshot(alert, AUDITED_FIELDS))
    return alert
