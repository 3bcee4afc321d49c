"""Demo data for apps.budgets (filled in by the change that builds it)."""


def demo_budgets(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
