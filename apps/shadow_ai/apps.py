from django.apps import AppConfig


class ShadowAiConfig(AppConfig):
    name = "apps.shadow_ai"
    verbose_name = "Shadow AI review"
