"""Calling an agent's kill-switch: one signed JSON POST with a short timeout, recorded whatever happens.

Signed like alert webhooks (apps.alerts.delivery.sign) with the client's own secret (RunawaySettings,
encrypted at rest):

    X-Keel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

A 2xx answer means the agent stopped; anything else (other status, redirect, timeout, no connection) is a
failure that is recorded, escalates the incident's alert and never raises into the scan.
The HTTP transport is a `requests.Session`-like object: pass `session`, or replace `session_factory` (tests,
the demo's local stand-in). Nothing here reaches the network unless Keel runs for real.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal

import requests
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.delivery import sign
from apps.audit.services import audit_record

from .models import KillSwitchCall, RunawayIncident
from .services import _actor_label, _client, incident_sync_alert, incident_url, kill_switch_secret, signal_rows

logger = logging.getLogger(__name__)

session_factory = requests.Session
EXCERPT_CHARS = 500
EVENT = "runaway.kill_switch"


def timeout_seconds() -> float:
    return min(float(getattr(django_settings, "KEEL_WEBHOOK_TIMEOUT_SECONDS", 5.0)), 5.0)


def _cents(amount) -> str:
    return str(Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def kill_switch_payload(incident: RunawayIncident, client, *, trigger: str, requested_by: str, now) -> dict:
    return {
        "event": EVENT,
        "action": "stop",
        "sent_at": now.isoformat(),
        "trigger": trigger,
        "requested_by": requested_by,
        "client": {"slug": client.slug if client else connection.schema_name, "name": client.name if client else ""},
        "agent": {"id": incident.agent_id, "name": incident.agent.name if incident.agent else incident.scope_key},
        "incident": {
            "id": incident.pk,
            "url": incident_url(incident, client),
            "scope_kind": incident.scope_kind,
            "scope_key": incident.scope_key,
            "currency": incident.currency,
            "severity": incident.severity,
            "status": incident.status,
            "started_at": incident.started_at.isoformat(),
            "detected_at": incident.detected_at.isoformat(),
            "burned": _cents(incident.burned),
            "rate_per_minute": _cents(incident.rate_per_minute),
            "projected_24h": _cents(incident.projected_24h),
            "signals": [row["name"] for row in signal_rows(incident)],
        },
    }


def kill_switch_call(*, incident: RunawayIncident, trigger: str, now=None, session=None) -> KillSwitchCall:
    """POST the signed stop request to the incident's agent and record the outcome on the incident."""
    now = now or timezone.now()
    agent = incident.agent
    url = agent.kill_switch_url
    client = _client()
    requested_by = "Keel (auto-stop)" if trigger == KillSwitchCall.Trigger.AUTOMATIC else _actor_label()
    payload = kill_switch_payload(incident, client, trigger=trigger, requested_by=requested_by, now=now)
    body = json.dumps(payload, separators=(",", ":")).encode()
    secret = kill_switch_secret()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Keel-KillSwitch/1.0",
        "X-Keel-Event": EVENT,
        "X-Keel-Delivery": f"{connection.schema_name}-ks-{uuid.uuid4().hex[:16]}",
    }
    if secret:
        headers["X-Keel-Signature"] = sign(secret, int(time.time()), body)
    status_code, excerpt, error = None, "", ""
    own = session is None
    http = session_factory() if own else session
    started = time.perf_counter()
    try:
        response = http.post(url, data=body, headers=headers, timeout=timeout_seconds(), allow_redirects=False)
        status_code = response.status_code
        excerpt = (response.text or "")[:EXCERPT_CHARS]
        if not 200 <= status_code < 300:
            error = f"The kill-switch answered HTTP {status_code}."
    except requests.Timeout:
        error = f"The kill-switch did not answer within {timeout_seconds():g} s."
    except requests.RequestException as exc:
        error = f"The kill-switch could not be reached ({exc.__class__.__name__})."
    except Exception as exc:  # a broken transport must not take the scan down
        logger.exception("runaway: kill-switch call to %s raised", url)
        error = f"The kill-switch call failed ({exc.__class__.__name__})."
    finally:
        if own:
            http.close()
    duration_ms = round((time.perf_counter() - started) * 1000)
    outcome = KillSwitchCall.Outcome.FAILED if error else KillSwitchCall.Outcome.STOPPED
    with transaction.atomic():
        call = KillSwitchCall.objects.create(
            incident=incident,
            agent=agent,
            url=url,
            trigger=trigger,
            requested_by=requested_by,
            called_at=now,
            signed=bool(secret),
            status_code=status_code,
            response_excerpt=excerpt,
            error=error,
            duration_ms=duration_ms,
            outcome=outcome,
        )
        if outcome == KillSwitchCall.Outcome.STOPPED and incident.status == RunawayIncident.Status.OPEN:
            incident.status = RunawayIncident.Status.STOPPED
            incident.stopped_at = now
        if outcome == KillSwitchCall.Outcome.FAILED:
            incident.severity = "critical"  # nobody stopped it: the alert must say so, loudly
        incident.save(update_fields=["status", "stopped_at", "severity", "updated_at"])
        audit_record(
            action="runaway.kill_switch",
            target=incident,
            after={
                "url": url,
                "trigger": trigger,
                "outcome": outcome,
                "status_code": status_code,
                "error": error,
                "duration_ms": duration_ms,
            },
        )
    incident_sync_alert(incident)
    return call
