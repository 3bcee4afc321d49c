"""Incidents: the AI incidents opened and closed in the month, those still open at its end, the time to resolve
by severity, the regulatory reports they owed, and the alerts raised.

The client's calendar month throughout (period.starts_at/ends_at):
- opened in the month: detected_at (when it was first noticed) in the month;
- closed in the month: closed_at in the month (set when the incident is closed; the incident-resolution SLO
  clocks of apps.service_levels stop at the same moment);
- open at the month end: detected before the month ended and not closed by then;
- time to resolve: closed_at − detected_at, in hours, per severity of the incidents closed in the month (mean
  and worst: an average over severities would hide a slow critical behind fast low ones);
- regulatory reports (Obligation): those due in the month are met (first submitted by the due time), missed
  (submitted late, or still pending after the due time) or running (due later this month, for a month not over);
  sent in the month = submitted (first or again) in the month; reports marked not required are left out;
- alerts raised in the month: Alert.first_seen_at in the month, by severity.
The list shows the month's incidents (opened or closed in it) with their status as the report was computed.

Data:
    url, alerts_url
    opened_count, opened_serious_count (critical + high), opened_by_severity [{severity, label, count}]
    closed_count, open_at_month_end_count
    resolution          [{severity, label, closed, mean_hours, worst_hours}]   worst severity first
    incidents           [{title, severity, severity_label, kind_label, opened_on, status, status_label,
                          closed_on | None, url}]
    obligations         [{incident, regime, report, due_at | None, submitted_at | None, outcome, outcome_label}]
    obligations_due_count, obligations_met_count, obligations_missed_count, obligations_running_count,
    obligations_sent_count
    alerts_count, alerts_by_severity [{severity, label, count}]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from apps.alerts.models import SEVERITY_RANK, Severity
from apps.alerts.selectors import alerts_list
from apps.incidents import selectors
from apps.incidents.models import IncidentKind, IncidentStatus, Obligation
from apps.reports.period import ReportPeriod, ratio

KEY = "incidents"
TITLE = "Incidents"

SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: SEVERITY_RANK[s])]
SEVERITY_LABELS = dict(Severity.choices)
SERIOUS = (Severity.CRITICAL, Severity.HIGH)
KIND_LABELS = dict(IncidentKind.choices)
STATUS_LABELS = dict(IncidentStatus.choices)
OUTCOME_LABELS = {"met": "Sent on time", "missed": "Missed", "running": "Due later", "sent": "Sent"}


def _local(moment, period: ReportPeriod) -> str | None:
    return moment.astimezone(period.tz).strftime("%Y-%m-%d %H:%M") if moment else None


def _hours(delta) -> Decimal:
    return Decimal(int(delta.total_seconds())) / 3600


def _by_severity(counts: Counter) -> list[dict]:
    return [
        {"severity": s, "label": SEVERITY_LABELS[s], "count": counts[s]}
        for s in SEVERITIES
        if counts[s] or s != Severity.INFO
    ]


def build(period: ReportPeriod) -> dict:
    base = f"/c/{period.client_slug}/incidents/"
    starts, ends = period.starts_at, period.ends_at
    now = timezone.now()
    in_month = Q(detected_at__gte=starts, detected_at__lt=ends) | Q(closed_at__gte=starts, closed_at__lt=ends)
    open_then = Q(detected_at__lt=ends) & (Q(closed_at__isnull=True) | Q(closed_at__gte=ends))
    incidents = list(selectors.incidents_list(status="all").filter(in_month | open_then).order_by("detected_at", "id"))

    opened = [i for i in incidents if starts <= i.detected_at < ends]
    closed = [i for i in incidents if i.closed_at and starts <= i.closed_at < ends]
    still_open = [i for i in incidents if i.detected_at < ends and (i.closed_at is None or i.closed_at >= ends)]
    opened_by = Counter(i.severity for i in opened)

    times: dict[str, list[Decimal]] = defaultdict(list)
    for incident in closed:
        times[incident.severity].append(_hours(incident.closed_at - incident.detected_at))
    resolution = [
        {
            "severity": s,
            "label": SEVERITY_LABELS[s],
            "closed": len(times[s]),
            "mean_hours": ratio(sum(times[s]) / len(times[s]), 1),
            "worst_hours": ratio(max(times[s]), 1),
        }
        for s in SEVERITIES
        if times.get(s)
    ]

    listed = [
        i for i in incidents if (starts <= i.detected_at < ends) or (i.closed_at and starts <= i.closed_at < ends)
    ]
    rows = [
        {
            "title": i.title,
            "severity": i.severity,
            "severity_label": SEVERITY_LABELS.get(i.severity, i.severity),
            "kind_label": KIND_LABELS.get(i.kind, i.kind),
            "opened_on": i.detected_at.astimezone(period.tz).date().isoformat(),
            "status": i.status,
            "status_label": STATUS_LABELS.get(i.status, i.status),
            "closed_on": i.closed_at.astimezone(period.tz).date().isoformat() if i.closed_at else None,
            "url": f"{base}{i.pk}/",
        }
        for i in listed
    ]

    obligations, outcomes = _obligations(period, now)
    alert_counts = Counter(
        {
            row["severity"]: row["n"]
            for row in alerts_list()
            .filter(first_seen_at__gte=starts, first_seen_at__lt=ends)
            .order_by()
            .values("severity")
            .annotate(n=Count("id"))
        }
    )
    return {
        "url": base,
        "alerts_url": f"/c/{period.client_slug}/alerts/",
        "opened_count": len(opened),
        "opened_serious_count": sum(opened_by[s] for s in SERIOUS),
        "opened_by_severity": _by_severity(opened_by),
        "closed_count": len(closed),
        "open_at_month_end_count": len(still_open),
        "resolution": resolution,
        "incidents": rows,
        "obligations": obligations,
        "obligations_due_count": outcomes["met"] + outcomes["missed"] + outcomes["running"],
        "obligations_met_count": outcomes["met"],
        "obligations_missed_count": outcomes["missed"],
        "obligations_running_count": outcomes["running"],
        "obligations_sent_count": outcomes["sent_in_month"],
        "alerts_count": sum(alert_counts.values()),
        "alerts_by_severity": _by_severity(alert_counts),
    }


def _obligations(period: ReportPeriod, now) -> tuple[list[dict], Counter]:
    starts, ends = period.starts_at, period.ends_at
    due_in_month = Q(due_at__gte=starts, due_at__lt=ends)
    sent_in_month = Q(first_submitted_at__gte=starts, first_submitted_at__lt=ends) | Q(
        submitted_at__gte=starts, submitted_at__lt=ends
    )
    found = (
        Obligation.objects.filter(due_in_month | sent_in_month)
        .exclude(status=Obligation.Status.NOT_REQUIRED)
        .select_related("incident")
        .order_by("due_at", "id")
    )
    rows, outcomes = [], Counter()
    for obligation in found:
        sent = any(
            moment and starts <= moment < ends for moment in (obligation.first_submitted_at, obligation.submitted_at)
        )
        if sent:
            outcomes["sent_in_month"] += 1
        due = obligation.due_at
        if due is not None and starts <= due < ends:
            first = obligation.first_submitted_at
            if first is not None:
                outcome = "met" if first <= due else "missed"
            else:
                outcome = "missed" if due <= now else "running"
            outcomes[outcome] += 1
        else:
            outcome = "sent"
        clock = selectors.clock_for(obligation, now=now)
        rows.append(
            {
                "incident": obligation.incident.title,
                "regime": clock.regime_name,
                "report": clock.report_name,
                "due_at": _local(due, period),
                "submitted_at": _local(obligation.first_submitted_at, period),
                "outcome": outcome,
                "outcome_label": OUTCOME_LABELS[outcome],
            }
        )
    return rows, outcomes


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """Serious incidents opened (else all opened); regulatory deadlines missed (else met); open at the month end."""
    out: list[dict] = []
    serious, opened = data.get("opened_serious_count") or 0, data.get("opened_count") or 0
    if serious:
        what = (
            "serious (critical or high) AI incidents were"
            if serious != 1
            else "serious (critical or high) AI incident was"
        )
        out.append(
            {"text": f"{serious} {what} opened this month.", "figure": f"{KEY}.opened_serious_count", "tone": "bad"}
        )
    elif opened:
        what = "AI incidents were" if opened != 1 else "AI incident was"
        out.append(
            {
                "text": f"{opened} {what} opened this month, none of them serious.",
                "figure": f"{KEY}.opened_count",
                "tone": "neutral",
            }
        )
    missed, met = data.get("obligations_missed_count") or 0, data.get("obligations_met_count") or 0
    if missed:
        what = "regulatory report deadlines were" if missed != 1 else "regulatory report deadline was"
        out.append({"text": f"{missed} {what} missed.", "figure": f"{KEY}.obligations_missed_count", "tone": "bad"})
    elif met:
        what = "regulatory reports due this month were" if met != 1 else "regulatory report due this month was"
        out.append({"text": f"{met} {what} sent on time.", "figure": f"{KEY}.obligations_met_count", "tone": "good"})
    still = data.get("open_at_month_end_count") or 0
    if still:
        what = "AI incidents were" if still != 1 else "AI incident was"
        out.append(
            {
                "text": f"{still} {what} still open at the month end.",
                "figure": f"{KEY}.open_at_month_end_count",
                "tone": "neutral",
            }
        )
    return out
