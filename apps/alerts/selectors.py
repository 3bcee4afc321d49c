from django.db.models import Count, Q, QuerySet

from .models import Alert


def alerts_list(*, state: str = "", severity: str = "", kind: str = "", query: str = "") -> QuerySet[Alert]:
    qs = Alert.objects.all()
    if state == "active":
        qs = qs.exclude(state=Alert.State.RESOLVED)
    elif state:
        qs = qs.filter(state=state)
    if severity:
        qs = qs.filter(severity=severity)
    if kind:
        qs = qs.filter(kind=kind)
    if query:
        qs = qs.filter(Q(subject__icontains=query) | Q(body__icontains=query))
    return qs.order_by("severity_rank", "-last_seen_at")  # worst first


def alert_counts() -> dict:
    """Open alerts by severity: what the console and the workspace header show."""
    rows = Alert.objects.exclude(state=Alert.State.RESOLVED).values("severity").annotate(n=Count("id"))
    counts = {row["severity"]: row["n"] for row in rows}
    counts["total"] = sum(counts.values())
    return counts


def alerts_active_for_rollup(limit: int = 50) -> list[Alert]:
    return list(Alert.objects.exclude(state=Alert.State.RESOLVED).order_by("severity_rank", "-last_seen_at")[:limit])
