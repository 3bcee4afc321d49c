"""Scheduled runaway detection: beat runs runaway.scan every minute per client; ingests ask for one sooner."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("runaway.scan", max_retries=0)
def runaway_scan_task() -> dict:
    """One scan of the client's last 10 minutes of usage events (a copy still running makes this one skip)."""
    from .services import runaway_scan

    return runaway_scan().as_dict()
