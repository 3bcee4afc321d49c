from django_tenants.utils import schema_context

from apps.alerts.models import Alert, NotificationChannel
from apps.alerts.services import alert_acknowledge, alert_raise
from apps.alerts.services_delivery import channel_save
from apps.core.context import acting_as


def demo_alerts(clients) -> None:
    """One delivery channel per client and a few alerts, so the console and feeds are not empty."""
    samples = {
        "acme": [
            ("ingestion", "medium", "AWS Cost Explorer throttled the last sync", "Retried with backoff."),
        ],
        "harbor": [
            ("integration", "low", "Guidewire claims integration answered slowly", "p95 latency 2.4 s for 20 minutes.")
        ],
    }
    for slug, client in clients.items():
        with schema_context(client.schema_name), acting_as(source="command", user_email="demo-loader"):
            if not NotificationChannel.objects.exists():
                channel_save(
                    name="Operations email",
                    kind="email",
                    target=f"ops+{slug}@northwind.example",
                    min_severity="high",
                    kinds=[],
                    is_active=True,
                )
            if Alert.objects.filter(dedup_key__startswith="demo:").exists():
                continue  # guardrail alerts from the demo inventory don't count: they're not these
            for kind, severity, subject, body in samples.get(slug, []):
                alert = alert_raise(
                    kind=kind, severity=severity, subject=subject, body=body, dedup_key=f"demo:{kind}:{slug}"
                )
                if severity == "medium":
                    alert_acknowledge(alert=alert, note="Known provider throttling; watching.")
