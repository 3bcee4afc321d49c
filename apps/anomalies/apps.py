from django.apps import AppConfig


class AnomaliesConfig(AppConfig):
    name = "apps.anomalies"
    verbose_name = "Cost anomalies"

    def ready(self):
        from . import listeners  # noqa: F401 — registers the after-booking rescan
