"""Delivery bookkeeping: one AlertDelivery per (alert event, channel), retried with backoff until it lands."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot, snapshot_stored
from apps.core.tasks import backoff_seconds

from .delivery import DeliveryError, send
from .models import Alert, AlertDelivery, NotificationChannel

MAX_DELIVERY_ATTEMPTS = 6


def deliveries_create_and_send(*, alert_id: int, event: str) -> int:
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return 0
    channels = [c for c in NotificationChannel.objects.filter(is_active=True) if c.wants(alert)]
    sent = 0
    for channel in channels:
        delivery = AlertDelivery.objects.create(alert=alert, channel=channel, event=event)
        sent += delivery_attempt(delivery=delivery)
    return sent


def delivery_attempt(*, delivery: AlertDelivery) -> int:
    """Try once; on failure schedule the next attempt (exponential backoff, jitter) or give up."""
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    try:
        delivery.response_code = send(delivery)
    except DeliveryError as exc:
        delivery.error = str(exc)
        delivery.response_code = exc.status_code
        if exc.retryable and delivery.attempts < MAX_DELIVERY_ATTEMPTS:
            delivery.status = AlertDelivery.Status.RETRYING
            delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(delivery.attempts, base=30))
        else:
            delivery.status = AlertDelivery.Status.FAILED
            delivery.next_attempt_at = None
        delivery.save()
        return 0
    delivery.status = AlertDelivery.Status.SENT
    delivery.error = ""
    delivery.next_attempt_at = None
    delivery.save()
    return 1


def deliveries_retry_due(*, limit: int = 200) -> int:
    due = (
        AlertDelivery.objects.filter(status=AlertDelivery.Status.RETRYING, next_attempt_at__lte=timezone.now())
        .select_related("alert", "channel")
        .order_by("next_attempt_at")[:limit]
    )
    return sum(delivery_attempt(delivery=d) for d in due)


CHANNEL_FIELDS = ["name", "kind", "target", "min_severity", "kinds", "is_active"]


def channel_save(*, channel: NotificationChannel | None = None, **fields) -> NotificationChannel:
    """Create or change a channel. `signing_secret` is write-only: empty keeps the existing one."""
    secret = fields.pop("signing_secret", "")
    with transaction.atomic():
        before = snapshot_stored(channel, CHANNEL_FIELDS)
        channel = channel or NotificationChannel()
        for key, value in fields.items():
            setattr(channel, key, value)
        if secret:
            channel.signing_secret = secret
        channel.full_clean()
        channel.save()
        audit_record(
            action="alert_channel.update" if before else "alert_channel.create",
            target=channel,
            before=before,
            after={**snapshot(channel, CHANNEL_FIELDS), "signing_secret_set": bool(channel.signing_secret)},
        )
    return channel


def channel_delete(*, channel: NotificationChannel) -> None:
    with transaction.atomic():
        audit_record(action="alert_channel.delete", target=channel, before=snapshot(channel, CHANNEL_FIELDS))
        channel.delete()
