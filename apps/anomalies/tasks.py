"""Scheduled anomaly work: beat runs anomalies.daily_scan at 06:30 UTC in each client's schema."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("anomalies.daily_scan", max_retries=2)
def daily_scan_task() -> dict:
    """Judge the last N closed days (the settings' "days re-scanned") of every scope's Usage spend."""
    from .services import anomalies_scan

    return anomalies_scan().as_dict()
