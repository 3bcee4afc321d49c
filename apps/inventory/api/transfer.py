"""API routes for CSV import/export and the CycloneDX AI-BOM download (mounted under /c/<slug>/api/v1/)."""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.errors import PROBLEM_CONTENT_TYPE, problem_body

from ..aibom import MEDIA_TYPE, ai_bom_document
from ..models import AssetKind, Lifecycle, RiskTier
from ..selectors import assets_list
from ..transfer import MAX_BYTES, MAX_ROWS, ImportPreview, ImportRejected, assets_export_csv, import_commit
from ..transfer import import_preview as preview_file
from ..views_transfer import export_filters

TRUE = ("1", "true", "yes")


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; the CSV itself is streamed, not rendered.
    Errors reached through it are still JSON (problem+json)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return json.dumps(data).encode()


class CycloneDXRenderer(JSONRenderer):
    media_type = MEDIA_TYPE
    format = "cdx.json"


# --- schema ----------------------------------------------------------------------------------------------


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"A UTF-8 CSV file (with or without BOM), at most {MAX_ROWS:,} rows and "
        f"{MAX_BYTES // 1024 // 1024} MB. Columns: see docs/inventory-import-export.md."
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Row number as a spreadsheet shows it (the header is row 1).")
    column = serializers.CharField(help_text="The column at fault; empty when the whole row is.")
    message = serializers.CharField()


class ImportPreviewSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="True when the file would import as it is.")
    sha256 = serializers.CharField()
    rows = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Rows per asset kind.")
    rows_with_errors = serializers.IntegerField()
    file_errors = serializers.ListField(child=serializers.CharField())
    error_count = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True, help_text="The first 1,000 errors.")


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    first_id = serializers.IntegerField()
    last_id = serializers.IntegerField()
    sha256 = serializers.CharField()
    guardrails = serializers.DictField(child=serializers.IntegerField(), help_text="Findings opened by the import.")
    models_matched = serializers.IntegerField(help_text="Imported models matched to the model price catalog.")


class ImportProblemSerializer(ImportPreviewSerializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()


PREVIEW_EXAMPLE = {
    "ok": False,
    "sha256": "9a0e35983ebdaf95fab23b70c9796f9ae17871998b7bf33c12d4fd71dd62099f",
    "rows": 3,
    "counts": {"model": 1, "agent": 2},
    "rows_with_errors": 1,
    "file_errors": [],
    "error_count": 2,
    "errors": [
        {
            "row": 3,
            "column": "risk_tier",
            "message": "“hihg” is not a valid EU AI Act risk tier. Use one of: unassessed, prohibited, high, "
            "limited, minimal.",
        },
        {
            "row": 3,
            "column": "owner_email",
            "message": "someone@else.example is not a member of this client, an MSP admin or a department owner.",
        },
    ],
}
RESULT_EXAMPLE = {
    "created": 3,
    "counts": {"model": 1, "agent": 2},
    "first_id": 118,
    "last_id": 120,
    "sha256": "9a0e35983ebdaf95fab23b70c9796f9ae17871998b7bf33c12d4fd71dd62099f",
    "guardrails": {"opened": 1, "still_open": 0, "resolved": 0},
    "models_matched": 1,
}
FILTER_PARAMETERS = [
    OpenApiParameter("kind", str, enum=AssetKind.values, description="Only this kind of asset."),
    OpenApiParameter("lifecycle", str, enum=Lifecycle.values),
    OpenApiParameter("risk_tier", str, enum=RiskTier.values),
    OpenApiParameter("department", str, description="A department id, or `none` for assets without one."),
    OpenApiParameter("owner", str, description="An owner's email, or `none` for assets nobody owns."),
    OpenApiParameter(
        "findings", str, description="`open`, `none`, or a severity (`critical`, `high`, …) of an open finding."
    ),
    OpenApiParameter("query", str, description="Search in name, purpose, owner, model id, provider, system."),
]


def _problem(preview: ImportPreview) -> Response:
    body = problem_body(400, "Import rejected", preview.summary(), **preview.as_dict())
    response = Response(body, status=status.HTTP_400_BAD_REQUEST)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


# --- views -----------------------------------------------------------------------------------------------


class InventoryImportView(APIView):
    """Import AI assets from a CSV file: all rows or none. `?dry_run=true` only checks the file."""

    parser_classes = [MultiPartParser, FormParser]
    write_capability = Cap.EDIT

    @extend_schema(
        operation_id="inventory_import",
        request={"multipart/form-data": ImportUploadSerializer},
        parameters=[
            OpenApiParameter(
                "dry_run",
                bool,
                description="Check the file and return the preview (200, even with errors); write nothing.",
            )
        ],
        responses={
            200: OpenApiResponse(ImportPreviewSerializer, description="Dry run: the preview."),
            201: OpenApiResponse(ImportResultSerializer, description="Imported."),
            400: OpenApiResponse(
                ImportProblemSerializer, description="problem+json: the file has errors; nothing was imported."
            ),
        },
        examples=[
            OpenApiExample("Dry run with errors", value=PREVIEW_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample("Imported", value=RESULT_EXAMPLE, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "Rejected",
                value={
                    "type": "about:blank",
                    "title": "Import rejected",
                    "status": 400,
                    "detail": "1 of 3 rows have errors; nothing was imported.",
                    **PREVIEW_EXAMPLE,
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        body = ImportUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > MAX_BYTES:
            preview = ImportPreview(sha256="", size=upload.size)
            preview.file_errors.append(
                f"The file is larger than {MAX_BYTES // 1024 // 1024} MB. Split it into smaller files."
            )
            return _problem(preview)
        data = upload.read()
        if request.query_params.get("dry_run", "").lower() in TRUE:
            return Response(preview_file(data).as_dict())
        try:
            result = import_commit(data, filename=(upload.name or "")[:200])
        except ImportRejected as exc:
            return _problem(exc.preview)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class InventoryExportView(APIView):
    """The inventory as CSV in the import's format (filters as in the asset list)."""

    read_capability = Cap.VIEW
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="inventory_export_csv",
        parameters=FILTER_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="CSV, one asset per row; the columns of the import.",
                examples=[
                    OpenApiExample(
                        "Two assets",
                        value="kind,name,owner_email,department,purpose,lifecycle,risk_tier,…\r\n"
                        "model,Claims LLM,,,,production,minimal,…\r\n"
                        "agent,Claims triage agent,ops.lead@harbor.example,claims-ops,,pilot,limited,…\r\n",
                    )
                ],
            )
        },
    )
    def get(self, request):
        response = StreamingHttpResponse(
            assets_export_csv(assets_list(**export_filters(request.query_params))),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="ai-inventory-{timezone.localdate().isoformat()}.csv"'
        return response


class AIBomView(APIView):
    """This client's AI-BOM: CycloneDX 1.6 JSON, validated against the official schema."""

    read_capability = Cap.VIEW
    renderer_classes = [CycloneDXRenderer, JSONRenderer]

    @extend_schema(
        operation_id="ai_bom",
        parameters=[OpenApiParameter("include_retired", bool, description="Include retired assets.")],
        responses={
            (200, MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A CycloneDX 1.6 BOM: models as machine-learning-model components with model cards, "
                "pipelines and prompts as data components, agents as applications, endpoints and integrations "
                "as services, relations as dependencies, Keel attributes as keel:* properties.",
                examples=[
                    OpenApiExample(
                        "One model behind an endpoint",
                        value={
                            "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
                            "bomFormat": "CycloneDX",
                            "specVersion": "1.6",
                            "serialNumber": "urn:uuid:2d1a7474-ab1e-434d-a1a9-b6146ac51089",
                            "version": 1,
                            "metadata": {
                                "timestamp": "2026-05-01T08:00:00+00:00",
                                "component": {"bom-ref": "client", "name": "Harbor AI inventory", "type": "platform"},
                            },
                            "components": [
                                {
                                    "bom-ref": "asset-1",
                                    "type": "machine-learning-model",
                                    "name": "Claims LLM",
                                    "properties": [{"name": "keel:risk_tier", "value": "limited"}],
                                    "modelCard": {
                                        "modelParameters": {"task": "text-generation"},
                                        "quantitativeAnalysis": {
                                            "performanceMetrics": [{"type": "accuracy", "value": "0.94"}]
                                        },
                                    },
                                }
                            ],
                            "services": [
                                {
                                    "bom-ref": "asset-2",
                                    "name": "Claims gateway",
                                    "endpoints": ["https://llm.harbor.example/v1"],
                                }
                            ],
                            "dependencies": [
                                {"ref": "asset-2", "dependsOn": ["asset-1"]},
                                {"ref": "client", "dependsOn": ["asset-2"]},
                            ],
                        },
                    )
                ],
            )
        },
    )
    def get(self, request):
        include_retired = request.query_params.get("include_retired", "").lower() in TRUE
        return Response(ai_bom_document(include_retired=include_retired))


urlpatterns = [
    path("inventory/import/", InventoryImportView.as_view(), name="api-inventory-import"),
    path("inventory/export.csv", InventoryExportView.as_view(), name="api-inventory-export"),
    path("ai-bom/", AIBomView.as_view(), name="api-ai-bom"),
]
