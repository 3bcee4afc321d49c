"""Service levels over the API (/c/<slug>/api/v1/): SLOs with their live status, OpenSLO import/export,
measurement batches, breaches, service credits, business calendars and drift checks.

Reads need `view` (client executives see attainment); writes `edit`; measurement batches take an `ingest`
key as well. Breaches are read-only: the database refuses to change them."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.errors import ProblemSerializer, batch_post, problem_body
from apps.core.batch import MAX_ERRORS
from apps.finops.api.usage import DecimalJSONParser
from apps.inventory.models import Asset

from .. import services, windows
from ..evaluation import client_tz
from ..ingest import MAX_MEASUREMENTS, BatchTooLarge, measurements_ingest
from ..models import SLO, Breach, BusinessCalendar, DriftCheck, DriftMonitor, ServiceCredit
from ..selectors import breaches_list, credits_list, daily_series, drift_monitors, latency_percentiles, slos_list

SLO_PARAM = OpenApiParameter("slo_id", int, OpenApiParameter.PATH)


# --- serializers -------------------------------------------------------------------------------------------


class SloStatusSerializer(serializers.Serializer):
    evaluated_at = serializers.DateTimeField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    good = serializers.IntegerField()
    total = serializers.IntegerField()
    attainment = serializers.DecimalField(max_digits=9, decimal_places=8, allow_null=True)
    budget_remaining = serializers.DecimalField(
        max_digits=14, decimal_places=8, allow_null=True, help_text="1 untouched, 0 spent, negative = over"
    )
    burn_rates = serializers.DictField(help_text='{"5m": "0.0", "1h": …, "fired": [the pairs that fired]}')
    alert_level = serializers.CharField(help_text='"", "ticket" or "page"')
    state = serializers.CharField(help_text="no_data, ok, at_risk or exhausted")


class CreditTierSerializer(serializers.Serializer):
    below = serializers.DecimalField(max_digits=7, decimal_places=4, help_text="Attainment in %")
    credit_percent = serializers.DecimalField(max_digits=6, decimal_places=2, help_text="% of the retainer")


class SloSerializer(serializers.ModelSerializer):
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all(), allow_null=True, required=False)
    calendar = serializers.PrimaryKeyRelatedField(
        queryset=BusinessCalendar.objects.all(), allow_null=True, required=False
    )
    credit_tiers = CreditTierSerializer(many=True, required=False)
    incident_severities = serializers.ListField(child=serializers.CharField(max_length=10), required=False)
    status = serializers.SerializerMethodField()

    class Meta:
        model = SLO
        fields = [
            "id",
            "name",
            "display_name",
            "description",
            "asset",
            "sli_kind",
            "objective",
            "threshold",
            "window_kind",
            "window_days",
            "budgeting",
            "timeslice_minutes",
            "timeslice_target",
            "source",
            "keel_source",
            "calendar",
            "incident_severities",
            "credit_tiers",
            "min_events",
            "alerting",
            "active",
            "starts_at",
            "owner_email",
            "created_at",
            "updated_at",
            "status",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "status"]
        extra_kwargs = {
            "starts_at": {"required": False},
            "name": {"validators": []},
            "display_name": {"required": False},
        }

    @extend_schema_field(SloStatusSerializer(allow_null=True))
    def get_status(self, obj) -> dict | None:
        try:
            status_row = obj.status
        except SLO.status.RelatedObjectDoesNotExist:
            return None
        return SloStatusSerializer(status_row).data


class BreachSerializer(serializers.ModelSerializer):
    slo_name = serializers.CharField(source="slo.name", read_only=True)
    credit = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Breach
        fields = [
            "id",
            "slo",
            "slo_name",
            "period_start",
            "period_end",
            "period_label",
            "objective",
            "attainment",
            "good",
            "total",
            "budget_consumed",
            "incident_ids",
            "slo_snapshot",
            "credit_percent",
            "credit_amount",
            "currency",
            "credit",
            "recorded_at",
        ]
        read_only_fields = fields


class CreditSerializer(serializers.ModelSerializer):
    slo = serializers.IntegerField(source="breach.slo_id", read_only=True)
    slo_name = serializers.CharField(source="breach.slo.name", read_only=True)
    period_label = serializers.CharField(source="breach.period_label", read_only=True)

    class Meta:
        model = ServiceCredit
        fields = [
            "id",
            "breach",
            "slo",
            "slo_name",
            "period_label",
            "month",
            "percent",
            "amount",
            "currency",
            "capped",
            "status",
            "note",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = [f for f in fields if f not in ("status", "note")]


class CalendarSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "time_zone",
            "hours",
            "holiday_country",
            "holiday_subdivision",
            "extra_holidays",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}


class DriftCheckSerializer(serializers.ModelSerializer):
    asset = serializers.IntegerField(source="monitor.asset_id", read_only=True)
    feature = serializers.CharField(source="monitor.feature", read_only=True)

    class Meta:
        model = DriftCheck
        fields = [
            "id",
            "monitor",
            "asset",
            "feature",
            "key",
            "window_start",
            "window_end",
            "n",
            "psi",
            "js",
            "ks_statistic",
            "ks_pvalue",
            "status",
            "current",
            "reference",
            "created_at",
        ]
        read_only_fields = fields


class DriftMonitorSerializer(serializers.ModelSerializer):
    checks = serializers.IntegerField(source="checks_count", read_only=True)

    class Meta:
        model = DriftMonitor
        fields = [
            "id",
            "asset",
            "feature",
            "kind",
            "reference_label",
            "psi_warn",
            "psi_alert",
            "js_alert",
            "checks",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "asset", "feature", "kind", "checks", "created_at", "updated_at"]


class DriftSubmitSerializer(serializers.Serializer):
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all(), help_text="The model or pipeline")
    feature = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=DriftMonitor.Kind.choices, default=DriftMonitor.Kind.NUMERIC)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    id = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="Idempotency key")
    reference = serializers.JSONField(
        required=False,
        help_text="Raw {values: […]}, a histogram {edges, counts} or {categories: {name: count}}; pins (or "
        "re-pins) the monitor's reference. Needed the first time a feature is sent.",
    )
    reference_label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    current = serializers.JSONField(help_text="The current window, in the same shapes as the reference")


class SloSeriesDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    good = serializers.IntegerField()
    total = serializers.IntegerField()
    sli = serializers.DecimalField(max_digits=9, decimal_places=8, allow_null=True)
    budget_remaining = serializers.DecimalField(max_digits=14, decimal_places=8, allow_null=True)


class PercentilesSerializer(serializers.Serializer):
    samples = serializers.IntegerField(help_text="Requests the percentiles are computed over in the live window")
    source = serializers.ChoiceField(
        choices=["samples", "histogram"],
        allow_null=True,
        help_text="samples: exact, from latencies sent one by one; histogram: estimated within the buckets "
        "(linear interpolation, as Prometheus's histogram_quantile); null without any latency",
    )
    p50 = serializers.DecimalField(max_digits=14, decimal_places=1, allow_null=True, help_text="ms")
    p95 = serializers.DecimalField(max_digits=14, decimal_places=1, allow_null=True, help_text="ms")
    p99 = serializers.DecimalField(max_digits=14, decimal_places=1, allow_null=True, help_text="ms")


class MeasurementErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the batch, from 0")
    field = serializers.CharField()
    message = serializers.CharField()


class MeasurementResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="New measurements stored")
    replaced = serializers.IntegerField(help_text="Measurements whose id was stored before and changed (late fixes)")
    duplicates = serializers.IntegerField(help_text="Resent unchanged, or repeated within the batch")
    rejected = serializers.IntegerField()
    periods_recomputed = serializers.IntegerField(help_text="Closed periods recomputed because of late data")
    errors = MeasurementErrorSerializer(many=True, help_text=f"Per-item errors (the first {MAX_ERRORS:,})")
    errors_omitted = serializers.IntegerField(required=False)


# --- views -------------------------------------------------------------------------------------------------


def _slo_values(data: dict) -> dict:
    values = dict(data)
    if "asset" in values:
        asset = values.pop("asset")
        values["asset_id"] = asset.pk if asset else None
    if "calendar" in values:
        calendar = values.pop("calendar")
        values["calendar_id"] = calendar.pk if calendar else None
    if "credit_tiers" in values:
        values["credit_tiers"] = [
            {"below": str(t["below"]), "credit_percent": str(t["credit_percent"])} for t in values["credit_tiers"]
        ]
    return values


SLO_EXAMPLE = {
    "name": "claims-api-latency",
    "display_name": "Claims API answers in 800 ms",
    "asset": 12,
    "sli_kind": "latency",
    "objective": "0.95",
    "threshold": "800",
    "window_kind": "calendar_month",
    "budgeting": "occurrences",
    "credit_tiers": [{"below": "95", "credit_percent": "10"}, {"below": "90", "credit_percent": "25"}],
}


class SloViewSet(viewsets.ModelViewSet):
    """SLOs of this client with their live status (recomputed every minute)."""

    serializer_class = SloSerializer
    filter_backends: list = []
    lookup_url_kwarg = "slo_id"
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        return slos_list(include_retired=self.request.query_params.get("retired") == "true")

    def get_object(self):
        slo = slos_list(include_retired=True).filter(pk=self.kwargs["slo_id"]).first()
        if slo is None:
            raise NotFound("No such SLO.")
        return slo

    @extend_schema(parameters=[OpenApiParameter("retired", bool, description="Include retired SLOs")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(examples=[OpenApiExample("Latency SLO with credits", value=SLO_EXAMPLE, request_only=True)])
    def create(self, request, *args, **kwargs):
        body = SloSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = _slo_values(body.validated_data)
        slo = services.slo_save(starts_at=values.pop("starts_at", None), **values)
        return Response(SloSerializer(self._fresh(slo)).data, status=201)

    @extend_schema(parameters=[SLO_PARAM])
    def partial_update(self, request, *args, **kwargs):
        slo = self.get_object()
        body = SloSerializer(slo, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = _slo_values(body.validated_data)
        services.slo_save(slo=slo, starts_at=values.pop("starts_at", None), **values)
        return Response(SloSerializer(self._fresh(slo)).data)

    @extend_schema(parameters=[SLO_PARAM])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        parameters=[SLO_PARAM],
        responses={204: None, 400: OpenApiResponse(ProblemSerializer, description="It has breaches: retire it")},
    )
    def destroy(self, request, *args, **kwargs):
        services.slo_delete(slo=self.get_object())
        return Response(status=204)

    def _fresh(self, slo: SLO) -> SLO:
        return slos_list(include_retired=True).get(pk=slo.pk)

    @extend_schema(parameters=[SLO_PARAM], responses={200: SloSeriesDaySerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def series(self, request, *args, **kwargs):
        """The live window day by day: good, total, the day's SLI and the budget left at the end of the day."""
        slo = self.get_object()
        tz = client_tz()
        window = windows.live_window(slo.window_kind, slo.window_days, dt.datetime.now(dt.UTC), tz)
        return Response(SloSeriesDaySerializer(daily_series(slo, window.start, window.end, tz), many=True).data)

    @extend_schema(
        parameters=[SLO_PARAM],
        responses={200: PercentilesSerializer},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def percentiles(self, request, *args, **kwargs):
        """Latency percentiles of the live window: exact from samples sent one by one, estimated from the
        buckets when latencies came as histograms (whichever holds more requests)."""
        slo = self.get_object()
        window = windows.live_window(slo.window_kind, slo.window_days, dt.datetime.now(dt.UTC), client_tz())
        found = latency_percentiles(slo, window.start, window.end)
        empty = {"samples": 0, "source": None, "p50": None, "p95": None, "p99": None}
        return Response(PercentilesSerializer(found or empty).data)

    @extend_schema(
        operation_id="slos_openslo_export",
        responses={(200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR, description="OpenSLO v1 YAML")},
    )
    @action(detail=False, methods=["get"], url_path="openslo", pagination_class=None)
    def openslo_export(self, request, *args, **kwargs):
        """Every active SLO as OpenSLO v1 documents (Keel's extras under keel.dev/ annotations)."""
        text = services.openslo_export(slos_list())
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="slos.openslo.yaml"'
        return response

    @extend_schema(
        operation_id="slos_openslo_import",
        request={"application/json": {"type": "object", "properties": {"yaml": {"type": "string"}}}},
        responses={200: SloSerializer(many=True)},
        examples=[OpenApiExample("OpenSLO file", value={"yaml": "apiVersion: openslo/v1\nkind: SLO\n…"})],
    )
    @openslo_export.mapping.post
    def openslo_import(self, request, *args, **kwargs):
        """Create or update (by name) the SLOs of an OpenSLO v1 file; all or nothing."""
        text = request.data.get("yaml") if isinstance(request.data, dict) else None
        if not isinstance(text, str):
            raise serializers.ValidationError({"yaml": 'Send the OpenSLO file\'s text as {"yaml": "…"}.'})
        saved = services.openslo_import(text)
        fresh = slos_list(include_retired=True).filter(pk__in=[slo.pk for slo in saved])
        return Response(SloSerializer(fresh, many=True).data)


MEASUREMENTS_EXAMPLE = {
    "measurements": [
        {
            "slo": "claims-api-availability",
            "id": "probe-eu-1:2026-11-30T17:45",
            "at": "2026-11-30T17:45:00Z",
            "ok": True,
        },
        {
            "slo": "claims-api-latency",
            "at": "2026-11-30T17:45:00Z",
            "histogram": [{"le": 250, "count": 812}, {"le": 800, "count": 160}, {"le": "+Inf", "count": 9}],
        },
        {"slo": "claims-answer-quality", "id": "eval-run-88:item-17", "at": "2026-11-30T03:00:00Z", "score": 0.92},
        {"slo": "triage-hallucination", "id": "judge-5521", "at": "2026-11-30T12:10:00Z", "hallucinated": False},
        {
            "slo": "p1-first-response",
            "id": "INC-1042",
            "opened_at": "2026-11-30T16:30:00Z",
            "responded_at": "2026-11-30T16:41:00Z",
            "severity": "critical",
        },
    ]
}


class MeasurementsIngestApi(APIView):
    """Push a batch of measurements for one or many SLOs (probe results, latency samples or histograms,
    evaluation scores, hallucination judgements, incident timestamps).

    Valid items are stored even when others are not; every error is listed by index and field. An item's `id`
    makes it idempotent: the same id again replaces it (a late correction) and the closed periods it falls in
    are recomputed."""

    parser_classes = [DecimalJSONParser, JSONParser]
    read_capability = (Cap.INGEST, Cap.EDIT)
    write_capability = (Cap.INGEST, Cap.EDIT)

    @extend_schema(
        operation_id="slo_measurements_ingest",
        tags=["service levels"],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: MeasurementResultSerializer,
            400: OpenApiResponse(ProblemSerializer, description="problem+json: not a batch, or no item is valid"),
            413: OpenApiResponse(ProblemSerializer, description=f"problem+json: more than {MAX_MEASUREMENTS:,}"),
        },
        examples=[
            OpenApiExample("Mixed batch", value=MEASUREMENTS_EXAMPLE, request_only=True),
            OpenApiExample(
                "Too many",
                value=problem_body(
                    413, "Payload too large", f"A batch holds at most {MAX_MEASUREMENTS:,} measurements."
                ),
                response_only=True,
                status_codes=["413"],
            ),
        ],
    )
    def post(self, request):
        return batch_post(
            request, key="measurements", noun="measurement", ingest=measurements_ingest, too_large=BatchTooLarge
        )


class BreachViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Recorded breaches, newest first (immutable)."""

    serializer_class = BreachSerializer
    filter_backends: list = []
    lookup_url_kwarg = "breach_id"

    def get_queryset(self):
        items = breaches_list()
        slo = self.request.query_params.get("slo", "")
        return items.filter(slo_id=int(slo)) if slo.isdigit() else items

    @extend_schema(parameters=[OpenApiParameter("slo", int, description="Only this SLO's breaches")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[OpenApiParameter("breach_id", int, OpenApiParameter.PATH)])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class CreditViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Service credits owed by breaches; PATCH records that one was issued or waived (amounts never change)."""

    serializer_class = CreditSerializer
    filter_backends: list = []
    lookup_url_kwarg = "credit_id"
    http_method_names = ["get", "patch"]

    def get_queryset(self):
        items = credits_list()
        month = self.request.query_params.get("month", "")
        try:
            return items.filter(month=dt.date.fromisoformat(month + "-01")) if month else items
        except ValueError:
            return items.none()

    @extend_schema(parameters=[OpenApiParameter("month", str, description="YYYY-MM: credits of that month")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[OpenApiParameter("credit_id", int, OpenApiParameter.PATH)])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("credit_id", int, OpenApiParameter.PATH)],
        examples=[OpenApiExample("Waive", value={"status": "waived", "note": "Client-caused outage (change 4411)."})],
    )
    def partial_update(self, request, *args, **kwargs):
        credit = self.get_object()
        body = CreditSerializer(credit, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.credit_settle(
            credit=credit,
            status=body.validated_data.get("status", credit.status),
            note=body.validated_data.get("note", ""),
        )
        return Response(CreditSerializer(credits_list().get(pk=credit.pk)).data)


class CalendarViewSet(viewsets.ModelViewSet):
    """Business-hours calendars for incident response and resolution clocks."""

    serializer_class = CalendarSerializer
    filter_backends: list = []
    lookup_url_kwarg = "calendar_id"
    http_method_names = ["get", "post", "patch"]
    queryset = BusinessCalendar.objects.order_by("name")

    @extend_schema(
        examples=[
            OpenApiExample(
                "Toronto office hours",
                value={
                    "name": "Toronto office hours",
                    "time_zone": "America/Toronto",
                    "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                    "holiday_country": "CA",
                    "holiday_subdivision": "ON",
                    "extra_holidays": ["2026-12-24"],
                },
                request_only=True,
            )
        ]
    )
    def create(self, request, *args, **kwargs):
        body = CalendarSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        calendar = services.calendar_save(**body.validated_data)
        return Response(CalendarSerializer(calendar).data, status=201)

    @extend_schema(parameters=[OpenApiParameter("calendar_id", int, OpenApiParameter.PATH)])
    def partial_update(self, request, *args, **kwargs):
        calendar = self.get_object()
        body = CalendarSerializer(calendar, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return Response(CalendarSerializer(services.calendar_save(calendar=calendar, **body.validated_data)).data)

    @extend_schema(parameters=[OpenApiParameter("calendar_id", int, OpenApiParameter.PATH)])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


DRIFT_EXAMPLE = {
    "asset": 31,
    "feature": "triage_score",
    "window_start": "2026-11-23T00:00:00Z",
    "window_end": "2026-11-30T00:00:00Z",
    "id": "triage_score:2026-W48",
    "reference_label": "First 30 days after go-live",
    "reference": {"edges": [0, 0.2, 0.4, 0.6, 0.8, 1.0], "counts": [120, 340, 410, 260, 70]},
    "current": {"edges": [0, 0.2, 0.4, 0.6, 0.8, 1.0], "counts": [60, 190, 380, 420, 150]},
}


class DriftCheckViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Drift checks, newest window first; POST a reference and/or current distribution to run one."""

    serializer_class = DriftCheckSerializer
    filter_backends: list = []
    lookup_url_kwarg = "check_id"
    parser_classes = [JSONParser]

    def get_queryset(self):
        items = DriftCheck.objects.select_related("monitor")
        asset = self.request.query_params.get("asset", "")
        feature = self.request.query_params.get("feature", "")
        if asset.isdigit():
            items = items.filter(monitor__asset_id=int(asset))
        return items.filter(monitor__feature=feature) if feature else items

    @extend_schema(
        parameters=[OpenApiParameter("asset", int), OpenApiParameter("feature", str)],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[OpenApiParameter("check_id", int, OpenApiParameter.PATH)])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=DriftSubmitSerializer,
        responses={201: DriftCheckSerializer, 200: DriftCheckSerializer},
        examples=[OpenApiExample("Weekly histogram of a classifier score", value=DRIFT_EXAMPLE, request_only=True)],
    )
    def create(self, request, *args, **kwargs):
        """Compare the current window with the pinned reference: PSI, Jensen–Shannon, Kolmogorov–Smirnov.
        The same id again answers 200 with the stored check."""
        body = DriftSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        check, created = services.drift_submit(
            asset=data["asset"],
            feature=data["feature"],
            kind=data["kind"],
            current=data["current"],
            reference=data.get("reference"),
            reference_label=data.get("reference_label", ""),
            window_start=data["window_start"],
            window_end=data["window_end"],
            key=data.get("id", ""),
        )
        fresh = DriftCheck.objects.select_related("monitor").get(pk=check.pk)
        return Response(DriftCheckSerializer(fresh).data, status=201 if created else 200)


class DriftMonitorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DriftMonitorSerializer
    filter_backends: list = []
    lookup_url_kwarg = "monitor_id"

    def get_queryset(self):
        return drift_monitors().order_by("-id")

    @extend_schema(parameters=[OpenApiParameter("monitor_id", int, OpenApiParameter.PATH)])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("slos", SloViewSet, basename="slo")
router.register("slo-breaches", BreachViewSet, basename="slo-breach")
router.register("service-credits", CreditViewSet, basename="service-credit")
router.register("business-calendars", CalendarViewSet, basename="business-calendar")
router.register("drift-checks", DriftCheckViewSet, basename="drift-check")
router.register("drift-monitors", DriftMonitorViewSet, basename="drift-monitor")

urlpatterns = [
    path("slo-measurements/", MeasurementsIngestApi.as_view(), name="slo-measurements"),
    *router.urls,
]
