"""Demo data for apps.unit_economics (filled in by the change that builds it)."""


def demo_unit_economics(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
