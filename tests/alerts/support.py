"""Helpers shared by the alert tests (plain functions: call them inside a client's schema)."""

from __future__ import annotations

import json

from apps.alerts.models import Alert, NotificationChannel
from apps.alerts.services import alert_raise
from apps.alerts.services_delivery import channel_save
from apps.audit.models import AuditEvent

HOOK = "https://hooks.example.test/keel"


def raise_alert(**overrides) -> Alert:
    fields = {
        "kind": "cost_anomaly",
        "severity": "high",
        "subject": "Spend spike on agent uw-7",
        "body": "uw-7 spent 9x its hourly baseline.",
        "dedup_key": "cost:uw-7",
    }
    return alert_raise(**{**fields, **overrides})


def add_channel(
    kind: str = "webhook",
    *,
    target: str = HOOK,
    min_severity: str = "high",
    signing_secret: str = "",
    kinds: list[str] | None = None,
    is_active: bool = True,
    name: str = "",
) -> NotificationChannel:
    return channel_save(
        name=name or f"{kind} channel",
        kind=kind,
        target=target,
        min_severity=min_severity,
        kinds=kinds or [],
        is_active=is_active,
        signing_secret=signing_secret,
    )


def audit_trail(target) -> list[AuditEvent]:
    """The audit events about one object, oldest first (in the current schema)."""
    return list(
        AuditEvent.objects.filter(object_type=target._meta.label_lower, object_id=str(target.pk)).order_by("seq")
    )


def request_json(call) -> dict:
    body = call.request.body
    return json.loads(body if isinstance(body, bytes | str) else bytes(body))


def request_bytes(call) -> bytes:
    body = call.request.body
    return body if isinstance(body, bytes) else body.encode()
