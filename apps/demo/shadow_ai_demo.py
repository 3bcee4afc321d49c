"""Demo data for apps.shadow_ai (filled in by the change that builds it)."""


def demo_shadow_ai(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
