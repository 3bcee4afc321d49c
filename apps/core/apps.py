from django.apps import AppConfig


class CoreConfig(AppConfig):
    """BOTH (public and every client schema): base models, request context, task base, UI helpers."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"
