"""Scheduled incident work: beat runs incidents.clock_watch every 5 minutes in each client's schema."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("incidents.clock_watch", max_retries=2)
def clock_watch_task() -> dict:
    """Alert before every pending notification deadline of this client (half the window, 2 h before, overdue)
    and remind daily of reports due "as soon as feasible"; submitted and not-required reports stay quiet."""
    from .services import clock_watch

    return clock_watch()
