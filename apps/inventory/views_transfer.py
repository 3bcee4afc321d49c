"""Portal pages for moving the inventory in and out: CSV import (upload → preview → commit), CSV export,
and the CycloneDX AI-BOM download.

Between preview and commit the uploaded file waits in default_storage under inventory-imports/; the page
carries its name signed (and bound to this client), so a commit can only import what was previewed here.
A file with errors is never stored: its preview is shown at once and nothing waits for a commit.
"""

from __future__ import annotations

import json
import secrets

from django import forms
from django.contrib import messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required
from apps.core.uploads import pending_upload, pending_upload_token

from .aibom import MEDIA_TYPE, ai_bom_document
from .models import AssetKind
from .selectors import assets_list
from .transfer import (
    COLUMN_HELP,
    COLUMN_KINDS,
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    REQUIRED_COLUMNS,
    ImportPreview,
    ImportRejected,
    assets_export_csv,
    import_commit,
    import_preview,
    template_csv,
)

UPLOAD_DIR = "inventory-imports"
SIGNING_SALT = "keel.inventory.import"
UPLOAD_MAX_AGE = 24 * 3600  # seconds a previewed file may wait for its commit
EXPORT_FILTERS = ["kind", "lifecycle", "risk_tier", "department", "owner", "findings", "query"]
PREVIEW_ROWS_SHOWN = 100
ERROR_ROWS_SHOWN = 200


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=f"UTF-8 CSV, at most {MAX_ROWS:,} rows and {MAX_BYTES // 1024 // 1024} MB. Nothing is saved "
        "before you have seen the preview.",
    )


def _columns_table() -> list[dict]:
    all_kinds = len(AssetKind.values)
    rows = []
    for column in COLUMNS:
        kinds = COLUMN_KINDS[column]
        text, example = COLUMN_HELP.get(column, ("", ""))
        rows.append(
            {
                "name": column,
                "required": column in REQUIRED_COLUMNS,
                "applies": "all kinds" if len(kinds) == all_kinds else ", ".join(kinds),
                "help": text,
                "example": example,
            }
        )
    return rows


def _sign(name: str, filename: str) -> str:
    return pending_upload_token(name=name, filename=filename, salt=SIGNING_SALT)


def _unsign(token: str) -> dict | None:
    return pending_upload(token, salt=SIGNING_SALT, folder=UPLOAD_DIR, max_age=UPLOAD_MAX_AGE)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _preview_context(preview: ImportPreview, *, token: str = "", filename: str = "") -> dict:
    error_rows = preview.error_rows
    shown = error_rows[:ERROR_ROWS_SHOWN] if error_rows else preview.rows[:PREVIEW_ROWS_SHOWN]
    wanted = {c for row in shown for c in row.errors} | {c for row in shown for c, v in row.cells.items() if v}
    # Columns of the file first; then columns the file lacks but a row needs (e.g. a model's model_id).
    shown_columns = [c for c in [*preview.columns, *COLUMNS] if c in wanted and c != "kind"]
    shown_columns = list(dict.fromkeys(shown_columns))
    if "name" in preview.columns and "name" not in shown_columns:
        shown_columns.insert(0, "name")
    table = [
        {
            "row": row,
            "row_errors": row.errors.get("", []),
            "cells": [
                {"column": c, "value": row.cells.get(c, ""), "errors": row.errors.get(c, [])} for c in shown_columns
            ],
        }
        for row in shown
    ]
    return {
        "preview": preview,
        "token": token,
        "filename": filename,
        "columns": shown_columns,
        "table": table,
        "shown": len(shown),
        "error_rows": len(error_rows),
        "error_count": sum(len(m) for row in error_rows for m in row.errors.values()),
        "counts": [(AssetKind(kind).label, n) for kind, n in preview.counts.items()],
    }


@capability_required(Cap.EDIT)
def import_start(request):
    """Upload form; on upload, the preview (with errors: at once; without: after a redirect)."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            form.add_error(
                "file", f"The file is larger than {MAX_BYTES // 1024 // 1024} MB. Split it into smaller files."
            )
        else:
            data = upload.read()
            filename = (upload.name or "")[:200]
            preview = import_preview(data)
            if not preview.ok:
                return render(request, "inventory/import_preview.html", _preview_context(preview, filename=filename))
            name = default_storage.save(f"{UPLOAD_DIR}/{secrets.token_hex(16)}.csv", ContentFile(data))
            return redirect(f"{reverse('inventory:import_preview')}?upload={_sign(name, filename)}")
    return render(
        request,
        "inventory/import.html",
        {"form": form, "columns": _columns_table(), "max_rows": MAX_ROWS, "max_mb": MAX_BYTES // 1024 // 1024},
    )


@require_GET
@capability_required(Cap.EDIT)
def import_preview_page(request):
    token = request.GET.get("upload", "")
    payload = _unsign(token)
    if payload is None:
        messages.error(request, "That upload has expired or was already imported. Upload the file again.")
        return redirect("inventory:import")
    preview = import_preview(_read(payload["name"]))
    return render(
        request,
        "inventory/import_preview.html",
        _preview_context(preview, token=token if preview.ok else "", filename=payload.get("filename", "")),
    )


@require_POST
@capability_required(Cap.EDIT)
def import_commit_view(request):
    token = request.POST.get("upload", "")
    payload = _unsign(token)
    if payload is None:
        messages.error(request, "That upload has expired or was already imported. Upload the file again.")
        return redirect("inventory:import")
    filename = payload.get("filename", "")
    try:
        result = import_commit(_read(payload["name"]), filename=filename)
    except ImportRejected as exc:  # something changed since the preview (e.g. a name was taken meanwhile)
        default_storage.delete(payload["name"])  # the file cannot be imported as it is any more
        return render(
            request,
            "inventory/import_preview.html",
            _preview_context(exc.preview, filename=filename),
            status=409,
        )
    default_storage.delete(payload["name"])
    kinds = ", ".join(
        f"{n} {AssetKind(kind).label.lower()}{'s' if n != 1 else ''}" for kind, n in result.counts.items()
    )
    opened = result.guardrails.get("opened", 0)
    note = f" They opened {opened} guardrail finding(s)." if opened else ""
    messages.success(request, f"Imported {result.created} assets ({kinds}).{note}")
    return redirect("inventory:assets")


@require_GET
@capability_required(Cap.EDIT)
def import_template(request):
    response = HttpResponse("\ufeff" + template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="keel-inventory-template.csv"'
    return response


def export_filters(params) -> dict[str, str]:
    """The asset-list filters from a query string; a malformed department is ignored rather than a 500."""
    filters = {name: params.get(name, "").strip() for name in EXPORT_FILTERS}
    if filters["department"] not in ("", "none") and not filters["department"].isdigit():
        filters["department"] = ""
    return filters


def _slug() -> str:
    return getattr(connection.tenant, "slug", "") or connection.schema_name


@require_GET
@capability_required(Cap.VIEW)
def export_csv(request):
    rows = assets_export_csv(assets_list(**export_filters(request.GET)), byte_order_mark=True)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{_slug()}-ai-inventory-{stamp}.csv"'
    return response


@require_GET
@capability_required(Cap.VIEW)
def ai_bom(request):
    document = ai_bom_document(include_retired=request.GET.get("retired") in ("1", "true", "yes"))
    response = HttpResponse(json.dumps(document, indent=2), content_type=f"{MEDIA_TYPE}; version=1.6")
    response["Content-Disposition"] = 'attachment; filename="ai-bom.json"'
    return response
