"""Scheduled service-level work, per client schema (beat entry in config/celery.py)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("service_levels.evaluate", max_retries=0)
def evaluate_task() -> dict:
    """Every minute: Keel-computed measurements, live budgets and burn rates, alerts, closed periods."""
    from .evaluation import slos_evaluate

    return slos_evaluate()
