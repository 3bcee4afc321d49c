from django.apps import AppConfig


class CoreConfig(AppConfig):
    """BOTH (public and every client schema): base models, request context, task base, UI helpers."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        # Register every app's tasks in every process (web too), so that tasks sent by name from one app to
        # another run inline in eager mode just as they run on a worker.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("tasks")
