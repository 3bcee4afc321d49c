from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    """SHARED (public schema): per-client rollups written by per-client tasks, read by the MSP console."""

    name = "apps.portfolio"
    label = "portfolio"
    verbose_name = "Portfolio"
