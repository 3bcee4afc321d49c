"""Which report versions a person may see, and the summary rows the list shows."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.accounts.roles import Cap

from .models import Delivery, Report

PUBLISHED = (Report.Status.ISSUED, Report.Status.SUPERSEDED)


def reports_visible(access) -> QuerySet[Report]:
    """Staff who edit the client see every version; everyone else (client executives, read-only keys) sees
    only what was issued."""
    reports = Report.objects.all()
    if not access.can(Cap.EDIT):
        reports = reports.filter(status__in=PUBLISHED)
    return reports.order_by("-month", "-version")


def reports_list(access) -> QuerySet[Report]:
    return (
        reports_visible(access)
        .defer("data")
        .annotate(
            sent=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)),
            failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
        )
    )


def report_get(access, pk: int) -> Report | None:
    return (
        reports_visible(access)
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("-attempted_at", "-id")))
        .filter(pk=pk)
        .first()
    )


def versions_of(report: Report, access) -> list[Report]:
    return list(reports_visible(access).filter(month=report.month).defer("data"))
