from django.apps import AppConfig


class ShadowAiConfig(AppConfig):
    name = "apps.shadow_ai"
    verbose_name = "Shadow AI review"

    def ready(self):
        from . import listeners  # noqa: F401 — registers the after-booking scan
