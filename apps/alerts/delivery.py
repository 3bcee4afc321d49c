"""Deliver alert events to channels: email, and webhooks signed with HMAC-SHA256 (generic, Slack, Teams).

Signature header (verify on the receiving side, reject if the timestamp is older than 5 minutes):
    X-Keel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
Each delivery has a unique X-Keel-Delivery id so receivers can drop replays they already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection

from .models import Alert, AlertDelivery, NotificationChannel

SIGNATURE_TOLERANCE_SECONDS = 300
SEVERITY_COLOURS = {"critical": "#b42318", "high": "#c4320a", "medium": "#b54708", "low": "#175cd3", "info": "#475467"}


class DeliveryError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, now: int | None = None) -> bool:
    """What a receiver does; Keel uses it for kill-switch callbacks and tests."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def alert_url(alert: Alert) -> str:
    from apps.tenancy.models import Client

    client = Client.objects.filter(schema_name=connection.schema_name).first()
    base = settings.KEEL_BASE_URL.rstrip("/")
    return f"{base}/c/{client.slug}/alerts/{alert.pk}/" if client else base


def payload_for(channel: NotificationChannel, alert: Alert, event: str) -> dict:
    from apps.tenancy.models import Client

    client = Client.objects.filter(schema_name=connection.schema_name).first()
    client_name = client.name if client else ""
    url = alert_url(alert)
    title = f"[{alert.get_severity_display()}] {client_name}: {alert.subject}"
    if channel.kind == NotificationChannel.Kind.SLACK:
        return {
            "text": title,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{alert.body[:2500]}"}},
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"{event} · {alert.get_state_display()} · <{url}|Open in Keel>"}
                    ],
                },
            ],
        }
    if channel.kind == NotificationChannel.Kind.TEAMS:
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
                            {"type": "TextBlock", "text": alert.body[:2500] or " ", "wrap": True},
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open in Keel", "url": url}],
                    },
                }
            ],
        }
    return {
        "event": f"alert.{event}",
        "client": {"slug": client.slug if client else "", "name": client_name},
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "severity": alert.severity,
            "state": alert.state,
            "subject": alert.subject,
            "body": alert.body,
            "dedup_key": alert.dedup_key,
            "occurrences": alert.occurrences,
            "first_seen_at": alert.first_seen_at.isoformat(),
            "last_seen_at": alert.last_seen_at.isoformat(),
            "url": url,
            "data": alert.data,
        },
    }


def send(delivery: AlertDelivery) -> int | None:
    """Perform one attempt; raise DeliveryError on failure. Returns the HTTP status for webhooks."""
    channel, alert = delivery.channel, delivery.alert
    if channel.kind == NotificationChannel.Kind.EMAIL:
        recipients = [a.strip() for a in channel.target.split(",") if a.strip()]
        subject = f"[Keel {alert.get_severity_display()}] {alert.subject}"
        message = f"{alert.body}\n\nState: {alert.get_state_display()} ({delivery.event})\n{alert_url(alert)}\n"
        try:
            send_mail(subject, message, None, recipients)
        except Exception as exc:  # SMTP errors of every kind
            raise DeliveryError(f"Email could not be sent: {exc}") from exc
        return None

    body = json.dumps(payload_for(channel, alert, delivery.event), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Keel-Webhooks/1.0",
        "X-Keel-Delivery": f"{connection.schema_name}-{delivery.pk}",
        "X-Keel-Event": f"alert.{delivery.event}",
    }
    if channel.signing_secret:
        headers["X-Keel-Signature"] = sign(channel.signing_secret, int(time.time()), body)
    try:
        response = requests.post(
            channel.target,
            data=body,
            headers=headers,
            timeout=settings.KEEL_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise DeliveryError(f"The webhook did not answer within {settings.KEEL_WEBHOOK_TIMEOUT_SECONDS:g} s.") from exc
    except requests.RequestException as exc:
        raise DeliveryError(f"The webhook could not be reached: {exc.__class__.__name__}.") from exc
    if 200 <= response.status_code < 300:
        return response.status_code
    retryable = response.status_code == 429 or response.status_code >= 500
    raise DeliveryError(
        f"The webhook answered HTTP {response.status_code}.", status_code=response.status_code, retryable=retryable
    )
