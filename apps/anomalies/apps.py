from django.apps import AppConfig


class AnomaliesConfig(AppConfig):
    name = "apps.anomalies"
    verbose_name = "Cost anomalies"
