"""Reads of a client's service levels shared by the portal and the API (each list is one query)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum

from . import budget
from .models import SLO, Breach, DriftCheck, DriftMonitor, ServiceCredit, SloStatus

STATE_ORDER = {"exhausted": 0, "at_risk": 1, "ok": 2, "no_data": 3}


def slos_list(*, include_retired: bool = False):
    items = SLO.objects.select_related("asset", "calendar", "status")
    return items if include_retired else items.filter(active=True)


def slo_status(slo: SLO) -> SloStatus | None:
    try:
        return slo.status
    except SloStatus.DoesNotExist:
        return None


def breaches_list():
    return Breach.objects.select_related("slo", "credit")


def credits_list():
    return ServiceCredit.objects.select_related("breach", "breach__slo")


def credits_by_month(months: int = 12) -> list[dict]:
    """Credits owed per contract month (what the monthly report carries), newest first."""
    rows = (
        ServiceCredit.objects.values("month", "currency")
        .annotate(
            total=Sum("amount"),
            due=Sum("amount", filter=Q(status=ServiceCredit.Status.DUE)),
            breaches=Count("id"),
        )
        .order_by("-month", "currency")
    )
    return list(rows[: months * 3])


def credits_for_month(month: dt.date) -> dict:
    """Credits of one contract month: total and by status (issue-9 reports read this)."""
    rows = ServiceCredit.objects.filter(month=month).values("currency", "status").annotate(total=Sum("amount"))
    result: dict = {"month": month.isoformat(), "total": Decimal(0), "by_status": {}, "currency": None}
    for row in rows:
        result["total"] += row["total"]
        result["currency"] = row["currency"]
        result["by_status"][row["status"]] = row["total"]
    return result


def daily_series(slo: SLO, start: dt.datetime, end: dt.datetime, tz) -> list[dict]:
    """Per day of the window (client's days): good, total, the day's SLI and the budget left at its end.

    One query over the per-minute rollup (at most 31 × 1,440 rows for one SLO)."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT (minute AT TIME ZONE %s)::date AS day, sum(good), sum(total)
               FROM service_levels_sliminute WHERE slo_id = %s AND minute >= %s AND minute < %s
               GROUP BY 1 ORDER BY 1""",
            [str(tz), slo.pk, start, end],
        )
        rows = cur.fetchall()
    series, good_so_far, total_so_far = [], 0, 0
    for day, good, total in rows:
        good_so_far += int(good)
        total_so_far += int(total)
        series.append(
            {
                "day": day,
                "good": int(good),
                "total": int(total),
                "sli": budget.ratio(good, total),
                "budget_remaining": budget.budget_remaining(good_so_far, total_so_far, slo.objective),
            }
        )
    return series


LATENCY_QUANTILES = (("p50", Decimal("0.5")), ("p95", Decimal("0.95")), ("p99", Decimal("0.99")))


def latency_percentiles(slo: SLO, start: dt.datetime, end: dt.datetime) -> dict | None:
    """p50/p95/p99 over the window: exact from samples sent one by one, estimated from the buckets when the
    latencies came as histograms (whichever holds more requests); None without either."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY value)
               FROM service_levels_measurement
               WHERE slo_id = %s AND at >= %s AND at < %s AND value IS NOT NULL""",
            [slo.pk, start, end],
        )
        samples, values = cur.fetchone()
        cur.execute(
            """SELECT bucket->>'le', sum((bucket->>'count')::bigint)
               FROM service_levels_measurement m, jsonb_array_elements(m.data->'histogram') AS bucket
               WHERE m.slo_id = %s AND m.at >= %s AND m.at < %s AND jsonb_typeof(m.data->'histogram') = 'array'
               GROUP BY 1""",
            [slo.pk, start, end],
        )
        buckets = [(Decimal("Infinity") if le == "+Inf" else Decimal(le), int(count)) for le, count in cur.fetchall()]
    counted = sum(count for _, count in buckets)
    if not samples and not counted:
        return None
    if counted > samples:
        estimates = budget.histogram_quantiles(buckets, tuple(q for _, q in LATENCY_QUANTILES))
        values, source, requests = estimates, "histogram", counted
    else:
        values, source, requests = [Decimal(str(v)) for v in values], "samples", samples
    return {
        "samples": requests,
        "source": source,
        **{
            name: None if v is None else v.quantize(Decimal("0.1"))
            for (name, _), v in zip(LATENCY_QUANTILES, values, strict=True)
        },
    }


def drift_monitors(asset_id: int | None = None):
    monitors = DriftMonitor.objects.select_related("asset").annotate(checks_count=Count("checks"))
    return monitors.filter(asset_id=asset_id) if asset_id else monitors


def drift_checks(monitor: DriftMonitor, limit: int = 60):
    return DriftCheck.objects.filter(monitor=monitor).order_by("-window_end", "-id")[:limit]


def latest_checks(monitor_ids: list[int]) -> dict[int, DriftCheck]:
    latest = DriftCheck.objects.filter(monitor_id__in=monitor_ids).order_by("monitor_id", "-window_end", "-id")
    return {check.monitor_id: check for check in latest.distinct("monitor_id")}
