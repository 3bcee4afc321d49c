"""Scheduled assessment work, per client schema (beat entry in config/celery.py)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("assessments.roadmap_check", max_retries=2)
def roadmap_check_task() -> dict:
    """Daily: alerts for overdue roadmap items (cleared when done or rescheduled) and the portfolio rollup."""
    from .services import roadmap_check

    return roadmap_check()
