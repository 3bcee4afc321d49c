"""Monthly reports over the API (/c/<slug>/api/v1/reports/): the versions, a version's frozen snapshot JSON,
and its PDF. Read-only, with `view`: keys and people who cannot edit the client see issued versions only."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from apps.api.errors import ProblemSerializer, drf_problem

from ..models import Report
from ..render import PAPER_SIZES, report_pdf
from ..selectors import reports_list
from .value import ValueDriverViewSet, ValueSettingsViewSet

REPORT_ID = OpenApiParameter("report_id", int, OpenApiParameter.PATH)


class ReportSerializer(serializers.ModelSerializer):
    month = serializers.DateField(help_text="First day of the month reported on")
    summary_status = serializers.SerializerMethodField(help_text="green, amber or red")
    snapshot_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField(help_text="Null until issued (drafts: GET …/pdf/ renders a preview)")

    class Meta:
        model = Report
        fields = [
            "id",
            "month",
            "version",
            "status",
            "trigger",
            "reason",
            "summary_status",
            "computed_at",
            "data_sha256",
            "commentary",
            "reviewed_at",
            "reviewed_by",
            "issued_at",
            "issued_by",
            "pdf_sha256",
            "pdf_size",
            "snapshot_url",
            "pdf_url",
        ]
        read_only_fields = fields

    def get_summary_status(self, report) -> str:
        return report.summary_status or ""

    def _url(self, report, suffix: str) -> str:
        request = self.context["request"]
        marker = "/api/v1/"
        base = request.path[: request.path.index(marker) + len(marker)] if marker in request.path else marker
        return request.build_absolute_uri(f"{base}reports/{report.pk}/{suffix}/")

    def get_snapshot_url(self, report) -> str:
        return self._url(report, "snapshot")

    def get_pdf_url(self, report) -> str | None:
        return self._url(report, "pdf") if report.pdf else None


SNAPSHOT_EXAMPLE = {
    "schema_version": 1,
    "month": "2026-11-01",
    "label": "November 2026",
    "client": {
        "name": "Acme Insurance",
        "slug": "acme",
        "time_zone": "Europe/Paris",
        "currency": "EUR",
        "retainer": "12000.00",
    },
    "sections": {"spend": {"total": "48210.37", "budget_total": "50000.00", "vs_last_month_percent": "4.2"}},
    "highlights": [
        {
            "text": "AI and cloud spend was 48,210.37 EUR, 3.6 % under budget.",
            "figure": "spend.total",
            "tone": "good",
            "section": "spend",
        }
    ],
    "summary": {"status": "green", "highlights": []},
}


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Report versions, newest month first. Issued versions never change; a correction is a new version."""

    serializer_class = ReportSerializer
    filter_backends: list = []  # ?month= and ?status= are applied in get_queryset (documented parameters)
    lookup_url_kwarg = "report_id"

    def get_queryset(self):
        from django.db.models import F
        from django.db.models.fields.json import KT

        reports = reports_list(self.request._request.access).annotate(summary_status=KT("data__summary__status"))
        month = self.request.query_params.get("month", "")
        status = self.request.query_params.get("status", "")
        if month:
            reports = reports.filter(month=month[:7] + "-01") if len(month) >= 7 else reports.none()
        if status:
            reports = reports.filter(status=status)
        return reports.order_by(F("month").desc(), F("version").desc())

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM: only that month's versions"),
            OpenApiParameter("status", str, enum=[s for s, _ in Report.Status.choices]),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[REPORT_ID], responses={200: ReportSerializer, 404: ProblemSerializer})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        parameters=[REPORT_ID],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The frozen figures"), 404: ProblemSerializer},
        examples=[OpenApiExample("November snapshot", value=SNAPSHOT_EXAMPLE, response_only=True)],
        description="The version's snapshot exactly as stored (money as decimal strings); its SHA-256 over the "
        "canonical JSON (sorted keys, no spaces) is `data_sha256`.",
    )
    @action(detail=True, methods=["get"])
    def snapshot(self, request, *args, **kwargs):
        report = Report.objects.only("data").get(pk=self.get_object().pk)
        return Response(report.data)

    @extend_schema(
        parameters=[
            REPORT_ID,
            OpenApiParameter("paper", str, enum=sorted(PAPER_SIZES), description="Render on this paper size"),
        ],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: ProblemSerializer},
        description="An issued version's stored PDF (exactly what was emailed); a draft is rendered on the fly. "
        "`paper` re-renders the same frozen figures on A4 or US Letter.",
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, *args, **kwargs):
        report = Report.objects.get(pk=self.get_object().pk)
        paper = request.query_params.get("paper", "")
        if report.pdf and paper not in PAPER_SIZES:
            if not default_storage.exists(report.pdf.name):
                return drf_problem(404, "PDF missing", "The stored PDF is missing from storage.")
            response = FileResponse(default_storage.open(report.pdf.name, "rb"), content_type="application/pdf")
        else:
            response = HttpResponse(report_pdf(report, paper=paper or None), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{report.pdf_name}"'
        return response


router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("reports", ReportViewSet, basename="report")
router.register("value-drivers", ValueDriverViewSet, basename="value-driver")
router.register("value-settings", ValueSettingsViewSet, basename="value-settings")

urlpatterns = router.urls
