"""Anomalies and runaway spend caught: the days a scope's spend left its expected range (apps.anomalies) and the
runaway loops of live AI usage (apps.runaway), with what they cost and what stopping them avoided.

Month boundaries: an anomaly is a judgement of one UTC charge day's cost, so it counts in the month of its day
(like every cost figure of the report); a runaway incident is an event, so it counts in the client's calendar
month (detected_at, or stopped_at for the burn avoided, within period.starts_at … ends_at). Dismissed anomalies
(people judged them not anomalous) are counted apart and never in the figures.

Overlap: one spike shows in several scopes at once (the whole client, its service, its billing account, its AI
asset), so summing their impacts would count the same money up to four times. impact_total is therefore, per
UTC day, the largest positive impact among that day's anomalies — a floor on the extra spend, never a multiple.

The burn avoided by stopping a runaway is runaway_avoided(): for each incident whose kill-switch stopped it in
the month, the lower of the two 24-hour projections Keel keeps (projected_24h, the pace of the last five minutes
the scan saw × 1,440; and projected_24h_at_peak, the peak minute × 1,440). The value section uses the same
function, so the two sections always agree.

Data (money with two decimals in the reporting currency unless a row says otherwise):
    currency, time_zone, first_day, last_day
    anomaly_count, dismissed_count, open_count, spike_count, drop_count
    by_severity                     {"high": n, "medium": n, "low": n}
    by_kind                         [{kind, label, count}] whole client, service, billing account, AI asset
    impact_total                    the extra spend of the month's spikes (see Overlap), reporting currency
    impact_other_currencies         [{currency, amount}] the same in other currencies, not converted
    top                             [{id, scope_kind, scope_label, day, direction, severity, status, impact,
                                      currency, url}] the five largest |impact|
    runaway_count                   incidents detected in the month
    runaway_stopped_count           incidents stopped by their kill-switch in the month
    runaway_active_count            of those detected, still burning or stopped but not ended
    runaway_median_detection_seconds, runaway_fastest_detection_seconds (and *_text: "3 min 20 s")
                                    from the loop's first minute to the scan that opened the incident
    runaway_burned                  spend of the incidents detected in the month, reporting currency
    runaway_avoided                 projected burn avoided (estimated), reporting currency
    runaway_other_currencies        [{currency, burned, avoided}]
    runaway_incidents               [{id, scope, started_at (client time, ISO), started_text, detection_seconds,
                                      detection_text, status,
                                      status_label, stopped, stopped_at, burned, projected_burn, currency, url}]
    method                          how impact_total and runaway_avoided are computed
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from django.db.models import Q

from apps.anomalies.models import Anomaly, AnomalySettings, Direction, ScopeKind
from apps.anomalies.selectors import anomalies_list
from apps.anomalies.services import severity_for
from apps.runaway.models import RunawayIncident
from apps.runaway.selectors import incidents_list

from ..period import ReportPeriod, money
from .spend import say_money

KEY = "anomalies"
TITLE = "Anomalies and runaway spend caught"

ZERO = Decimal(0)
TOP = 5
SEVERITIES = ("high", "medium", "low")

METHOD = (
    "Anomalies are days whose spend left the range the scope's own history expected (UTC charge days). One spike "
    "shows in several scopes at once — the whole client, its service, its account, its AI asset — so the extra "
    "spend counts, for each day, only the largest spike of that day: a floor, never a double count. Dismissed "
    "anomalies are left out. A runaway is a loop of live AI calls spending far above the agent's usual pace; "
    "the burn avoided by stopping one is estimated as the lower of Keel's two projections of the next 24 hours "
    "(the pace of the last five minutes the scan saw, and the pace of the peak minute, each × 1,440) — the "
    "conservative one, since a loop stopped early may have been about to speed up or to stop by itself."
)


# --- runaway: shared with the value section -------------------------------------------------------------


def runaway_incidents(period: ReportPeriod) -> list[RunawayIncident]:
    """Incidents detected or stopped in the client's calendar month, in one query."""
    start, end = period.starts_at, period.ends_at
    return list(
        incidents_list().filter(
            Q(detected_at__gte=start, detected_at__lt=end) | Q(stopped_at__gte=start, stopped_at__lt=end)
        )
    )


def projected_burn(incident: RunawayIncident) -> Decimal:
    """The conservative 24-hour projection of an incident: the lower of the last pace and the peak pace."""
    return min(incident.projected_24h, incident.projected_24h_at_peak)


def _stopped_in(incident: RunawayIncident, period: ReportPeriod) -> bool:
    return incident.stopped_at is not None and period.starts_at <= incident.stopped_at < period.ends_at


def runaway_avoided(period: ReportPeriod, incidents: list[RunawayIncident] | None = None) -> dict:
    """{"total": Decimal in the reporting currency, "others": {currency: Decimal}, "count": n} — the projected
    burn of the incidents stopped by their kill-switch in the month (unrounded)."""
    incidents = runaway_incidents(period) if incidents is None else incidents
    total, others, count = ZERO, {}, 0
    for incident in incidents:
        if not _stopped_in(incident, period):
            continue
        count += 1
        burn = projected_burn(incident)
        if incident.currency == period.currency:
            total += burn
        else:
            others[incident.currency] = others.get(incident.currency, ZERO) + burn
    return {"total": total, "others": others, "count": count}


# --- the section ------------------------------------------------------------------------------------------


def _anomalies(period: ReportPeriod) -> dict:
    config = AnomalySettings.objects.filter(pk=1).first() or AnomalySettings()
    found = list(
        anomalies_list()
        .select_related(None)
        .filter(day__gte=period.month, day__lt=period.next)
        .only("id", "scope_kind", "scope_label", "day", "currency", "impact", "direction", "status")
    )
    dismissed = [a for a in found if a.status == Anomaly.Status.DISMISSED]
    counted = [a for a in found if a.status != Anomaly.Status.DISMISSED]
    severities = Counter(severity_for(a, config) for a in counted)
    kinds = Counter(a.scope_kind for a in counted)
    peak: dict[tuple[str, dt.date], Decimal] = {}  # (currency, day) → the day's largest spike
    for anomaly in counted:
        if anomaly.impact > 0:
            ident = (anomaly.currency, anomaly.day)
            peak[ident] = max(peak.get(ident, ZERO), anomaly.impact)
    by_currency: dict[str, Decimal] = {}
    for (currency, _day), impact in peak.items():
        by_currency[currency] = by_currency.get(currency, ZERO) + impact
    top = sorted(counted, key=lambda a: (-abs(a.impact), a.day, a.pk))[:TOP]
    return {
        "anomaly_count": len(counted),
        "dismissed_count": len(dismissed),
        "open_count": sum(1 for a in counted if a.is_active),
        "spike_count": sum(1 for a in counted if a.direction == Direction.SPIKE),
        "drop_count": sum(1 for a in counted if a.direction == Direction.DROP),
        "by_severity": {name: severities.get(name, 0) for name in SEVERITIES},
        "by_kind": [
            {"kind": kind, "label": label, "count": kinds[kind]} for kind, label in ScopeKind.choices if kinds[kind]
        ],
        "impact_total": money(by_currency.get(period.currency, ZERO)),
        "impact_other_currencies": [
            {"currency": c, "amount": money(v)} for c, v in sorted(by_currency.items()) if c != period.currency
        ],
        "top": [
            {
                "id": a.pk,
                "scope_kind": a.get_scope_kind_display(),
                "scope_label": a.scope_label,
                "day": a.day.isoformat(),
                "direction": a.direction,
                "severity": severity_for(a, config),
                "status": a.get_status_display(),
                "impact": money(a.impact),
                "currency": a.currency,
                "url": f"/c/{period.client_slug}/finops/anomalies/{a.pk}/",
            }
            for a in top
        ],
    }


def duration_text(seconds: int | None) -> str | None:
    """45 s, 3 min 20 s, 2 h 5 min: how long detection took, in words an executive reads at a glance."""
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _runaway(period: ReportPeriod) -> dict:
    incidents = runaway_incidents(period)
    detected = [i for i in incidents if period.starts_at <= i.detected_at < period.ends_at]
    delays = [round(i.detection_delay_seconds) for i in detected]
    avoided = runaway_avoided(period, incidents)
    burned: dict[str, Decimal] = {}
    for incident in detected:
        burned[incident.currency] = burned.get(incident.currency, ZERO) + incident.burned
    others = sorted((set(burned) | set(avoided["others"])) - {period.currency})
    shown = sorted(incidents, key=lambda i: (i.detected_at, i.pk))
    median = _median(delays)
    return {
        "runaway_count": len(detected),
        "runaway_stopped_count": avoided["count"],
        "runaway_active_count": sum(1 for i in detected if i.is_active),
        "runaway_median_detection_seconds": None if median is None else round(median),
        "runaway_median_detection_text": duration_text(None if median is None else round(median)),
        "runaway_fastest_detection_seconds": min(delays) if delays else None,
        "runaway_fastest_detection_text": duration_text(min(delays) if delays else None),
        "runaway_burned": money(burned.get(period.currency, ZERO)),
        "runaway_avoided": money(avoided["total"]),
        "runaway_other_currencies": [
            {"currency": c, "burned": money(burned.get(c, ZERO)), "avoided": money(avoided["others"].get(c, ZERO))}
            for c in others
        ],
        "runaway_incidents": [
            {
                "id": i.pk,
                "scope": f"{i.get_scope_kind_display()} {i.scope_key}",
                "started_at": i.started_at.astimezone(period.tz).isoformat(timespec="minutes"),
                "started_text": f"{i.started_at.astimezone(period.tz):%Y-%m-%d %H:%M}",
                "detection_seconds": round(i.detection_delay_seconds),
                "detection_text": duration_text(round(i.detection_delay_seconds)),
                "status": i.status,
                "status_label": i.get_status_display(),
                "stopped": _stopped_in(i, period),
                "stopped_at": i.stopped_at.astimezone(period.tz).isoformat(timespec="minutes")
                if i.stopped_at
                else None,
                "burned": money(i.burned),
                "projected_burn": money(projected_burn(i)),
                "currency": i.currency,
                "url": f"/c/{period.client_slug}/finops/runaway/{i.pk}/",
            }
            for i in shown
        ],
    }


def build(period: ReportPeriod) -> dict:
    return {
        "currency": period.currency,
        "time_zone": period.time_zone,
        "first_day": period.month.isoformat(),
        "last_day": period.last_day.isoformat(),
        **_anomalies(period),
        **_runaway(period),
        "method": METHOD,
    }


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """How many anomalies were caught, what the spikes cost, and what stopping runaways avoided (or, when
    nothing was stopped, what runaways burned)."""
    out = []
    currency = data["currency"]
    count = data["anomaly_count"]
    if count:
        out.append(
            {
                "text": f"Keel caught {count} cost anomal{'y' if count == 1 else 'ies'} this month.",
                "figure": "anomalies.anomaly_count",
                "tone": "neutral",
            }
        )
    if Decimal(data["impact_total"]) > 0:
        out.append(
            {
                "text": f"Unexpected spikes added at least {say_money(data['impact_total'], currency)} to the "
                "expected spend.",
                "figure": "anomalies.impact_total",
                "tone": "bad",
            }
        )
    if Decimal(data["runaway_avoided"]) > 0:
        out.append(
            {
                "text": "Stopping runaway AI usage avoided an estimated "
                f"{say_money(data['runaway_avoided'], currency)} of spend over the following day.",
                "figure": "anomalies.runaway_avoided",
                "tone": "good",
            }
        )
    elif Decimal(data["runaway_burned"]) > 0:
        out.append(
            {
                "text": f"Runaway AI usage burned {say_money(data['runaway_burned'], currency)} before it ended.",
                "figure": "anomalies.runaway_burned",
                "tone": "bad",
            }
        )
    return out
