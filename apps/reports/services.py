"""The monthly report's life: a version is computed (on the schedule, on demand, or as a re-issue), the account
manager writes the commentary and reviews it, issuing freezes it as a PDF and emails it to the client's
executives. Every write is audited; the figures never change once computed (a database trigger)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.services import audit_record
from apps.core.context import actor_label
from apps.tenancy.selectors import current_client

from .models import Delivery, Report
from .period import add_months
from .render import report_pdf
from .snapshot import build_snapshot, data_hash, period_for

logger = logging.getLogger(__name__)
MAX_COMMENTARY = 20_000
MIN_REASON = 10


class ReportStateError(Exception):
    """The action does not fit the version's state; the message says what to do instead."""


def _state(report: Report) -> dict:
    return {
        "month": report.month.isoformat(),
        "version": report.version,
        "status": report.status,
        "data_sha256": report.data_sha256,
        "pdf_sha256": report.pdf_sha256,
        "commentary_chars": len(report.commentary),
    }


def _refresh_console_on_commit(report: Report) -> None:
    """After the commit, in this client's schema (the commit may happen after the caller left it)."""
    schema = connection.schema_name

    def refresh():
        with schema_context(schema):
            _refresh_console(report)

    transaction.on_commit(refresh)


def _refresh_console(report: Report) -> None:
    """The console's 'last report' column (a public-schema rollup)."""
    from apps.portfolio.services import report_status_refresh  # portfolio reads reports: import late

    latest = Report.objects.exclude(status=Report.Status.SUPERSEDED).order_by("-month", "-version").first()
    if latest is not None:
        report_status_refresh(
            month=latest.month, status=latest.status, version=latest.version, issued_at=latest.issued_at
        )


def reportable_month(today_local: dt.date) -> dt.date:
    """The month a report made today covers: the last full month in the client's calendar."""
    return add_months(today_local.replace(day=1), -1)


def _compute(month: dt.date, *, now: dt.datetime | None = None) -> tuple[dict, dt.datetime]:
    client = current_client()
    now = now or timezone.now()
    return build_snapshot(period_for(client, month), now=now), now


def report_create(
    *, month: dt.date, trigger: str = Report.Trigger.MANUAL, reason: str = "", now: dt.datetime | None = None
) -> Report:
    """A new version of `month`'s report, computed now, as a draft. The month must have ended in the client's
    time zone. An issued month takes a re-issue (with a reason); one draft at a time."""
    month = month.replace(day=1)
    client = current_client()
    today_local = (now or timezone.now()).astimezone(client.tz).date()
    if month > reportable_month(today_local):
        raise ValidationError({"month": f"{month:%B %Y} has not ended yet in {client.time_zone}."})
    with transaction.atomic():
        # One writer per client at a time: the version numbers and the one-open-version rule stay simple.
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':keel-report'))")
        versions = Report.objects.filter(month=month)
        if versions.filter(status__in=[Report.Status.DRAFT, Report.Status.REVIEWED]).exists():
            raise ReportStateError(
                f"{month:%B %Y} already has a version being prepared: recompute or issue it instead."
            )
        issued = versions.filter(status=Report.Status.ISSUED).exists()
        reason = reason.strip()
        if issued:
            if trigger == Report.Trigger.SCHEDULE:
                raise ReportStateError(f"{month:%B %Y} is already issued.")
            if len(reason) < MIN_REASON:
                raise ValidationError(
                    {"reason": "Say why the issued report needs a new version (10 characters or more)."}
                )
            trigger = Report.Trigger.REISSUE
        data, computed_at = _compute(month, now=now)
        version = (versions.aggregate(n=Max("version"))["n"] or 0) + 1
        report = Report.objects.create(
            month=month,
            version=version,
            trigger=trigger,
            reason=reason,
            data=data,
            data_sha256=data_hash(data),
            computed_at=computed_at,
            created_by=actor_label(),
        )
        audit_record(action="report.create", target=report, after=_state(report))
    _refresh_console_on_commit(report)
    return report


def _open_version(report: Report) -> Report:
    if report.is_frozen:
        raise ReportStateError(
            f"Version {report.version} of the {report.label} report is {report.get_status_display().lower()} "
            "and can no longer change: make a new version (re-issue) instead."
        )
    return report


def report_recompute(report: Report) -> Report:
    """Recompute a draft's figures from the data as it is now (late data, a fixed input). The draft keeps its
    version number and commentary and goes back to draft."""
    _open_version(report)
    with transaction.atomic():
        before = _state(report)
        data, computed_at = _compute(report.month)
        fields = {
            "month": report.month,
            "version": report.version,
            "trigger": report.trigger,
            "reason": report.reason,
            "commentary": report.commentary,
            "created_by": report.created_by,
        }
        report.delete()  # the figures never change in place: the trigger refuses it
        report = Report.objects.create(
            **fields, data=data, data_sha256=data_hash(data), computed_at=computed_at, status=Report.Status.DRAFT
        )
        audit_record(action="report.recompute", target=report, before=before, after=_state(report))
    _refresh_console_on_commit(report)
    return report


def report_commentary_save(report: Report, *, commentary: str) -> Report:
    """The account manager's words. A reviewed version whose commentary changes needs reviewing again."""
    _open_version(report)
    commentary = commentary.strip()
    if len(commentary) > MAX_COMMENTARY:
        raise ValidationError({"commentary": f"Keep the commentary under {MAX_COMMENTARY:,} characters."})
    if commentary == report.commentary:
        return report
    before = _state(report)
    with transaction.atomic():
        report.commentary = commentary
        if report.status == Report.Status.REVIEWED:
            report.status = Report.Status.DRAFT
            report.reviewed_at, report.reviewed_by = None, ""
        report.save(update_fields=["commentary", "status", "reviewed_at", "reviewed_by"])
        audit_record(action="report.commentary", target=report, before=before, after=_state(report))
    return report


def report_review(report: Report) -> Report:
    _open_version(report)
    if report.status != Report.Status.DRAFT:
        raise ReportStateError("This version is already reviewed.")
    failed = [key for key, section in report.data["sections"].items() if "error" in section]
    if failed:
        raise ReportStateError(
            "Some sections could not be computed (" + ", ".join(failed) + "): fix the cause and recompute first."
        )
    before = _state(report)
    with transaction.atomic():
        report.status = Report.Status.REVIEWED
        report.reviewed_at, report.reviewed_by = timezone.now(), actor_label()
        report.save(update_fields=["status", "reviewed_at", "reviewed_by"])
        audit_record(action="report.review", target=report, before=before, after=_state(report))
    _refresh_console_on_commit(report)
    return report


def _storage_name(report: Report, digest: str) -> str:
    return f"reports/{connection.schema_name}/{report.month:%Y-%m}-v{report.version}-{digest[:12]}.pdf"


def report_issue(report: Report) -> Report:
    """Freeze a reviewed version: render and store its PDF, supersede the month's previous issued version, and
    email it to the client's executives (after the commit, by the worker)."""
    _open_version(report)
    if report.status != Report.Status.REVIEWED:
        raise ReportStateError("Review the report before issuing it.")
    before = _state(report)
    # The PDF is rendered as the issued document it becomes (status, date and issuer in its header and footer).
    report.status, report.issued_at, report.issued_by = Report.Status.ISSUED, timezone.now(), actor_label()
    name = ""
    try:
        pdf = report_pdf(report)
        digest = hashlib.sha256(pdf).hexdigest()
        name = default_storage.save(_storage_name(report, digest), ContentFile(pdf))
        with transaction.atomic():
            previous = Report.objects.filter(month=report.month, status=Report.Status.ISSUED).first()
            if previous is not None:
                previous.status = Report.Status.SUPERSEDED
                previous.save(update_fields=["status"])
                audit_record(action="report.supersede", target=previous, after=_state(previous))
            report.pdf, report.pdf_sha256, report.pdf_size = name, digest, len(pdf)
            report.save(update_fields=["status", "issued_at", "issued_by", "pdf", "pdf_sha256", "pdf_size"])
            audit_record(action="report.issue", target=report, before=before, after=_state(report))
    except Exception:
        if name:
            default_storage.delete(name)  # nothing half-issued: the version stays reviewed
        report.refresh_from_db()
        raise
    pk, schema = report.pk, connection.schema_name

    def enqueue():
        from .tasks import deliver_report_task

        with schema_context(schema):
            try:
                deliver_report_task.delay(pk)
            except Exception:  # eager mode: a failed email is already in the delivery log
                logger.exception("report %s delivery failed", pk)
            _refresh_console(Report.objects.get(pk=pk))

    transaction.on_commit(enqueue)
    return report


def executive_recipients(client) -> list[str]:
    """The client's executives whose access is current."""
    from apps.accounts.models import Membership
    from apps.accounts.roles import Role

    now = timezone.now()
    emails = (
        Membership.objects.filter(client=client, role=Role.CLIENT_EXECUTIVE, user__is_active=True)
        .exclude(expires_at__lte=now)
        .values_list("user__email", flat=True)
    )
    return sorted(set(emails))


def report_url(report: Report, client) -> str:
    return f"{settings.KEEL_BASE_URL.rstrip('/')}/c/{client.slug}/reports/{report.pk}/"


def report_email(report: Report, client, recipient: str) -> EmailMultiAlternatives:
    from apps.core.branding import branding

    context = {
        "report": report,
        "data": report.data,
        "client": client,
        "url": report_url(report, client),
        "brand": branding(),
    }
    subject = f"{client.name}: AI operations report for {report.label}"
    if report.version > 1:
        subject += f" (version {report.version})"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
    )
    message.attach_alternative(render_to_string("reports/email.html", context), "text/html")
    with default_storage.open(report.pdf.name, "rb") as handle:
        message.attach(report.pdf_name, handle.read(), "application/pdf")
    return message


def report_deliver(report: Report, *, only: list[str] | None = None) -> list[Delivery]:
    """Email an issued version to each executive (or to `only` those), one delivery record per attempt.
    A failure is recorded with its reason and does not stop the others."""
    if report.status != Report.Status.ISSUED:
        raise ReportStateError("Only an issued report is sent.")
    client = current_client()
    recipients = only if only is not None else executive_recipients(client)
    deliveries = []
    for recipient in recipients:
        try:
            report_email(report, client, recipient).send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 — SMTP refusals, a missing file: logged per recipient
            logger.warning("report %s to %s failed: %s", report.pk, recipient, exc)
            deliveries.append(
                Delivery.objects.create(
                    report=report,
                    recipient=recipient,
                    status=Delivery.Status.FAILED,
                    error=str(exc)[:1000] or exc.__class__.__name__,
                )
            )
        else:
            deliveries.append(Delivery.objects.create(report=report, recipient=recipient, status=Delivery.Status.SENT))
    if recipients:
        audit_record(
            action="report.deliver",
            target=report,
            after={
                "sent": [d.recipient for d in deliveries if d.status == Delivery.Status.SENT],
                "failed": [d.recipient for d in deliveries if d.status == Delivery.Status.FAILED],
            },
        )
    return deliveries


def failed_recipients(report: Report) -> list[str]:
    """Recipients whose latest attempt failed."""
    latest: dict[str, str] = {}
    for recipient, status in report.deliveries.order_by("attempted_at", "id").values_list("recipient", "status"):
        latest[recipient] = status
    return sorted(r for r, status in latest.items() if status == Delivery.Status.FAILED)


def monthly_report_due(*, now: dt.datetime | None = None) -> Report | None:
    """The scheduled step (hourly, per client): once the client's month has turned, draft the report on the
    month just ended — exactly once, and catching up if the schedule was down on the 1st. A client created
    after that month ended gets none."""
    now = now or timezone.now()
    client = current_client()
    if client is None:
        return None
    local_today = now.astimezone(client.tz).date()
    month = reportable_month(local_today)
    month_end_local = dt.datetime.combine(add_months(month, 1), dt.time(), tzinfo=client.tz)
    if client.created_at and client.created_at >= month_end_local:
        return None
    if Report.objects.filter(month=month).exists():
        return None
    return report_create(month=month, trigger=Report.Trigger.SCHEDULE, now=now)
