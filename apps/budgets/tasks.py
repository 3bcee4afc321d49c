"""Scheduled budget work: beat runs budgets.evaluate every 15 minutes in each client's schema."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("budgets.evaluate", max_retries=2)
def evaluate_budgets_task() -> dict:
    """Check every active budget of this client against this month's spend and forecast (and last month's
    while its late bills arrive); each threshold raises its alert once per month."""
    from .services import budgets_evaluate

    return budgets_evaluate()
