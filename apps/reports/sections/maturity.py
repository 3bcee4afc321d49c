"""Maturity and roadmap: the latest final capability assessment as at the month end, compared with the final
one before it, its dimensions against their targets and the hard questions; and the roadmap's progress.

The assessment shown is the latest one (by the day it describes, `assessed_on`) that describes a day on or
before the month's last day and was final by the month end (finalised before the first day of the next month,
client time): what was known when the month closed, so a re-issue of the report shows the same. Its figures
are the ones frozen on the assessment (`overall_score`, `results`); the previous one is the final assessment of
the same template just before it.

Roadmap at the month end (the items keep no status history, so from their dates): done in the month =
completed_on in the month; open at the month end = created before the month ended and open now, or done after
the month (completed_on later), or dropped after it (updated since); overdue = open at the month end and due on
or before its last day (before today while the month runs); next due = the open ones due after that, soonest
first.

Data:
    url, roadmap_url
    assessment_title, assessed_on, assessment_url, template_name      (None without an assessment)
    score ("65.00" of 100) | None, level ("3.6" of 5) | None
    previous_title, previous_assessed_on, previous_score | None, score_delta | None (points)
    dimensions          [{ref, name, level | None, target | None, gap | None, score | None}]
    gap_count           dimensions below their target
    hard_questions_satisfied, hard_questions_total, red_flags
    roadmap_done_in_month          [{title, dimension, completed_on}]     roadmap_done_in_month_count
    roadmap_open_count
    roadmap_overdue                [{title, dimension, due_on, owner}]    roadmap_overdue_count
    roadmap_next_due               [{title, dimension, due_on, priority_label, status_label, owner}] (5)
    charts              [dimension levels vs targets, grouped bars] or []
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from apps.assessments import selectors
from apps.assessments.models import Assessment, RoadmapItem
from apps.reports.period import ReportPeriod

KEY = "maturity"
TITLE = "Maturity and roadmap"

NEXT_DUE = 5
OVERDUE_LISTED = 10
CANDIDATES = 20
PRIORITY_LABELS = dict(RoadmapItem.Priority.choices)
STATUS_LABELS = dict(RoadmapItem.Status.choices)


def _final_by_month_end(period: ReportPeriod) -> list[Assessment]:
    finals = (
        selectors.assessments_list()
        .filter(status=Assessment.Status.FINAL, assessed_on__lte=period.last_day)
        .filter(Q(finalised_at__lt=period.ends_at) | Q(finalised_at__isnull=True))
    )
    return selectors.assessments_with_versions(finals[:CANDIDATES])


def _template_id(assessment: Assessment):
    version = assessment.template_version
    return version.template_id if version is not None else None


def build(period: ReportPeriod) -> dict:
    base = f"/c/{period.client_slug}/assessments/"
    finals = _final_by_month_end(period)
    latest = finals[0] if finals else None
    previous = None
    if latest is not None:
        previous = next((a for a in finals[1:] if _template_id(a) == _template_id(latest)), None)

    data: dict = {
        "url": base,
        "roadmap_url": f"{base}roadmap/",
        "assessment_title": None,
        "assessed_on": None,
        "assessment_url": None,
        "template_name": None,
        "score": None,
        "level": None,
        "previous_title": None,
        "previous_assessed_on": None,
        "previous_score": None,
        "score_delta": None,
        "dimensions": [],
        "gap_count": 0,
        "hard_questions_satisfied": 0,
        "hard_questions_total": 0,
        "red_flags": 0,
    }
    if latest is not None:
        results = latest.results or {}
        hard = results.get("hard_questions") or {}
        dimensions = [
            {
                "ref": row.get("ref"),
                "name": row.get("name"),
                "level": row.get("level"),
                "target": str(row["target"]) if row.get("target") is not None else None,
                "gap": row.get("gap"),
                "score": row.get("score"),
            }
            for row in results.get("dimensions", [])
        ]
        version = latest.template_version
        data.update(
            assessment_title=latest.title,
            assessed_on=latest.assessed_on.isoformat(),
            assessment_url=f"{base}{latest.pk}/",
            template_name=version.template.name if version is not None else None,
            score=str(latest.overall_score) if latest.overall_score is not None else None,
            level=results.get("overall_level"),
            dimensions=dimensions,
            gap_count=sum(1 for row in dimensions if row["gap"] is not None and Decimal(row["gap"]) > 0),
            hard_questions_satisfied=int(hard.get("satisfied") or 0),
            hard_questions_total=int(hard.get("total") or 0),
            red_flags=int(hard.get("red_flags") or 0),
        )
        if previous is not None:
            data.update(
                previous_title=previous.title,
                previous_assessed_on=previous.assessed_on.isoformat(),
                previous_score=str(previous.overall_score) if previous.overall_score is not None else None,
            )
            if latest.overall_score is not None and previous.overall_score is not None:
                data["score_delta"] = str(latest.overall_score - previous.overall_score)
    data.update(_roadmap(period))
    data["charts"] = _chart(data)
    return data


def _was_open_at_month_end(item: RoadmapItem, period: ReportPeriod) -> bool:
    if item.created_at >= period.ends_at:
        return False
    if item.is_open:
        return True
    if item.status == RoadmapItem.Status.DONE:
        return item.completed_on is not None and item.completed_on > period.last_day
    return item.updated_at >= period.ends_at  # dropped after the month


def _roadmap(period: ReportPeriod) -> dict:
    items = list(selectors.roadmap_items())
    done = sorted(
        (
            item
            for item in items
            if item.status == RoadmapItem.Status.DONE
            and item.completed_on is not None
            and period.month <= item.completed_on <= period.last_day
        ),
        key=lambda item: (item.completed_on, item.pk),
    )
    open_items = [item for item in items if _was_open_at_month_end(item, period)]
    # Overdue = due before the day after the month (or before today, for the month still running).
    cutoff = min(period.next, timezone.now().astimezone(period.tz).date())
    overdue = sorted(
        (item for item in open_items if item.due_on is not None and item.due_on < cutoff),
        key=lambda item: (item.due_on, item.pk),
    )
    upcoming = sorted(
        (item for item in open_items if item.is_open and item.due_on is not None and item.due_on >= cutoff),
        key=lambda item: (item.due_on, -item.priority_score, item.pk),
    )[:NEXT_DUE]
    return {
        "roadmap_done_in_month": [
            {"title": item.title, "dimension": item.dimension_name, "completed_on": item.completed_on.isoformat()}
            for item in done
        ],
        "roadmap_done_in_month_count": len(done),
        "roadmap_open_count": len(open_items),
        "roadmap_overdue": [
            {
                "title": item.title,
                "dimension": item.dimension_name,
                "due_on": item.due_on.isoformat(),
                "owner": item.owner_email,
            }
            for item in overdue[:OVERDUE_LISTED]
        ],  # fmt: skip
        "roadmap_overdue_count": len(overdue),
        "roadmap_next_due": [
            {
                "title": item.title,
                "dimension": item.dimension_name,
                "due_on": item.due_on.isoformat(),
                "priority_label": PRIORITY_LABELS.get(item.priority, item.priority),
                "status_label": STATUS_LABELS.get(item.status, item.status),
                "owner": item.owner_email,
            }
            for item in upcoming
        ],
    }


def _chart(data: dict) -> list[dict]:
    rows = [row for row in data["dimensions"] if row["level"] is not None or row["target"] is not None]
    if not rows or all(row["level"] is None for row in rows):
        return []
    return [
        {
            "id": "maturity-dimensions",
            "title": "Maturity by dimension: current level and target",
            "description": "Level from 1 to 5 per dimension in the assessment of "
            f"{data['assessed_on']}, against its target: "
            + "; ".join(
                f"{row['name']} {row['level'] or 'not assessed'} (target {row['target'] or 'none'})" for row in rows
            )
            + ".",
            "kind": "bar",
            "x": [row["name"] for row in rows],
            "unit": "level",
            "series": [
                {"name": "Current", "values": [row["level"] for row in rows]},
                {"name": "Target", "values": [row["target"] for row in rows]},
            ],
        }
    ]


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """The score (or its change since the previous assessment); red flags; overdue roadmap work (else done)."""
    out: list[dict] = []
    if data.get("score") is not None:
        delta = Decimal(data["score_delta"]) if data.get("score_delta") is not None else None
        if delta:
            verb = "rose" if delta > 0 else "fell"
            out.append(
                {
                    "text": f"The maturity score {verb} {abs(delta)} points since the previous assessment.",
                    "figure": f"{KEY}.score_delta",
                    "tone": "good" if delta > 0 else "bad",
                }
            )
        else:
            out.append(
                {
                    "text": f"The latest maturity assessment scores {data['score']} out of a hundred.",
                    "figure": f"{KEY}.score",
                    "tone": "neutral",
                }
            )
    flags = data.get("red_flags") or 0
    if flags:
        what = "hard questions raise a red flag" if flags != 1 else "hard question raises a red flag"
        out.append({"text": f"{flags} {what} in the assessment.", "figure": f"{KEY}.red_flags", "tone": "bad"})
    overdue, done = data.get("roadmap_overdue_count") or 0, data.get("roadmap_done_in_month_count") or 0
    if overdue:
        what = "roadmap items were" if overdue != 1 else "roadmap item was"
        out.append(
            {
                "text": f"{overdue} {what} overdue at the month end.",
                "figure": f"{KEY}.roadmap_overdue_count",
                "tone": "bad",
            }
        )
    elif done:
        what = "roadmap items were" if done != 1 else "roadmap item was"
        out.append(
            {
                "text": f"{done} {what} completed this month.",
                "figure": f"{KEY}.roadmap_done_in_month_count",
                "tone": "good",
            }
        )
    return out
