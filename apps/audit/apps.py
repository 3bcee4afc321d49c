from django.apps import AppConfig


class AuditConfig(AppConfig):
    """BOTH: an append-only, hash-chained audit log in every client schema, and one for MSP staff actions."""

    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"
