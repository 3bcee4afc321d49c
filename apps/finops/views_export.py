"""Portal download of the FOCUS export (finops:export): the explorer's period and filters, or start/end.

GET /c/<slug>/finops/export/?from=2026-11-01&to=2026-11-30&service=…&format=csv    (the explorer's link: days
inclusive, its filters and tag) or ?start=2026-11-01&end=2026-12-01&format=parquet (end exclusive, as the API).
"""

from __future__ import annotations

from django.db import connection
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required

from .api.serializers import FocusExportParamsSerializer
from .export import (
    CONTENT_TYPES,
    FILTER_COLUMNS,
    FORMATS,
    ExportQuery,
    export_audit,
    export_filename,
    export_summary,
    focus_csv,
    focus_parquet,
)
from .selectors import explorer_params


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _explorer_query(params) -> tuple[ExportQuery | None, list[str]]:
    """The explorer's own reading of its query string (its days are the client's, `to` inclusive)."""
    read = explorer_params(params, today=timezone.localdate())
    query = read.query
    filters = {name: value for name, value in query.filters.items() if name in FILTER_COLUMNS}
    export = ExportQuery(
        start=query.start,
        end=query.end,
        filters=filters,
        source_name=query.filters.get("source", ""),
        tag_key=query.tag_key,
        tag_value=query.tag_value,
    )
    return export, read.errors


@require_GET
@capability_required(Cap.VIEW)
def export(request):
    """The FOCUS file of the ledger rows the explorer shows (or of start/end), as an attachment."""
    fmt = request.GET.get("format") or "csv"
    if fmt not in FORMATS:
        return _bad_request(f"Unknown format {fmt!r}: use csv or parquet.")
    if "start" in request.GET or "end" in request.GET:
        params = FocusExportParamsSerializer(data=request.GET)
        if not params.is_valid():
            messages = [f"{name}: {' '.join(map(str, errors))}" for name, errors in params.errors.items()]
            return _bad_request("The export cannot be made. " + " ".join(messages))
        query = params.export_query()
    else:
        query, errors = _explorer_query(request.GET)
        if errors:
            return _bad_request("The export cannot be made. " + " ".join(errors))
    export_audit(query=query, fmt=fmt, summary=export_summary(query), channel="portal")
    filename = export_filename(query, fmt, client_slug=getattr(connection.tenant, "slug", ""))
    if fmt == "parquet":
        return FileResponse(
            focus_parquet(query), as_attachment=True, filename=filename, content_type=CONTENT_TYPES["parquet"]
        )
    response = StreamingHttpResponse(focus_csv(query), content_type=CONTENT_TYPES["csv"])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
