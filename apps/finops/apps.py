from django.apps import AppConfig


class FinopsConfig(AppConfig):
    """TENANT: billing sources, ingestion runs, the FOCUS cost ledger and live usage events."""

    name = "apps.finops"
    label = "finops"
    verbose_name = "FinOps"
