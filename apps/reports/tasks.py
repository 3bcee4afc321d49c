"""Scheduled report work, per client schema (beat entry in config/celery.py)."""

from __future__ import annotations

from apps.core.tasks import keel_task


@keel_task("reports.monthly_due", max_retries=2)
def monthly_due_task() -> dict:
    """Hourly: draft last month's report once the month has turned in the client's time zone."""
    from .services import monthly_report_due

    report = monthly_report_due()
    return {"created": report.pk if report else None}


@keel_task("reports.deliver", max_retries=0)
def deliver_report_task(report_id: int) -> dict:
    """Email an issued report to the client's executives (each attempt is in the delivery log)."""
    from .models import Report
    from .services import report_deliver

    report = Report.objects.get(pk=report_id)
    deliveries = report_deliver(report)
    return {
        "sent": sum(1 for d in deliveries if d.status == "sent"),
        "failed": sum(1 for d in deliveries if d.status == "failed"),
    }
