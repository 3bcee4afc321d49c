"""Scheduled shadow AI work: the daily scan (beat entry "shadow-ai-scan", 05:50 per client schema)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("shadow_ai.scan", max_retries=2)
def shadow_scan_task(trigger: str = "schedule") -> dict:
    from .services import shadow_scan

    scan = shadow_scan(trigger=trigger)
    return {"found": scan.found, "created": scan.created, "reopened": scan.reopened, "gone": scan.gone}
