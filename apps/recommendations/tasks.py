"""Scheduled recommendations: `recommendations.refresh` runs daily at 06:10 per client (config/celery.py)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("recommendations.refresh", max_retries=2)
def refresh_task(trigger: str = "schedule", started_by: str = "") -> dict:
    """Run the generators on the last 30 days, keep decisions, measure implemented recommendations."""
    from .services import recommendations_refresh

    result = recommendations_refresh(trigger=trigger, started_by=started_by)
    return {
        "created": len(result.created),
        "updated": len(result.updated),
        "removed": result.removed,
        "errors": result.errors,
    }
