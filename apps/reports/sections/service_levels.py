"""Service levels: each SLO's result for the month, the breaches that closed in it, the service credits of the
contract month, resolution times from the incident clocks, a six-month attainment trend, and drift.

Which SLOs: every SLO (retired ones too) that started before the month ended and is either active or has a
closed period in the month. Its figure for the month is the period that closed in the month: for a
calendar-month SLO the month itself (its windows follow the client's time zone, like the report); for a rolling
SLO the latest N-day period that ended in the month, with its dates as the label, or "rolling, not closed" when
none did. Attainment and budget come from that SloPeriod exactly as recorded (apps.service_levels evaluation).

Credits are the ServiceCredit rows of the contract month (`month` = the month the breach closed in, client
time); the total is the sum of their amounts in the reporting currency, to the cent (credits in another
currency, if the client's currency changed, are listed apart and never added in).

Data (JSON-safe; percentages are strings, money strings with two decimals):
    url                         the service levels page
    slos                        [{name, display_name, url, sli_kind, sli_label, quality (bool), window_kind,
                                  window_label, target_percent, attained_percent | None, period_label | None,
                                  closed (bool), note ("" | "rolling, not closed" | "no data" | "not closed"),
                                  met (True/False/None), budget_consumed_percent | None,
                                  credit_total (reporting currency) | None}]
    slo_count, met_count, missed_count, unsettled_count   SLOs met / missed / without a result for the month
    quality_count               SLOs of a quality kind (quality, hallucination, drift), repeated under drift
    breaches                    [{slo, period_label, target_percent, attained_percent, budget_consumed_percent,
                                  linked_incidents, credit_percent, credit_amount, currency}]
    breach_count
    credits                     [{slo, period_label, percent, amount, currency, status, status_label, capped}]
    credit_count
    credits_total               sum of the month's credit amounts in the reporting currency
    credits_by_status           {"due": …, "issued": …, "waived": …} in the reporting currency
    credits_other_currencies    {currency: total} (normally empty)
    currency                    the reporting currency
    mttr                        [{slo, severity, severity_label, incidents, mean_minutes, worst_minutes}]:
                                business minutes from opening to resolution of the incidents opened in the
                                month, from the incident-resolution SLOs' clocks (their calendars)
    drift                       [{monitor, asset, feature, statistic ("PSI"), value, js, status, status_label,
                                  significant, window_end (last day covered)}]: each monitor's latest check
                                whose window ended in the month
    drift_check_count, drift_significant_count, drift_monitor_count
    charts                      [attainment trend] (6 months, one series per SLO up to 5, or [] without data)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from apps.reports.period import ReportPeriod, add_months, money, ratio
from apps.service_levels import selectors
from apps.service_levels.models import (
    SLO,
    DriftCheck,
    Measurement,
    ServiceCredit,
    SliKind,
    SloPeriod,
)

KEY = "service_levels"
TITLE = "Service levels"

TREND_MONTHS = 6
TREND_SERIES = 5
QUALITY_KINDS = (SliKind.QUALITY, SliKind.HALLUCINATION, SliKind.DRIFT)
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4, "": 5}
SEVERITY_LABELS = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"}
STATUS_LABELS = dict(ServiceCredit.Status.choices)
DRIFT_LABELS = dict(DriftCheck.Status.choices)
SLI_LABELS = dict(SliKind.choices)


def _percent(fraction: Decimal | None, places: int = 3) -> str | None:
    """A ratio in [0, 1] as a percentage string (attainment: three decimals, like the breach alerts)."""
    return None if fraction is None else ratio(Decimal(fraction) * 100, places)


def _target(objective: Decimal) -> str:
    """The objective as people write it: 0.999 → "99.9", 0.99 → "99"."""
    return f"{(Decimal(objective) * 100).normalize():f}"


def _in_month(moment: dt.datetime | None, period: ReportPeriod) -> bool:
    return moment is not None and period.starts_at <= moment < period.ends_at


def _closed_in(record_end: dt.datetime, start: dt.datetime, end: dt.datetime) -> bool:
    """A period belongs to the month it closed in: it ends after the month starts and no later than its end."""
    return start < record_end <= end


def _month_bounds(month: dt.date, period: ReportPeriod) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(month, dt.time(), tzinfo=period.tz),
        dt.datetime.combine(add_months(month, 1), dt.time(), tzinfo=period.tz),
    )


def build(period: ReportPeriod) -> dict:
    base = f"/c/{period.client_slug}/service-levels/"
    trend_months = period.months_back(TREND_MONTHS)
    trend_start = _month_bounds(trend_months[0], period)[0]

    candidates = [slo for slo in selectors.slos_list(include_retired=True) if slo.starts_at < period.ends_at]
    periods_by_slo: dict[int, list[SloPeriod]] = defaultdict(list)
    for record in SloPeriod.objects.filter(
        slo__in=[slo.pk for slo in candidates], end__gt=trend_start, end__lte=period.ends_at
    ).order_by("slo_id", "end"):
        periods_by_slo[record.slo_id].append(record)

    credits = list(selectors.credits_list().filter(month=period.month).order_by("breach__period_start", "id"))
    credit_by_slo: dict[int, Decimal] = defaultdict(Decimal)
    for credit in credits:
        if credit.currency == period.currency:
            credit_by_slo[credit.breach.slo_id] += credit.amount

    rows, chosen = [], []
    for slo in candidates:
        in_month = [p for p in periods_by_slo[slo.pk] if _closed_in(p.end, period.starts_at, period.ends_at)]
        if not slo.active and not in_month:
            continue
        record = in_month[-1] if in_month else None
        rolling = slo.window_kind == SLO.WindowKind.ROLLING
        note = ""
        if record is None:
            note = "rolling, not closed" if rolling else "not closed"
        elif record.met is None:
            note = "no data"
        rows.append(
            {
                "name": slo.name,
                "display_name": slo.display_name,
                "url": f"{base}{slo.pk}/",
                "sli_kind": slo.sli_kind,
                "sli_label": SLI_LABELS.get(slo.sli_kind, slo.sli_kind),
                "quality": slo.sli_kind in QUALITY_KINDS,
                "window_kind": slo.window_kind,
                "window_label": f"rolling {slo.window_days} days" if rolling else "calendar month",
                "target_percent": _target(slo.objective),
                "attained_percent": _percent(record.attainment) if record else None,
                "period_label": record.label if record else None,
                "closed": record is not None,
                "note": note,
                "met": record.met if record else None,
                "budget_consumed_percent": _percent(record.budget_consumed, 1)
                if record and record.budget_consumed is not None
                else None,
                "credit_total": money(credit_by_slo[slo.pk]) if slo.pk in credit_by_slo else None,
            }
        )
        chosen.append(slo)

    breaches = [
        {
            "slo": breach.slo_snapshot.get("display_name") or breach.slo.display_name,
            "period_label": breach.period_label,
            "target_percent": _target(breach.objective),
            "attained_percent": _percent(breach.attainment),
            "budget_consumed_percent": _percent(breach.budget_consumed, 1),
            "linked_incidents": len(breach.incident_ids or []),
            "credit_percent": ratio(breach.credit_percent, 2),
            "credit_amount": money(breach.credit_amount),
            "currency": breach.currency,
        }
        for breach in selectors.breaches_list()
        .filter(period_end__gt=period.starts_at, period_end__lte=period.ends_at)
        .order_by("period_end", "id")
    ]

    total = Decimal(0)
    by_status = {status: Decimal(0) for status in ServiceCredit.Status.values}
    other: dict[str, Decimal] = defaultdict(Decimal)
    credit_rows = []
    for credit in credits:
        if credit.currency == period.currency:
            total += credit.amount
            by_status[credit.status] += credit.amount
        else:
            other[credit.currency] += credit.amount
        credit_rows.append(
            {
                "slo": credit.breach.slo_snapshot.get("display_name") or credit.breach.slo.display_name,
                "period_label": credit.breach.period_label,
                "percent": ratio(credit.percent, 2),
                "amount": money(credit.amount),
                "currency": credit.currency,
                "status": credit.status,
                "status_label": STATUS_LABELS.get(credit.status, credit.status),
                "capped": credit.capped,
            }
        )

    drift_rows = _drift(period)
    return {
        "url": base,
        "slos": rows,
        "slo_count": len(rows),
        "met_count": sum(1 for r in rows if r["met"] is True),
        "missed_count": sum(1 for r in rows if r["met"] is False),
        "unsettled_count": sum(1 for r in rows if r["met"] is None),
        "quality_count": sum(1 for r in rows if r["quality"]),
        "breaches": breaches,
        "breach_count": len(breaches),
        "credits": credit_rows,
        "credit_count": len(credit_rows),
        "credits_total": money(total),
        "credits_by_status": {status: money(amount) for status, amount in by_status.items()},
        "credits_other_currencies": {currency: money(amount) for currency, amount in sorted(other.items())},
        "currency": period.currency,
        "mttr": _mttr(period, {slo.pk: slo for slo in candidates}),
        "drift": drift_rows,
        "drift_check_count": len(drift_rows),
        "drift_significant_count": sum(1 for r in drift_rows if r["significant"]),
        "drift_monitor_count": selectors.drift_monitors().count(),
        "charts": _trend_chart(period, chosen, periods_by_slo, trend_months),
    }


def _mttr(period: ReportPeriod, slos: dict[int, SLO]) -> list[dict]:
    """Business minutes to resolution per incident-resolution SLO and severity, for the incidents opened in the
    month whose clock has stopped (one query: a month's incidents are few)."""
    ids = [pk for pk, slo in slos.items() if slo.sli_kind == SliKind.INCIDENT_RESOLUTION]
    if not ids:
        return []
    groups: dict[tuple[int, str], list[Decimal]] = defaultdict(list)
    for slo_id, value, data in Measurement.objects.filter(
        slo_id__in=ids, at__gte=period.starts_at, at__lt=period.ends_at, pending=False, value__isnull=False
    ).values_list("slo_id", "value", "data"):
        data = data or {}
        if not (data.get("ended_at") or data.get("resolved_at")):
            continue  # late for good but still open: no resolution time yet
        groups[(slo_id, (data.get("severity") or "").lower())].append(Decimal(value))
    rows = []
    for (slo_id, severity), values in groups.items():
        rows.append(
            {
                "slo": slos[slo_id].display_name,
                "severity": severity,
                "severity_label": SEVERITY_LABELS.get(severity, "Unspecified"),
                "incidents": len(values),
                "mean_minutes": ratio(sum(values) / len(values), 1),
                "worst_minutes": ratio(max(values), 1),
            }
        )
    return sorted(rows, key=lambda r: (r["slo"], SEVERITY_ORDER.get(r["severity"], 9)))


def _drift(period: ReportPeriod) -> list[dict]:
    latest = (
        DriftCheck.objects.filter(window_end__gt=period.starts_at, window_end__lte=period.ends_at)
        .select_related("monitor__asset")
        .order_by("monitor_id", "-window_end", "-id")
        .distinct("monitor_id")
    )
    rows = [
        {
            "monitor": f"{check.monitor.asset.name} · {check.monitor.feature}",
            "asset": check.monitor.asset.name,
            "feature": check.monitor.feature,
            "statistic": "PSI",
            "value": ratio(check.psi, 3),
            "js": ratio(check.js, 3),
            "status": check.status,
            "status_label": DRIFT_LABELS.get(check.status, check.status),
            "significant": check.status == DriftCheck.Status.SIGNIFICANT,
            # the last day the window covers (its end is exclusive), in the client's calendar
            "window_end": (check.window_end - dt.timedelta(microseconds=1)).astimezone(period.tz).date().isoformat(),
        }
        for check in latest
    ]
    return sorted(rows, key=lambda r: (not r["significant"], r["monitor"]))


def _trend_chart(period: ReportPeriod, slos: list[SLO], periods_by_slo, months: list[dt.date]) -> list[dict]:
    """Attainment per month: the period that closed in each month (the latest one for rolling windows)."""
    with_data = [slo for slo in slos if periods_by_slo.get(slo.pk)][:TREND_SERIES]
    if not with_data:
        return []
    bounds = [_month_bounds(month, period) for month in months]
    series = []
    for slo in with_data:
        values = []
        for start, end in bounds:
            closed = [p for p in periods_by_slo[slo.pk] if _closed_in(p.end, start, end) and p.attainment is not None]
            values.append(_percent(closed[-1].attainment) if closed else None)
        series.append({"name": slo.display_name, "values": values})
    if not any(v is not None for s in series for v in s["values"]):
        return []
    targets = {_target(slo.objective) for slo in with_data}
    target = targets.pop() if len(targets) == 1 else None
    names = ", ".join(s["name"] for s in series)
    first, last = months[0], months[-1]
    description = f"Attainment per month from {first:%B %Y} to {last:%B %Y} for {names}" + (
        f", against a target of {target} %." if target else "; each SLO has its own target (see the table)."
    )
    return [
        {
            "id": "slo-attainment-trend",
            "title": "Attainment, last six months",
            "description": description,
            "kind": "line",
            "x": [f"{month:%Y-%m}" for month in months],
            "monthly": True,
            "unit": "%",
            "series": series,
            **({"target": target} if target else {}),
        }
    ]


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """At most three sentences, one figure each: missed (or all met), credits owed, significant drift."""
    out: list[dict] = []
    missed, met = data.get("missed_count") or 0, data.get("met_count") or 0
    if missed:
        what = "service levels missed their target" if missed != 1 else "service level missed its target"
        out.append({"text": f"{missed} {what} this month.", "figure": f"{KEY}.missed_count", "tone": "bad"})
    elif met:
        out.append(
            {
                "text": f"Every service level with a result this month met its target ({met} in all).",
                "figure": f"{KEY}.met_count",
                "tone": "good",
            }
        )
    if data.get("credits_total") and Decimal(data["credits_total"]) > 0:
        out.append(
            {
                "text": f"Service credits of {data['credits_total']} {data['currency']} are owed to you for the month.",
                "figure": f"{KEY}.credits_total",
                "tone": "bad",
            }
        )
    drifted = data.get("drift_significant_count") or 0
    if drifted:
        what = "monitored model inputs have" if drifted != 1 else "monitored model input has"
        out.append(
            {
                "text": f"{drifted} {what} drifted significantly from the data the model was checked against; "
                "the model may need review.",
                "figure": f"{KEY}.drift_significant_count",
                "tone": "bad",
            }
        )
    return out
