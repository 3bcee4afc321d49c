"""The ROI inputs over the API: the client's loaded hourly rate (one settings object) and a value driver per
business unit. Reads need `view` (the read scope), writes `edit` (the write scope); writes go through
apps.reports.value_services, so they are validated like the portal page and audited. Decimals are strings.

Routes (registered by apps.reports.api.views on the per-client router, under /c/<slug>/api/v1/):
    GET/PUT/PATCH value-settings/current
    GET/POST value-drivers, GET/PUT/PATCH/DELETE value-drivers/{id}
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.roles import Cap
from apps.unit_economics.models import BusinessUnit

from ..models import ValueDriver, ValueSettings
from ..value_services import (
    ASSISTED_TOO_HIGH,
    ERRORS_PAIRED,
    value_driver_delete,
    value_driver_save,
    value_settings_get,
    value_settings_save,
)


class ValueSettingsSerializer(serializers.ModelSerializer):
    loaded_hourly_rate = serializers.DecimalField(
        max_digits=20,
        decimal_places=6,
        min_value=Decimal("0"),
        help_text="Salary plus overheads of one hour, in the client's reporting currency (0: not known yet).",
    )

    class Meta:
        model = ValueSettings
        fields = ["loaded_hourly_rate", "rate_basis", "updated_at", "updated_by"]
        read_only_fields = ["updated_at", "updated_by"]


class ValueDriverSerializer(serializers.ModelSerializer):
    unit = serializers.PrimaryKeyRelatedField(
        queryset=BusinessUnit.objects.all(), help_text="The business unit's id (one driver per unit)."
    )
    unit_code = serializers.CharField(source="unit.code", read_only=True)
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    baseline_minutes = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), help_text="Minutes per unit without AI."
    )
    assisted_minutes = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        help_text="Minutes per unit with AI; not more than baseline_minutes.",
    )
    baseline_error_rate = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        allow_null=True,
        help_text="% of units with an error before AI; give both rates or neither.",
    )
    current_error_rate = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        allow_null=True,
        help_text="% of units with an error now.",
    )

    class Meta:
        model = ValueDriver
        fields = [
            "id",
            "unit",
            "unit_code",
            "unit_name",
            "baseline_minutes",
            "assisted_minutes",
            "baseline_error_rate",
            "current_error_rate",
            "basis",
            "note",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = ["id", "updated_at", "updated_by"]
        validators = []  # the service answers "one driver per unit" on the field, in plain words

    def validate(self, attrs):
        current = self.instance
        merged = {
            name: attrs.get(name, getattr(current, name, None) if current else None)
            for name in ("baseline_minutes", "assisted_minutes", "baseline_error_rate", "current_error_rate")
        }
        errors = {}
        if (
            merged["baseline_minutes"] is not None
            and merged["assisted_minutes"] is not None
            and merged["assisted_minutes"] > merged["baseline_minutes"]
        ):
            errors["assisted_minutes"] = ASSISTED_TOO_HIGH
        if (merged["baseline_error_rate"] is None) != (merged["current_error_rate"] is None):
            errors["current_error_rate" if merged["current_error_rate"] is None else "baseline_error_rate"] = (
                ERRORS_PAIRED
            )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


DRIVER_EXAMPLE = OpenApiExample(
    "Claims handling",
    request_only=True,
    value={
        "unit": 3,
        "baseline_minutes": "18.00",
        "assisted_minutes": "7.50",
        "baseline_error_rate": "4.200",
        "current_error_rate": "2.100",
        "basis": "measured",
        "note": "Timed on 200 claims in October, before and after the triage agent.",
    },
)


@extend_schema_view(
    list=extend_schema(summary="List the value drivers"),
    create=extend_schema(examples=[DRIVER_EXAMPLE]),
    update=extend_schema(examples=[DRIVER_EXAMPLE]),
)
class ValueDriverViewSet(viewsets.ModelViewSet):
    """How much one business unit of work gains from AI: the minutes per unit without and with AI and the error
    rates, with their basis. The monthly report multiplies them by the units Keel counted. Writes are audited."""

    serializer_class = ValueDriverSerializer
    read_capability = Cap.VIEW
    write_capability = Cap.EDIT
    filter_backends: list = []

    def get_queryset(self):
        return ValueDriver.objects.select_related("unit")

    def _fields(self, serializer) -> dict:
        return dict(serializer.validated_data)

    def perform_create(self, serializer):
        serializer.instance = value_driver_save(**self._fields(serializer))

    def perform_update(self, serializer):
        serializer.instance = value_driver_save(driver=serializer.instance, **self._fields(serializer))

    def perform_destroy(self, instance):
        value_driver_delete(driver=instance)


class ValueSettingsViewSet(viewsets.GenericViewSet):
    """The client's loaded hourly rate, one object: GET, PUT or PATCH value-settings/current."""

    serializer_class = ValueSettingsSerializer
    read_capability = Cap.VIEW
    write_capability = Cap.EDIT
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return ValueSettings.objects.all()

    @extend_schema(methods=["GET"], responses={200: ValueSettingsSerializer}, summary="The loaded hourly rate")
    @extend_schema(
        methods=["PUT", "PATCH"],
        request=ValueSettingsSerializer,
        responses={200: ValueSettingsSerializer},
        examples=[
            OpenApiExample(
                "HR's figure",
                request_only=True,
                value={"loaded_hourly_rate": "68.50", "rate_basis": "HR average for claims handlers, 2026 budget"},
            )
        ],
    )
    @action(detail=False, methods=["get", "put", "patch"], url_path="current")
    def current(self, request, format=None):  # noqa: A002 — DRF passes the format suffix
        settings = value_settings_get()
        if request.method == "GET":
            return Response(ValueSettingsSerializer(settings).data)
        serializer = ValueSettingsSerializer(settings, data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        saved = value_settings_save(
            loaded_hourly_rate=data.get("loaded_hourly_rate", settings.loaded_hourly_rate),
            rate_basis=data.get("rate_basis", settings.rate_basis),
        )
        return Response(ValueSettingsSerializer(saved).data)
