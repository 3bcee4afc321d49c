"""Measurements Keel computes from its own data for SLOs whose source is Keel.

- incidents: each AI incident (of the SLO's asset, if it has one) is one event; first response = the first
  timeline entry a person wrote after it was opened, resolution = closed; business minutes on the calendar;
- alerts: each alert is one event; response = acknowledged, resolution = resolved;
- billing_runs: each finished ingestion run is one event, good when it succeeded (integration health);
- budgets: each UTC day of the month is one event per active budget (of the SLO's asset, if it has one),
  good while the month's spend through that day stays within the budget;
- drift_checks: each drift check of the SLO's asset is one event, good while its statistic stays under the
  SLO's threshold (PSI; default 0.2).

Every cycle recomputes the events of the live window and the period before it, so a late status change (an
incident closed, a run retried) flows in; `store_rows` writes only what changed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.cache import cache
from django.db import connection

from . import windows
from .ingest import Row, incident_outcome, store_rows
from .models import SLO, Measurement, SliKind

SLOW_SOURCES_EVERY = dt.timedelta(minutes=15)  # budgets read the ledger: no need to do it every minute
DEFAULT_DRIFT_LIMIT = Decimal("0.2")


def keel_measurements_sync(slos: list[SLO], *, now: dt.datetime) -> int:
    from .evaluation import client_tz

    tz = client_tz()
    rows: list[Row] = []
    for slo in slos:
        if slo.source != SLO.Source.KEEL or not slo.keel_source:
            continue
        if slo.keel_source == SLO.KeelSource.BUDGETS and not _slow_source_due(slo, now):
            continue
        live = windows.live_window(slo.window_kind, slo.window_days, now, tz)
        since = min(
            live.start,
            windows.period_containing(
                slo.window_kind, slo.window_days, slo.starts_at, live.start - dt.timedelta(seconds=1), tz
            ).start,
        )
        since = max(since, slo.starts_at - dt.timedelta(days=31))
        rows.extend(SOURCES[slo.keel_source](slo, since, now))
    if not rows:
        return 0
    inserted, replaced, _, _ = store_rows(rows, now, origin=Measurement.Origin.KEEL)
    return inserted + replaced


def _slow_source_due(slo: SLO, now: dt.datetime) -> bool:
    key = f"slo-sync:{connection.schema_name}:{slo.pk}"
    return cache.add(key, now.isoformat(), timeout=int(SLOW_SOURCES_EVERY.total_seconds()))


def _incident_rows(slo: SLO, since: dt.datetime, now: dt.datetime) -> list[Row]:
    from apps.incidents.models import AIIncident, IncidentEvent

    incidents = AIIncident.objects.filter(detected_at__gte=since, detected_at__lte=now)
    if slo.asset_id:
        incidents = incidents.filter(assets=slo.asset_id)
    if slo.incident_severities:
        incidents = incidents.filter(severity__in=slo.incident_severities)
    incidents = list(incidents.distinct())
    responded: dict[int, dt.datetime] = {}
    if slo.sli_kind == SliKind.INCIDENT_RESPONSE and incidents:
        people = (
            IncidentEvent.objects.filter(incident__in=incidents)
            .exclude(actor="")
            .exclude(actor__startswith="Keel")
            .exclude(kind=IncidentEvent.Kind.CREATED)
            .order_by("incident_id", "at")
            .values_list("incident_id", "at")
        )
        for incident_id, at in people:
            responded.setdefault(incident_id, at)
    rows = []
    for incident in incidents:
        ended = responded.get(incident.pk) if slo.sli_kind == SliKind.INCIDENT_RESPONSE else incident.closed_at
        rows.append(_clock_row(slo, f"incident:{incident.pk}", incident.detected_at, ended, incident.severity, now))
    return rows


def _alert_rows(slo: SLO, since: dt.datetime, now: dt.datetime) -> list[Row]:
    from apps.alerts.models import Alert

    alerts = Alert.objects.filter(first_seen_at__gte=since, first_seen_at__lte=now).exclude(kind="slo_burn")
    if slo.incident_severities:
        alerts = alerts.filter(severity__in=slo.incident_severities)
    ended_field = "acknowledged_at" if slo.sli_kind == SliKind.INCIDENT_RESPONSE else "resolved_at"
    rows = []
    for pk, opened, acknowledged, resolved, severity in alerts.values_list(
        "pk", "first_seen_at", "acknowledged_at", "resolved_at", "severity"
    ):
        # Resolving without acknowledging is also a response.
        ended = (acknowledged or resolved) if ended_field == "acknowledged_at" else resolved
        rows.append(_clock_row(slo, f"alert:{pk}", opened, ended, severity, now))
    return rows


def _clock_row(slo: SLO, key: str, opened, ended, severity: str, now: dt.datetime) -> Row:
    good, total, minutes, pending = incident_outcome(slo, opened, ended, (), now)
    data = {"opened_at": opened.isoformat(), "ended_at": ended.isoformat() if ended else None, "severity": severity}
    # A pending clock's minutes grow every cycle; leaving them out keeps an unchanged row unchanged.
    return Row(slo.pk, key, opened, good, total, None if pending else minutes, data, pending)


def _billing_run_rows(slo: SLO, since: dt.datetime, now: dt.datetime) -> list[Row]:
    from apps.finops.models import IngestionRun

    finished = (IngestionRun.Status.SUCCEEDED, IngestionRun.Status.FAILED)
    runs = IngestionRun.objects.filter(started_at__gte=since, started_at__lte=now, status__in=finished)
    return [
        Row(
            slo.pk,
            f"run:{pk}",
            started,
            1 if status == IngestionRun.Status.SUCCEEDED else 0,
            1,
            None,
            {"source_id": source_id, "status": status},
            False,
        )
        for pk, started, status, source_id in runs.values_list("pk", "started_at", "status", "source_id")
    ]


def _budget_rows(slo: SLO, since: dt.datetime, now: dt.datetime) -> list[Row]:
    from apps.budgets.models import Budget
    from apps.budgets.selectors import amount_for, month_start, next_month, scope_series

    budgets = Budget.objects.filter(active=True)
    if slo.asset_id:
        budgets = budgets.filter(asset=slo.asset_id)
    budgets = list(budgets)
    if not budgets:
        return []
    rows = []
    today = now.date()
    month = month_start(since.date())
    while month <= today:
        last_day = min(today, next_month(month) - dt.timedelta(days=1))
        series = scope_series(budgets, first_day=month, last_day=last_day, month=month)
        for budget in budgets:
            amount, spent, day = amount_for(budget, month), Decimal(0), month
            daily = series[budget.pk].daily
            while day <= last_day:
                spent += daily.get(day, Decimal(0))
                at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
                if at >= since:
                    data = {"budget_id": budget.pk, "spent": str(spent), "amount": str(amount)}
                    rows.append(
                        Row(slo.pk, f"budget:{budget.pk}:{day}", at, 1 if spent <= amount else 0, 1, spent, data, False)
                    )
                day += dt.timedelta(days=1)
        month = next_month(month)
    return rows


def _drift_rows(slo: SLO, since: dt.datetime, now: dt.datetime) -> list[Row]:
    from .models import DriftCheck

    if not slo.asset_id:
        return []
    limit = slo.threshold if slo.threshold is not None else DEFAULT_DRIFT_LIMIT
    checks = DriftCheck.objects.filter(monitor__asset=slo.asset_id, window_end__gte=since, window_end__lte=now)
    return [
        Row(slo.pk, f"drift:{pk}", end, 1 if psi < limit else 0, 1, psi, {"feature": feature}, False)
        for pk, end, psi, feature in checks.values_list("pk", "window_end", "psi", "monitor__feature")
    ]


SOURCES = {
    SLO.KeelSource.INCIDENTS: _incident_rows,
    SLO.KeelSource.ALERTS: _alert_rows,
    SLO.KeelSource.BILLING_RUNS: _billing_run_rows,
    SLO.KeelSource.BUDGETS: _budget_rows,
    SLO.KeelSource.DRIFT_CHECKS: _drift_rows,
}

# Which Keel source can feed which SLI kind (the SLO form and the API refuse other pairs).
SOURCE_KINDS = {
    SLO.KeelSource.INCIDENTS: {SliKind.INCIDENT_RESPONSE, SliKind.INCIDENT_RESOLUTION},
    SLO.KeelSource.ALERTS: {SliKind.INCIDENT_RESPONSE, SliKind.INCIDENT_RESOLUTION},
    SLO.KeelSource.BILLING_RUNS: {SliKind.INTEGRATION},
    SLO.KeelSource.BUDGETS: {SliKind.BUDGET_ADHERENCE},
    SLO.KeelSource.DRIFT_CHECKS: {SliKind.DRIFT},
}
