"""Demo data for apps.recommendations (filled in by the change that builds it)."""


def demo_recommendations(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
