"""Reads for the runaway pages and API: incident lists with their last kill-switch outcome in one query, one
incident with its calls, and the per-minute series of its scope around the incident."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from .detection import MINUTE, scope_minutes
from .models import KillSwitchCall, RunawayIncident, ScopeKind

STATUS_FILTERS = {
    "active": ("Burning or stopped", Q(status__in=RunawayIncident.ACTIVE)),
    "ended": ("Ended, not resolved", Q(status=RunawayIncident.Status.ENDED)),
    "resolved": ("Resolved", Q(status=RunawayIncident.Status.RESOLVED)),
    "all": ("All", Q()),
}
BEFORE = dt.timedelta(minutes=45)
AFTER = dt.timedelta(minutes=15)
LONGEST = dt.timedelta(hours=26)  # a day and a bit per minute is 1,560 bars: still quick to draw


def incidents_list(*, status: str = "", kind: str = ""):
    last_call = KillSwitchCall.objects.filter(incident=OuterRef("pk")).order_by("-called_at", "-id")
    incidents = RunawayIncident.objects.select_related("agent", "alert").annotate(
        kill_switch_outcome=Subquery(last_call.values("outcome")[:1]),
        kill_switch_at=Subquery(last_call.values("called_at")[:1]),
    )
    if status in STATUS_FILTERS:
        incidents = incidents.filter(STATUS_FILTERS[status][1])
    if kind in ScopeKind.values:
        incidents = incidents.filter(scope_kind=kind)
    return incidents.order_by("-detected_at", "-id")


def incident_get(pk: int) -> RunawayIncident:
    return RunawayIncident.objects.select_related("agent", "alert").prefetch_related("kill_switch_calls").get(pk=pk)


def incidents_summary(*, days: int = 30) -> dict:
    """Active incidents, and the incidents of the last `days` days: count, burned per currency, fastest catch."""
    since = timezone.now() - dt.timedelta(days=days)
    recent = RunawayIncident.objects.filter(detected_at__gte=since)
    burned = list(recent.values("currency").annotate(total=Sum("burned"), count=Count("id")).order_by("currency"))
    delays = [(i.detected_at - i.started_at).total_seconds() for i in recent.only("detected_at", "started_at")[:500]]
    return {
        "active": RunawayIncident.objects.filter(status__in=RunawayIncident.ACTIVE).count(),
        "recent": sum(row["count"] for row in burned),
        "burned": burned,
        "median_delay": sorted(delays)[len(delays) // 2] if delays else None,
        "days": days,
    }


def chart_range(incident: RunawayIncident) -> tuple[dt.datetime, dt.datetime]:
    """From a while before the loop began to a while after it ended (or the latest scan), at most ~a day."""
    start = incident.started_at - BEFORE
    latest = max(incident.last_scan_at, incident.last_seen_at) + MINUTE
    end = incident.ended_at + AFTER if incident.ended_at else latest
    end = min(end, timezone.now() + MINUTE).replace(second=0, microsecond=0)
    if end - start > LONGEST:
        start = end - LONGEST
    return start.replace(second=0, microsecond=0), end


def incident_minutes(incident: RunawayIncident) -> list[dict]:
    """Every minute of the chart range: spend, requests, and whether it was above the incident's pace."""
    start, end = chart_range(incident)
    threshold = incident.threshold_per_minute
    return [
        {"minute": minute, "spend": spend, "requests": requests, "above": spend > threshold}
        for minute, spend, requests in scope_minutes(
            incident.scope_kind, incident.scope_key, incident.currency, start=start, end=end
        )
    ]


def ledger_filters(incident: RunawayIncident) -> dict:
    """The ledger-rows filter for the scope: usage events are booked with agent and api_key tags and x_model."""
    if incident.scope_kind == ScopeKind.AGENT:
        return {"tag": f"agent={incident.scope_key}"}
    if incident.scope_kind == ScopeKind.API_KEY:
        return {"tag": f"api_key={incident.scope_key}"}
    return {"model": incident.scope_key}


def burned_total(rows: list[dict]) -> Decimal:
    return sum((row["spend"] for row in rows), Decimal(0))
