"""Demo data for apps.runaway (filled in by the change that builds it)."""


def demo_runaway(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
