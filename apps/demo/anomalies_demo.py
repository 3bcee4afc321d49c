"""Demo data for apps.anomalies (filled in by the change that builds it)."""


def demo_anomalies(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
