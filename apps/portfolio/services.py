"""Write the public-schema rollups from inside one client's schema (called by that client's task)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.selectors import alert_counts, alerts_active_for_rollup
from apps.tenancy.models import Client

from .models import AlertFeedItem, ClientRollup

FEED_ITEMS_PER_CLIENT = 50


def client_rollup_refresh() -> ClientRollup | None:
    """Recompute the current client's rollup row and its alert feed items (replace, never increment)."""
    client = Client.objects.filter(schema_name=connection.schema_name, kind=Client.Kind.CLIENT).first()
    if client is None:
        return None
    counts = alert_counts()
    active = alerts_active_for_rollup(FEED_ITEMS_PER_CLIENT)
    with transaction.atomic():
        rollup, _ = ClientRollup.objects.update_or_create(
            client=client,
            defaults={
                "open_alerts": counts["total"],
                "open_critical": counts.get("critical", 0),
                "open_high": counts.get("high", 0),
                "refreshed_at": timezone.now(),
            },
        )
        AlertFeedItem.objects.filter(client=client).delete()
        AlertFeedItem.objects.bulk_create(
            AlertFeedItem(
                client=client,
                alert_id=a.pk,
                kind=a.kind,
                severity=a.severity,
                severity_rank=a.severity_rank,
                subject=a.subject,
                state=a.state,
                owner_email=a.owner_email,
                last_seen_at=a.last_seen_at,
            )
            for a in active
        )
    return rollup
