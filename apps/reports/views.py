"""Portal pages of the monthly report (/c/<slug>/reports/): the list of months and versions, one version with
its figures and charts, the workflow (commentary, review, issue, re-issue) and the delivery log, the PDF.

Reading needs `view` (client executives see issued versions only); computing a version needs `edit`; review,
issue, re-issue and re-sending need `issue_reports` (account managers)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required
from apps.tenancy.selectors import current_client

from . import services
from .models import Report
from .period import add_months
from .render import PAPER_SIZES, document_context, report_pdf
from .selectors import report_get, reports_list, versions_of

STATUS_CHIPS = {"draft": "chip-muted", "reviewed": "sev-medium", "issued": "chip-ok", "superseded": "chip-muted"}


def _months_offered(client, reports) -> list:
    """The last 12 ended months in the client's calendar without a report yet, newest first (a month that has
    one is recomputed or re-issued from its own page)."""
    latest = services.reportable_month(timezone.now().astimezone(client.tz).date())
    reported = {r.month for r in reports}
    return [m for m in (add_months(latest, -offset) for offset in range(12)) if m not in reported]


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(m for messages_ in exc.message_dict.values() for m in messages_)
    return " ".join(exc.messages)


@capability_required(Cap.VIEW)
def report_list(request):
    client = current_client()
    reports = list(reports_list(request.access))
    return render(
        request,
        "reports/list.html",
        {
            "reports": reports,
            "chips": STATUS_CHIPS,
            "months": _months_offered(client, reports) if request.access.can(Cap.EDIT) else [],
            "can_edit": request.access.can(Cap.EDIT),
        },
    )


@require_POST
@capability_required(Cap.EDIT)
def report_new(request):
    try:
        month = dt.date.fromisoformat(request.POST.get("month", ""))
    except ValueError:
        messages.error(request, "Choose the month to report on.")
        return redirect("reports:list")
    try:
        report = services.report_create(month=month, reason=request.POST.get("reason", ""))
    except services.ReportStateError as exc:
        messages.error(request, str(exc))
        existing = Report.objects.filter(month=month.replace(day=1)).exclude(status="superseded").first()
        return redirect("reports:detail", pk=existing.pk) if existing else redirect("reports:list")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("reports:list")
    messages.success(request, f"Version {report.version} of the {report.label} report is computed: review it.")
    return redirect("reports:detail", pk=report.pk)


def _get(request, pk: int) -> Report:
    report = report_get(request.access, pk)
    if report is None:
        raise Http404("No such report.")
    return report


@capability_required(Cap.VIEW)
def report_detail(request, pk: int):
    report = _get(request, pk)
    context = document_context(report, web=True)
    can_issue = request.access.can(Cap.ISSUE_REPORTS)
    context.update(
        {
            "chips": STATUS_CHIPS,
            "versions": versions_of(report, request.access),
            "deliveries": list(report.deliveries.all()) if request.access.can(Cap.EDIT) else [],
            "failed_recipients": services.failed_recipients(report) if can_issue and report.status == "issued" else [],
            "recipients": services.executive_recipients(current_client()) if request.access.can(Cap.EDIT) else [],
            "can_edit": request.access.can(Cap.EDIT) and not report.is_frozen,
            "can_issue": can_issue,
            "can_reissue": can_issue
            and report.status == Report.Status.ISSUED
            and not Report.objects.filter(month=report.month, status__in=["draft", "reviewed"]).exists(),
        }
    )
    return render(request, "reports/detail.html", context)


def _act(request, pk: int, action, success: str):
    report = _get(request, pk)
    try:
        report = action(report)
    except services.ReportStateError as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, success.format(report=report))
    return redirect("reports:detail", pk=report.pk)


@require_POST
@capability_required(Cap.EDIT)
def report_commentary(request, pk: int):
    text = request.POST.get("commentary", "")
    return _act(
        request,
        pk,
        lambda r: services.report_commentary_save(r, commentary=text),
        "Commentary saved.",
    )


@require_POST
@capability_required(Cap.EDIT)
def report_recompute(request, pk: int):
    return _act(request, pk, services.report_recompute, "Figures recomputed from the data as it is now.")


@require_POST
@capability_required(Cap.ISSUE_REPORTS)
def report_review(request, pk: int):
    return _act(request, pk, services.report_review, "Marked reviewed. Issue it to send it to the client.")


@require_POST
@capability_required(Cap.ISSUE_REPORTS)
def report_issue(request, pk: int):
    return _act(
        request, pk, services.report_issue, "Issued. The PDF is frozen and is being emailed to the client's executives."
    )


@require_POST
@capability_required(Cap.ISSUE_REPORTS)
def report_reissue(request, pk: int):
    report = _get(request, pk)
    try:
        new = services.report_create(
            month=report.month, trigger=Report.Trigger.REISSUE, reason=request.POST.get("reason", "")
        )
    except services.ReportStateError as exc:
        messages.error(request, str(exc))
        return redirect("reports:detail", pk=report.pk)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("reports:detail", pk=report.pk)
    messages.success(
        request,
        f"Version {new.version} computed from today's data. Review and issue it to replace version {report.version}.",
    )
    return redirect("reports:detail", pk=new.pk)


@require_POST
@capability_required(Cap.ISSUE_REPORTS)
def report_resend(request, pk: int):
    report = _get(request, pk)
    failed = services.failed_recipients(report)
    if not failed:
        messages.info(request, "Every recipient has received this report.")
        return redirect("reports:detail", pk=pk)
    try:
        deliveries = services.report_deliver(report, only=failed)
    except services.ReportStateError as exc:
        messages.error(request, str(exc))
    else:
        sent = sum(1 for d in deliveries if d.status == "sent")
        messages.success(request, f"Sent again to {sent} of {len(deliveries)}.")
    return redirect("reports:detail", pk=pk)


@capability_required(Cap.VIEW)
def report_pdf_download(request, pk: int):
    """An issued version's stored PDF (exactly what was sent); a draft is rendered on the fly, marked draft.
    ?paper=letter renders the same figures on US Letter."""
    report = _get(request, pk)
    paper = request.GET.get("paper", "")
    if paper not in PAPER_SIZES:
        paper = ""
    if report.pdf and not paper:
        if not default_storage.exists(report.pdf.name):
            raise Http404("The stored PDF is missing from storage.")
        response = FileResponse(default_storage.open(report.pdf.name, "rb"), content_type="application/pdf")
    else:
        response = HttpResponse(report_pdf(report, paper=paper or None), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{report.pdf_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
