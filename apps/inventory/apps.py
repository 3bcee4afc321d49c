from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """TENANT: the client's departments and (next) its AI assets, their relations and guardrail findings."""

    name = "apps.inventory"
    label = "inventory"
    verbose_name = "AI inventory"
