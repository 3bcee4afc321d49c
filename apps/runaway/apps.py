from django.apps import AppConfig


class RunawayConfig(AppConfig):
    name = "apps.runaway"
    verbose_name = "Runaway spend detection"
