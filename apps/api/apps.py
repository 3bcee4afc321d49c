from django.apps import AppConfig


class ApiConfig(AppConfig):
    """Infrastructure: DRF base classes, API-key authentication, scopes, pagination, problem+json errors."""

    name = "apps.api"
    label = "api"
    verbose_name = "REST API"
