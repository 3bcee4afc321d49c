"""Compliance readiness per framework enabled by the month end, against the previous month end, with the gaps
and what changed in the month.

Readiness at the month end, per framework (the figure reconciles with apps.compliance):
- the ReadinessSnapshot of the month's last day (taken daily and refreshed after every change, so it is the
  readiness as the month closed), else
- for the current or the just-closed month, the live readiness computed as at the month's last day
  (selectors.readiness with today = that day: evidence validity is judged on that date; the register is
  today's — what a report frozen on the 1st shows), else
- for an older month, the latest snapshot on or before its last day (its day is given as `as_of`),
- else None ("not recorded").
The previous month end is the latest snapshot on or before the previous month's last day. Readiness =
(met + ½ partial) ÷ applicable requirements (apps.compliance.selectors.score_of). The top gaps (no control
first, then missing evidence, in the framework's order) always come from the live register as at `gaps_as_of`.

"What changed" uses the models' own dates in the client's calendar month: evidence approved (approved_at),
evidence that expired (expires_on, the last day it proved anything, in the month and before today; approved
or expired ones),
controls added (created_at) and frameworks enabled (enabled_at).

Data:
    url
    frameworks          [{name, full_name, version, url, readiness_percent | None, basis ("snapshot" | "live" | None),
                          as_of (ISO day) | None, previous_percent | None, previous_as_of | None,
                          change_points | None, met, partial, gaps, missing_evidence, no_control, not_applicable,
                          applicable, top_gaps: [{ref, title, status, status_label, url}], enabled_on,
                          enabled_in_month}]
    framework_count
    gaps_as_of          the day the gap lists are computed as at
    top_gap_count       how many gaps the lists hold (at most 5 per framework)
    evidence_approved   [{title, approved_on, controls}]   evidence_approved_count
    evidence_expired    [{title, expired_on, controls}]    evidence_expired_count
    controls_added      [{code, name, status_label}]       controls_added_count
    frameworks_enabled  [{name, enabled_on}]               frameworks_enabled_count
    charts              [readiness at this month end vs the previous one] or []
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from apps.compliance import selectors
from apps.compliance.models import Control, Evidence, ReadinessSnapshot
from apps.reports.period import ReportPeriod, add_months, month_last_day, ratio

KEY = "compliance"
TITLE = "Compliance readiness"

TOP_GAPS = 5
GAP_STATUSES = (selectors.NO_CONTROL, selectors.MISSING)
CONTROL_LABELS = dict(Control.Status.choices)


def _local_day(moment: dt.datetime, period: ReportPeriod) -> str:
    return moment.astimezone(period.tz).date().isoformat()


def _snapshots_on_or_before(cf_ids: list[int], day: dt.date) -> dict[int, ReadinessSnapshot]:
    """The latest snapshot of each framework on or before `day` (one query)."""
    if not cf_ids:
        return {}
    latest = (
        ReadinessSnapshot.objects.filter(client_framework_id__in=cf_ids, day__lte=day)
        .order_by("client_framework_id", "-day")
        .distinct("client_framework_id")
    )
    return {snap.client_framework_id: snap for snap in latest}


def _score(value: Decimal | None) -> str | None:
    return ratio(value, 1) if value is not None else None


def _counts(counts: dict) -> dict:
    get = lambda status: int(counts.get(status, 0) or 0)  # noqa: E731
    missing, no_control = get(selectors.MISSING), get(selectors.NO_CONTROL)
    return {
        "met": get(selectors.MET),
        "partial": get(selectors.PARTIAL),
        "gaps": missing + no_control,
        "missing_evidence": missing,
        "no_control": no_control,
        "not_applicable": get(selectors.NOT_APPLICABLE),
        "applicable": sum(get(status) for status in selectors.ASSESSABLE_STATUSES),
    }


def build(period: ReportPeriod) -> dict:
    base = f"/c/{period.client_slug}/compliance/"
    today = selectors.client_today()
    as_of = min(period.last_day, today)
    recent = period.month >= add_months(today.replace(day=1), -1)
    starts, ends = period.starts_at, period.ends_at

    cfs = [cf for cf in selectors.client_frameworks() if cf.enabled_at < ends]
    ids = [cf.pk for cf in cfs]
    live = selectors.readiness_many(cfs, today=as_of) if cfs else {}
    at_end = _snapshots_on_or_before(ids, period.last_day)
    at_previous = _snapshots_on_or_before(ids, month_last_day(period.previous))

    rows = []
    for cf in cfs:
        result = live[cf.pk]
        snap = at_end.get(cf.pk)
        if snap is not None and snap.day == period.last_day:
            basis, score, counts, day = "snapshot", snap.score, snap.counts, snap.day
        elif recent:
            basis, score, counts, day = "live", result.score, result.counts, as_of
        elif snap is not None:
            basis, score, counts, day = "snapshot", snap.score, snap.counts, snap.day
        else:
            basis, score, counts, day = None, None, {}, None
        previous = at_previous.get(cf.pk)
        previous_score = previous.score if previous is not None else None
        change = score - previous_score if score is not None and previous_score is not None else None
        gaps = sorted(
            (row for row in result.rows if row.status in GAP_STATUSES),
            key=lambda row: (row.status != selectors.NO_CONTROL, row.requirement.position),
        )[:TOP_GAPS]
        rows.append(
            {
                "name": cf.framework.short_name,
                "full_name": cf.framework.name,
                "version": cf.version.version,
                "url": f"{base}frameworks/{cf.pk}/",
                "readiness_percent": _score(score),
                "basis": basis,
                "as_of": day.isoformat() if day else None,
                "previous_percent": _score(previous_score),
                "previous_as_of": previous.day.isoformat() if previous is not None else None,
                "change_points": _score(change),
                **_counts(counts),
                "top_gaps": [
                    {
                        "ref": row.requirement.ref_id,
                        "title": row.requirement.title,
                        "status": row.status,
                        "status_label": row.label,
                        "url": f"{base}frameworks/{cf.pk}/requirements/{row.requirement.pk}/",
                    }
                    for row in gaps
                ],
                "enabled_on": _local_day(cf.enabled_at, period),
                "enabled_in_month": starts <= cf.enabled_at < ends,
            }
        )

    approved = [
        {
            "title": evidence.title,
            "approved_on": _local_day(evidence.approved_at, period),
            "controls": [control.code for control in evidence.controls.all()],
        }
        for evidence in selectors.evidence_list()
        .filter(approved_at__gte=starts, approved_at__lt=ends)
        .order_by("approved_at", "pk")
    ]
    expired = [
        {
            "title": evidence.title,
            "expired_on": evidence.expires_on.isoformat(),
            "controls": [control.code for control in evidence.controls.all()],
        }
        for evidence in selectors.evidence_list()
        .filter(
            expires_on__gte=period.month,
            expires_on__lte=min(period.last_day, today - dt.timedelta(days=1)),  # not yet, in the current month
            status__in=[Evidence.Status.APPROVED, Evidence.Status.EXPIRED],
        )
        .order_by("expires_on", "pk")
    ]
    controls = [
        {"code": control.code, "name": control.name, "status_label": CONTROL_LABELS.get(control.status, "")}
        for control in selectors.controls_list().filter(created_at__gte=starts, created_at__lt=ends)
    ]
    enabled = [{"name": row["name"], "enabled_on": row["enabled_on"]} for row in rows if row["enabled_in_month"]]
    return {
        "url": base,
        "frameworks": rows,
        "framework_count": len(rows),
        "gaps_as_of": as_of.isoformat(),
        "top_gap_count": sum(len(row["top_gaps"]) for row in rows),
        "evidence_approved": approved,
        "evidence_approved_count": len(approved),
        "evidence_expired": expired,
        "evidence_expired_count": len(expired),
        "controls_added": controls,
        "controls_added_count": len(controls),
        "frameworks_enabled": enabled,
        "frameworks_enabled_count": len(enabled),
        "charts": _chart(period, rows),
    }


def _chart(period: ReportPeriod, rows: list[dict]) -> list[dict]:
    if not any(row["readiness_percent"] is not None for row in rows):
        return []
    previous_label = f"{period.previous:%B %Y}"
    return [
        {
            "id": "compliance-readiness",
            "title": "Readiness per framework at the month end",
            "description": f"Readiness in % of applicable requirements at the end of {period.label} and of "
            f"{previous_label}, per framework: "
            + "; ".join(
                f"{row['name']} {row['readiness_percent'] or 'not recorded'} "
                f"(before: {row['previous_percent'] or 'not recorded'})"
                for row in rows
            )
            + ".",
            "kind": "bar",
            "x": [row["name"] for row in rows],
            "unit": "%",
            "series": [
                {"name": f"End of {previous_label}", "values": [row["previous_percent"] for row in rows]},
                {"name": f"End of {period.label}", "values": [row["readiness_percent"] for row in rows]},
            ],
        }
    ]


_DIGIT = re.compile(r"\d")


def _named(row: dict) -> str:
    """The framework's name for a sentence, unless it carries digits (ISO/IEC 42001) that would read as a
    second figure."""
    for name in (row["name"], row["full_name"]):
        if name and not _DIGIT.search(name):
            return name
    return "one of your frameworks"


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """The biggest readiness change; the lowest readiness under half among the other frameworks; evidence
    expired (else evidence approved)."""
    out: list[dict] = []
    rows = list(enumerate(data.get("frameworks", [])))
    changed = [(i, row) for i, row in rows if row.get("change_points") and Decimal(row["change_points"]) != 0]
    mentioned = None
    if changed:
        i, row = max(changed, key=lambda pair: (abs(Decimal(pair[1]["change_points"])), -pair[0]))
        points = Decimal(row["change_points"])
        verb = "rose" if points > 0 else "fell"
        out.append(
            {
                "text": f"Readiness for {_named(row)} {verb} {abs(points)} points this month.",
                "figure": f"{KEY}.frameworks.{i}.change_points",
                "tone": "good" if points > 0 else "bad",
            }
        )
        mentioned = i
    scored = [(i, row) for i, row in rows if row.get("readiness_percent") is not None and i != mentioned]
    if scored:
        i, row = min(scored, key=lambda pair: (Decimal(pair[1]["readiness_percent"]), pair[0]))
        if Decimal(row["readiness_percent"]) < 50:
            out.append(
                {
                    "text": f"Readiness for {_named(row)} stood at {row['readiness_percent']} % at the month end: "
                    "fewer than half of its requirements are covered.",
                    "figure": f"{KEY}.frameworks.{i}.readiness_percent",
                    "tone": "bad",
                }
            )
    expired, approved = data.get("evidence_expired_count") or 0, data.get("evidence_approved_count") or 0
    if expired:
        what = "pieces of evidence" if expired != 1 else "piece of evidence"
        proves = "they prove" if expired != 1 else "it proves"
        out.append(
            {
                "text": f"{expired} {what} expired this month; the controls {proves} need fresh evidence.",
                "figure": f"{KEY}.evidence_expired_count",
                "tone": "bad",
            }
        )
    elif approved:
        what = "pieces of evidence were" if approved != 1 else "piece of evidence was"
        out.append(
            {
                "text": f"{approved} {what} approved this month.",
                "figure": f"{KEY}.evidence_approved_count",
                "tone": "good",
            }
        )
    return out
