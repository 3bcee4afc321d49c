from django.apps import AppConfig


class DemoConfig(AppConfig):
    """No models: loads the demo MSP of PRODUCT.md through the real services (run command, tests, benches)."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data"
