from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """TENANT: one Alert model for every kind, its history, delivery channels and the delivery log."""

    name = "apps.alerts"
    label = "alerts"
    verbose_name = "Alerts"
