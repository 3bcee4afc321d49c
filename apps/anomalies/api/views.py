"""Cost anomalies over the API: the list (filters, cursor pages), one anomaly with its scope's daily series and
expected band, the actions on it (acknowledge, resolve, dismiss with a reason, reopen), an on-demand scan, and
the client's detection settings. Money is a decimal string; days are UTC charge days. Writes are audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.pagination import KeelCursorPagination

from ..charts import anomaly_rows_url, detail_rows
from ..detection import Params
from ..models import Anomaly, AnomalySettings, Direction, ScopeKind
from ..selectors import STATUS_FILTERS, utc_today
from ..services import SETTINGS_FIELDS, anomalies_scan, anomaly_act, anomaly_settings, anomaly_settings_save

CENT = Decimal("0.01")


def _cents(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT))


class AnomalySerializer(serializers.ModelSerializer):
    actual = serializers.SerializerMethodField()
    expected = serializers.SerializerMethodField()
    expected_low = serializers.SerializerMethodField()
    expected_high = serializers.SerializerMethodField()
    impact = serializers.SerializerMethodField(help_text="actual − expected; negative for a drop.")
    ledger_rows_url = serializers.SerializerMethodField(help_text="The portal's ledger rows of the scope and day.")
    alert = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Anomaly
        fields = [
            "id",
            "scope_kind",
            "scope_key",
            "scope_label",
            "provider_name",
            "day",
            "currency",
            "actual",
            "expected",
            "expected_low",
            "expected_high",
            "impact",
            "direction",
            "score",
            "status",
            "status_note",
            "status_changed_at",
            "status_changed_by",
            "resolved_automatically",
            "first_detected_at",
            "last_detected_at",
            "alert",
            "ledger_rows_url",
        ]
        read_only_fields = fields

    def get_actual(self, obj) -> str:
        return _cents(obj.actual)

    def get_expected(self, obj) -> str:
        return _cents(obj.expected)

    def get_expected_low(self, obj) -> str:
        return _cents(obj.expected_low)

    def get_expected_high(self, obj) -> str:
        return _cents(obj.expected_high)

    def get_impact(self, obj) -> str:
        return _cents(obj.impact)

    def get_ledger_rows_url(self, obj) -> str:
        return anomaly_rows_url(obj)


class SeriesDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    actual = serializers.DecimalField(max_digits=30, decimal_places=2)
    expected = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    expected_low = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    expected_high = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    flagged = serializers.CharField(help_text="spike, drop or empty: the verdict with today's settings.")


class AnomalyDetailSerializer(AnomalySerializer):
    spread = serializers.SerializerMethodField()
    typical = serializers.SerializerMethodField(help_text="Median daily spend of the 28 days before.")
    baseline = serializers.JSONField(source="details", read_only=True, help_text="The baseline's arithmetic.")
    series = serializers.SerializerMethodField(help_text="The scope's daily spend around the day, with its range.")

    class Meta(AnomalySerializer.Meta):
        fields = [*AnomalySerializer.Meta.fields, "spread", "typical", "baseline", "series"]
        read_only_fields = fields

    def get_spread(self, obj) -> str:
        return _cents(obj.spread)

    def get_typical(self, obj) -> str:
        return _cents(obj.typical)

    @extend_schema_field(SeriesDaySerializer(many=True))
    def get_series(self, obj) -> list[dict]:
        params = self.context.get("params") or Params()
        return [
            {
                "day": row.day.isoformat(),
                "actual": _cents(row.actual),
                "expected": _cents(row.expected),
                "expected_low": _cents(row.low),
                "expected_high": _cents(row.high),
                "flagged": row.flagged,
            }
            for row in detail_rows(obj, params=params, today=utc_today())
        ]


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Required to dismiss: why it is not a problem."
    )


class ScanRequestSerializer(serializers.Serializer):
    first_day = serializers.DateField(required=False, help_text="Default: the settings' days re-scanned.")
    last_day = serializers.DateField(required=False, help_text="Default: yesterday (UTC).")


class ScanResultSerializer(serializers.Serializer):
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    series = serializers.IntegerField(help_text="Scopes read (per currency).")
    days_judged = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    reopened = serializers.IntegerField()
    resolved = serializers.IntegerField(help_text="Closed automatically: the day is back in range.")
    alerts_raised = serializers.IntegerField()
    seconds = serializers.FloatField()


ANOMALY_EXAMPLE = OpenApiExample(
    "Acme's runaway loop, seen in the daily bill",
    response_only=True,
    value={
        "id": 12,
        "scope_kind": "service",
        "scope_key": "OpenAI API",
        "scope_label": "OpenAI API",
        "provider_name": "OpenAI",
        "day": "2026-11-28",
        "currency": "USD",
        "actual": "1041.92",
        "expected": "130.11",
        "expected_low": "0.00",
        "expected_high": "466.64",
        "impact": "911.81",
        "direction": "spike",
        "score": "63.50",
        "status": "open",
        "status_note": "",
        "status_changed_at": None,
        "status_changed_by": "",
        "resolved_automatically": False,
        "first_detected_at": "2026-11-29T06:30:04Z",
        "last_detected_at": "2026-12-01T06:30:03Z",
        "alert": 31,
        "ledger_rows_url": "/c/acme/finops/ledger/?from=2026-11-28&to=2026-11-28&charge_category=Usage&currency=USD"
        "&service=OpenAI+API",
    },
)
STATUS_CHOICES = ", ".join(STATUS_FILTERS)


class AnomalyPagination(KeelCursorPagination):
    ordering = ("-day", "-id")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, description=f"One of {STATUS_CHOICES}; default all."),
            OpenApiParameter("scope_kind", str, enum=ScopeKind.values),
            OpenApiParameter("scope_key", str, description="ServiceName, BillingAccountId or asset id."),
            OpenApiParameter("direction", str, enum=Direction.values),
            OpenApiParameter("currency", str),
            OpenApiParameter("from", dt.date, description="Days on or after (UTC)."),
            OpenApiParameter("to", dt.date, description="Days on or before (UTC)."),
        ],
        examples=[ANOMALY_EXAMPLE],
    ),
    retrieve=extend_schema(responses={200: AnomalyDetailSerializer}),
)
class AnomalyViewSet(viewsets.ReadOnlyModelViewSet):
    """Days on which a scope's Usage spend left the range its own history expected (newest first)."""

    serializer_class = AnomalySerializer
    pagination_class = AnomalyPagination
    filter_backends: list = []
    action_capabilities = {name: Cap.EDIT for name in ("acknowledge", "resolve", "dismiss", "reopen", "scan")}

    def get_serializer_class(self):
        return AnomalyDetailSerializer if self.action == "retrieve" else AnomalySerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "retrieve" and not getattr(self, "swagger_fake_view", False):  # schema builds query nothing
            context["params"] = Params.from_settings(anomaly_settings())
        return context

    def get_queryset(self):
        rows = Anomaly.objects.all()
        if self.action != "list":
            return rows
        params = self.request.query_params
        status = params.get("status")
        if status:
            if status not in STATUS_FILTERS:
                raise ValidationError({"status": f"One of {STATUS_CHOICES}."})
            rows = rows.filter(STATUS_FILTERS[status][1])
        for name, allowed in (("scope_kind", ScopeKind.values), ("direction", Direction.values)):
            value = params.get(name)
            if value:
                if value not in allowed:
                    raise ValidationError({name: f"One of {', '.join(allowed)}."})
                rows = rows.filter(**{name: value})
        if params.get("scope_key") is not None and params.get("scope_key") != "":
            rows = rows.filter(scope_key=params["scope_key"])
        if params.get("currency"):
            rows = rows.filter(currency=params["currency"].upper())
        for name, lookup in (("from", "day__gte"), ("to", "day__lte")):
            if params.get(name):
                try:
                    rows = rows.filter(**{lookup: dt.date.fromisoformat(params[name])})
                except ValueError as exc:
                    raise ValidationError({name: "Write the day as YYYY-MM-DD."}) from exc
        return rows

    def _act(self, request, name: str):
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        anomaly = anomaly_act(anomaly=self.get_object(), action=name, note=body.validated_data.get("note", ""))
        return Response(AnomalySerializer(anomaly, context=self.get_serializer_context()).data)

    @extend_schema(request=NoteSerializer, responses={200: AnomalySerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Someone is on it; its alert is acknowledged too."""
        return self._act(request, "acknowledge")

    @extend_schema(
        request=NoteSerializer,
        responses={200: AnomalySerializer},
        examples=[
            OpenApiExample("Fixed", value={"note": "Loop in underwriter-7 stopped at 13:52."}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Handled (an optional note says how); its alert is resolved."""
        return self._act(request, "resolve")

    @extend_schema(
        request=NoteSerializer,
        responses={200: AnomalySerializer},
        examples=[
            OpenApiExample("Planned", value={"note": "Planned re-index of the claims archive."}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Not a problem: the reason (note) is required; its alert is resolved."""
        return self._act(request, "dismiss")

    @extend_schema(request=NoteSerializer, responses={200: AnomalySerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Open a resolved or dismissed anomaly again (a recent one raises its alert again)."""
        return self._act(request, "reopen")

    @extend_schema(
        request=ScanRequestSerializer,
        responses={200: ScanResultSerializer},
        examples=[OpenApiExample("Judge November again", value={"first_day": "2026-11-01"}, request_only=True)],
    )
    @action(detail=False, methods=["post"])
    def scan(self, request):
        """Judge the days again now (at most 400 in one call), as the 06:30 UTC scan does."""
        body = ScanRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        first, last = body.validated_data.get("first_day"), body.validated_data.get("last_day")
        if first and last and first > last:
            raise ValidationError({"first_day": "The period ends before it starts."})
        if first and not last:
            last = utc_today() - dt.timedelta(days=1)
        result = anomalies_scan(first_day=first, last_day=last)
        return Response(result.as_dict())


class AnomalySettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = AnomalySettings
        fields = [*SETTINGS_FIELDS, "last_scan_at", "last_scan", "updated_at"]
        read_only_fields = ["last_scan_at", "last_scan", "updated_at"]


SETTINGS_EXAMPLE = OpenApiExample(
    "Quieter: only days 5 spreads and 200 away",
    value={"sensitivity": "5.00", "min_impact": "200.000000"},
    request_only=True,
)


class AnomalySettingsView(APIView):
    """The client's detection settings (one set per client). PATCH changes some of them; audited."""

    @extend_schema(responses={200: AnomalySettingsSerializer})
    def get(self, request):
        return Response(AnomalySettingsSerializer(anomaly_settings()).data)

    @extend_schema(
        request=AnomalySettingsSerializer, responses={200: AnomalySettingsSerializer}, examples=[SETTINGS_EXAMPLE]
    )
    def patch(self, request):
        body = AnomalySettingsSerializer(anomaly_settings(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        saved = anomaly_settings_save(**body.validated_data)
        return Response(AnomalySettingsSerializer(saved).data)
