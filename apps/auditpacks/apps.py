from django.apps import AppConfig


class AuditpacksConfig(AppConfig):
    name = "apps.auditpacks"
    verbose_name = "Audit packs"
