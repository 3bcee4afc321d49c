from django.apps import AppConfig


class TenancyConfig(AppConfig):
    """SHARED (public schema): clients as tenants, their routing slug, provisioning and lifecycle."""

    name = "apps.tenancy"
    label = "tenancy"
    verbose_name = "Clients"
