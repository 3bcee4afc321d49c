from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "apps.budgets"
    verbose_name = "Budgets and forecasts"

    def ready(self):
        from . import listeners  # noqa: F401 — registers the after-booking evaluation
