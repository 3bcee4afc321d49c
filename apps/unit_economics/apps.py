from django.apps import AppConfig


class UnitEconomicsConfig(AppConfig):
    name = "apps.unit_economics"
    verbose_name = "Unit economics"
