"""FinOps API: the FOCUS export of the client's ledger (GET /focus-export).

Billing sources, runs, uploads, cost records and the explorer are in apps.finops.api.sources."""

from __future__ import annotations

import json

from django.db import connection
from django.http import FileResponse, StreamingHttpResponse
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from apps.accounts.roles import Cap

from ..export import CONTENT_TYPES, FILTER_COLUMNS, export_audit, export_filename, export_summary, focus_csv
from ..export import focus_parquet as parquet_file
from .serializers import FILTER_HELP, ExportProblemSerializer, FocusExportParamsSerializer


class _FileRenderer(BaseRenderer):
    """Lets the file's media type through negotiation; the file itself is streamed, not rendered.
    Errors reached through it are still problem+json."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return json.dumps(data).encode()


class FocusCSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class FocusParquetRenderer(_FileRenderer):
    media_type = CONTENT_TYPES["parquet"]
    format = "parquet"


class FormatNegotiation(DefaultContentNegotiation):
    """The file type is ?format= (csv by default), whatever Accept says; an unknown format gets a 400 problem
    from the parameter check (DRF would answer 404 for a format no renderer has)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = request.query_params.get("format") or "csv"
        for renderer in renderers:
            if renderer.format == wanted:
                return renderer, renderer.media_type
        return renderers[-1], renderers[-1].media_type


CSV_EXAMPLE = (
    "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingAccountType,BillingCurrency,"
    "BillingPeriodEnd,BillingPeriodStart,ChargeCategory,…,ServiceProviderName,ProviderName,PublisherName,…,"
    "Tags,x_Model,x_TokenType,x_InputTokens,x_OutputTokens,x_CacheReadTokens,x_Requests,x_CostSource,x_Operation\r\n"
    ",0.2412,123456789012,Northwind Payer,,USD,2026-12-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,…,AWS,AWS,"
    'Amazon Web Services,…,"{""team"": ""claims""}",anthropic.claude-sonnet-4-5,Input Tokens,80400,,,,actual,'
    "InvokeModel\r\n"
)


class FocusExportView(APIView):
    """The client's ledger for a period as a FOCUS file: CSV (streamed) or Parquet.

    FOCUS 1.3 column names (with ProviderName and PublisherName for 1.2 readers), times ISO 8601 UTC with `Z`,
    exact decimal amounts (decimal128 in Parquet), Tags as JSON, every x_ column and every extra column the
    source files carried; never Keel's internal ids. Each download is recorded in the client's audit trail."""

    read_capability = Cap.VIEW
    renderer_classes = [FocusCSVRenderer, FocusParquetRenderer, JSONRenderer]
    content_negotiation_class = FormatNegotiation

    @extend_schema(
        operation_id="focus_export",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First UTC charge day (inclusive)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="The UTC charge day after the last (exclusive)."),
            OpenApiParameter("from", OpenApiTypes.DATE, description="= start (as in cost-records)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="= end, exclusive (as in cost-records)."),
            OpenApiParameter("format", str, enum=["csv", "parquet"], description="Default `csv`."),
            OpenApiParameter("source", str, description="A billing source's name, exact."),
            OpenApiParameter("source_id", int, description="A billing source's id."),
            OpenApiParameter("tag", str, description="`key` or `key=value`."),
            *(OpenApiParameter(name, str, description=FILTER_HELP[name]) for name in FILTER_COLUMNS),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="FOCUS CSV, one ledger row per line, header first.",
                examples=[OpenApiExample("Header and one row (columns elided with …)", value=CSV_EXAMPLE)],
            ),
            (200, CONTENT_TYPES["parquet"]): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="FOCUS Parquet (zstd): decimal128 money and quantities, timestamp[us, UTC], int64 "
                "token counts, strings elsewhere; file metadata focus_version=1.3.",
            ),
            (400, "application/problem+json"): OpenApiResponse(
                ExportProblemSerializer,
                description="A parameter is not valid.",
                examples=[
                    OpenApiExample(
                        "End before start",
                        value={
                            "type": "about:blank",
                            "title": "Invalid request",
                            "status": 400,
                            "detail": "Some fields are not valid.",
                            "errors": {"end": ["`end` must be after `start` (it is exclusive)."]},
                        },
                    )
                ],
            ),
        },
    )
    def get(self, request):
        params = FocusExportParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query, fmt = params.export_query(), params.validated_data["format"]
        export_audit(query=query, fmt=fmt, summary=export_summary(query), channel="api")
        filename = export_filename(query, fmt, client_slug=getattr(connection.tenant, "slug", ""))
        if fmt == "parquet":
            return FileResponse(
                parquet_file(query), as_attachment=True, filename=filename, content_type=CONTENT_TYPES["parquet"]
            )
        response = StreamingHttpResponse(focus_csv(query), content_type=CONTENT_TYPES["csv"])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


urlpatterns = [
    re_path(r"^focus-export/?$", FocusExportView.as_view(), name="focus-export"),
]
