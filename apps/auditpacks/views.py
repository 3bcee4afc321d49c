"""Audit-pack pages under Compliance: the list with the request form and the signing key, one pack's manifest
summary, the polled status row, the download. Everything needs `view_register` (MSP staff and auditors)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.pagination import paginate
from apps.core.permissions import capability_required

from .forms import AuditPackForm
from .models import AuditPack
from .selectors import pack_get, packs_list, signing_key_info
from .services import PackUnavailable, auditpack_open, auditpack_request


def _pack_or_404(pk) -> AuditPack:
    pack = pack_get(pk)
    if pack is None:
        raise Http404("No such audit pack.")
    return pack


def _list_page(request, form: AuditPackForm, *, status: int = 200):
    page, querystring = paginate(request, packs_list(), per_page=25)
    context = {
        "form": form,
        "page": page,
        "packs": page.object_list,
        "querystring": querystring,
        "key": signing_key_info(),
        "is_auditor": not request.access.can(Cap.EDIT),
    }
    return render(request, "auditpacks/list.html", context, status=status)


@capability_required(Cap.VIEW_REGISTER)
def pack_list(request):
    return _list_page(request, AuditPackForm())


@require_POST
@capability_required(Cap.VIEW_REGISTER)
def pack_request(request):
    form = AuditPackForm(request.POST)
    if form.is_valid():
        try:
            pack = auditpack_request(**form.service_fields())
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                form.add_error(key if key in form.fields else None, errors)
        else:
            pack.refresh_from_db()  # eager set-ups build it at once
            if pack.status == AuditPack.Status.READY:
                messages.success(request, f"Audit pack #{pack.pk} is ready to download.")
            elif pack.status == AuditPack.Status.FAILED:
                messages.error(request, f"Audit pack #{pack.pk} could not be built: {pack.error}")
            else:
                messages.success(request, f"Audit pack #{pack.pk} is queued; this page shows when it is ready.")
            return redirect("auditpacks:list")
    return _list_page(request, form, status=400)


@capability_required(Cap.VIEW_REGISTER)
def pack_row(request, pk):
    """The table row of one pack, polled by htmx while the pack is queued or building."""
    return render(request, "auditpacks/_row.html", {"pack": _pack_or_404(pk)})


@capability_required(Cap.VIEW_REGISTER)
def pack_detail(request, pk):
    pack = _pack_or_404(pk)
    summary = pack.summary or {}
    scores = summary.get("readiness", {})
    frameworks = [{**f, "score": scores.get(f["ref"])} for f in summary.get("frameworks", [])]
    context = {"pack": pack, "s": summary, "frameworks": frameworks, "key": signing_key_info()}
    return render(request, "auditpacks/detail.html", context)


@capability_required(Cap.VIEW_REGISTER)
def pack_download(request, pk):
    pack = _pack_or_404(pk)
    try:
        handle = auditpack_open(pack=pack)
    except PackUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("auditpacks:detail", pk=pack.pk)
    response = FileResponse(handle, as_attachment=True, filename=pack.download_name, content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["X-Audit-Pack-SHA256"] = pack.sha256
    return response
