from django.apps import AppConfig


class ServiceLevelsConfig(AppConfig):
    name = "apps.service_levels"
    label = "service_levels"
    verbose_name = "Service levels"
