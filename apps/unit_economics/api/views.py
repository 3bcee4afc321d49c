"""Unit economics API: business units, daily counts (batch ingest, list, CSV import) and cost per unit.

Counts are pushed like usage events: `POST unit-metrics` with an API key holding the `ingest` scope (or
`write`), idempotent by (unit, UTC day, department, asset). Money is always a decimal string; cost per unit
is null, never infinity, when no units were counted.
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.errors import batch_post, drf_problem, problem_body
from apps.finops.api.usage import DecimalJSONParser
from apps.inventory.models import Department

from ..models import BusinessUnit, UnitCount
from ..selectors import (
    BASIS_LABELS,
    DRIVER_DIMENSIONS,
    GRANULARITIES,
    MAX_RANGE_DAYS,
    month_start,
    previous_month,
    scope_from_params,
    scope_label,
    unit_cost_drivers,
    unit_cost_series,
    unit_scope_label,
    units_list,
    utc_today,
)
from ..services import (
    MAX_ERRORS,
    MAX_ITEMS,
    BatchTooLarge,
    CsvError,
    business_unit_delete,
    business_unit_save,
    unit_counts_csv_ingest,
    unit_counts_ingest,
)

CSV_MAX_BYTES = 20 * 1024 * 1024
TRUE = {"1", "true", "yes", "on"}


def _decimal(value) -> str | None:
    return None if value is None else str(value)


class CountsPermission(BasePermission):
    """Reads need `view` (the read scope); pushing counts needs `ingest` (an ingest key) or `edit`."""

    message = "Your role or API key scopes do not allow this: pushing counts needs the ingest or write scope."

    def has_permission(self, request, view):
        access = getattr(request._request, "access", None)
        if access is None:
            return False
        if request.method in SAFE_METHODS:
            return access.can(Cap.VIEW)
        return access.can(Cap.INGEST) or access.can(Cap.EDIT)


# --- business units -------------------------------------------------------------------------------------


class BusinessUnitSerializer(serializers.ModelSerializer):
    code = serializers.SlugField(max_length=40, help_text="The unit's code in counts; fixed once created.")
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True, help_text="With scope_kind department."
    )
    scope_label = serializers.SerializerMethodField(help_text="The scope in words.")

    class Meta:
        model = BusinessUnit
        fields = [
            "id",
            "code",
            "name",
            "unit_label",
            "unit_label_plural",
            "description",
            "scope_kind",
            "department",
            "asset",
            "model",
            "ai_only",
            "scope_label",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "asset": {"help_text": "With scope_kind asset: the asset's id."},
            "model": {"help_text": "With scope_kind model: the model id exactly as the ledger has it."},
        }

    def get_scope_label(self, unit) -> str:
        return unit_scope_label(unit)


UNIT_EXAMPLE = {
    "code": "claims",
    "name": "Insurance claim processed",
    "unit_label": "claim",
    "description": "A first notice of loss triaged and summarised for the adjuster.",
    "scope_kind": "asset",
    "asset": 17,
    "ai_only": False,
}


@extend_schema_view(
    create=extend_schema(examples=[OpenApiExample("Cost per claim of one agent", value=UNIT_EXAMPLE)]),
)
class BusinessUnitViewSet(viewsets.ModelViewSet):
    """The client's business units: what is counted, and the cost scope each is measured against."""

    serializer_class = BusinessUnitSerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    filterset_fields = ["scope_kind"]

    def get_queryset(self):
        return units_list()

    def perform_create(self, serializer):
        serializer.instance = business_unit_save(**serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if data.get("code") == serializer.instance.code:
            data.pop("code")
        serializer.instance = business_unit_save(unit=serializer.instance, **data)

    def perform_destroy(self, instance):
        business_unit_delete(unit=instance)


# --- counts ---------------------------------------------------------------------------------------------


class UnitCountSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(source="unit.code", help_text="The business unit's code.")
    day = serializers.DateField(help_text="UTC day.")

    class Meta:
        model = UnitCount
        fields = [
            "id",
            "unit",
            "day",
            "department",
            "asset",
            "count",
            "reference",
            "source",
            "updated_at",
            "updated_by",
        ]


_ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "unit": {"type": "string", "description": "The business unit's code. Required."},
        "day": {"type": "string", "format": "date", "description": "UTC day, YYYY-MM-DD (or give timestamp)."},
        "timestamp": {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with an offset; counted on its UTC day.",
        },
        "count": {"type": "integer", "minimum": 0, "description": "How many units happened that day. Required."},
        "department": {"type": "string", "description": "Optional: a department's code (or id) the count is for."},
        "asset": {"type": "string", "description": "Optional: an AI asset's name (or id) the count is for."},
        "id": {"type": "string", "maxLength": 200, "description": "Optional: your reference, echoed in errors."},
    },
    "required": ["unit", "count"],
    "additionalProperties": False,
}
_ITEMS = {"type": "array", "maxItems": MAX_ITEMS, "items": _ITEM_SCHEMA}
INGEST_REQUEST = {
    "oneOf": [{"type": "object", "properties": {"items": _ITEMS}, "required": ["items"]}, _ITEMS],
    "description": f'At most {MAX_ITEMS:,} items: {{"items": [...]}} or a bare list. The same (unit, day, '
    "department, asset) sent again replaces the stored count.",
}
INGEST_EXAMPLE = {
    "items": [
        {"unit": "claims", "day": "2026-11-30", "count": 1132, "id": "claims-2026-11-30"},
        {"unit": "claims", "day": "2026-11-30", "department": "claims-ops", "count": 1132},
        {"unit": "loans", "timestamp": "2026-11-30T23:59:59Z", "count": 402},
    ]
}
INGEST_RESULT_EXAMPLE = {
    "accepted": 2,
    "created": 1,
    "updated": 1,
    "unchanged": 0,
    "duplicates": 0,
    "rejected": 1,
    "errors": [
        {"index": 2, "id": "", "field": "unit", "message": "No business unit has the code 'loans' (known: claims)."}
    ],
    "units": {"claims": {"items": 2, "first_day": "2026-11-30", "last_day": "2026-11-30", "count": 2264}},
}


class CountErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the batch, from 0 (CSV: `line` instead).")
    id = serializers.CharField(help_text="The item's id, when it sent one.")
    field = serializers.CharField(help_text="The field at fault; empty when the whole item is.")
    message = serializers.CharField()


class CountIngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Valid items (stored, or already stored with that count).")
    created = serializers.IntegerField(help_text="Counts stored for a key that had none.")
    updated = serializers.IntegerField(help_text="Counts that replaced a different stored count.")
    unchanged = serializers.IntegerField(help_text="Items equal to what was stored (a retry): nothing written.")
    duplicates = serializers.IntegerField(help_text="Items whose key came again later in the batch (last wins).")
    rejected = serializers.IntegerField(help_text="Items not stored because of the errors listed.")
    errors = CountErrorSerializer(many=True, help_text=f"Per-item errors (the first {MAX_ERRORS:,}).")
    errors_omitted = serializers.IntegerField(required=False)
    units = serializers.DictField(help_text="Per unit code: items, first_day, last_day, count.")


def _page_filters(request):
    params = request.query_params
    counts = UnitCount.objects.select_related("unit")
    code = (params.get("unit") or "").strip().lower()
    if code:
        counts = counts.filter(unit__code=code)
    for name, lookup in (("from", "day__gte"), ("to", "day__lt")):
        value = (params.get(name) or "").strip()
        if value:
            try:
                counts = counts.filter(**{lookup: dt.date.fromisoformat(value)})
            except ValueError as exc:
                raise ValidationError({name: "Use a date, YYYY-MM-DD."}) from exc
    department = (params.get("department") or "").strip()
    if department:
        if department == "none":
            counts = counts.filter(department__isnull=True)
        elif department.isdigit():
            counts = counts.filter(department_id=int(department))
        else:
            counts = counts.filter(department__code=department)
    asset = (params.get("asset") or "").strip()
    if asset:
        if asset == "none":
            counts = counts.filter(asset__isnull=True)
        elif asset.isdigit():
            counts = counts.filter(asset_id=int(asset))
        else:
            raise ValidationError({"asset": "An asset id, or none."})
    return counts


COUNT_FILTERS = [
    OpenApiParameter("unit", str, description="A business unit's code."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First UTC day (inclusive)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last UTC day (exclusive)."),
    OpenApiParameter("department", str, description="Department id or code, or `none` (the unit's totals)."),
    OpenApiParameter("asset", str, description="Asset id, or `none`."),
]


class UnitMetricsApi(APIView):
    """Daily counts of the business units. `POST` a batch (an `ingest` or `write` key); `GET` lists them."""

    parser_classes = [DecimalJSONParser]
    permission_classes = [CountsPermission]

    @extend_schema(
        operation_id="unit_metrics_list",
        tags=["unit economics"],
        parameters=COUNT_FILTERS,
        responses={200: UnitCountSerializer(many=True)},
    )
    def get(self, request):
        from apps.api.pagination import KeelCursorPagination

        paginator = KeelCursorPagination()
        page = paginator.paginate_queryset(_page_filters(request), request, view=self)
        return paginator.get_paginated_response(UnitCountSerializer(page, many=True).data)

    @extend_schema(
        operation_id="unit_metrics_ingest",
        tags=["unit economics"],
        request={"application/json": INGEST_REQUEST},
        responses={
            200: OpenApiResponse(CountIngestResultSerializer, description="Processed; per-item errors listed."),
            400: OpenApiResponse(description="problem+json: not a batch, or no item in it is valid."),
            403: OpenApiResponse(description="problem+json: the key has neither the ingest nor the write scope."),
            413: OpenApiResponse(description=f"problem+json: more than {MAX_ITEMS:,} items."),
        },
        examples=[
            OpenApiExample("Daily counts", value=INGEST_EXAMPLE, request_only=True),
            OpenApiExample("Processed", value=INGEST_RESULT_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Too many items",
                value=problem_body(
                    413, "Payload too large", f"A batch holds at most {MAX_ITEMS:,} items; this one has 10,001."
                ),
                response_only=True,
                status_codes=["413"],
            ),
        ],
    )
    def post(self, request):
        return batch_post(request, key="items", noun="item", ingest=unit_counts_ingest, too_large=BatchTooLarge)


class CountsCsvSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="UTF-8 CSV: unit, day (or timestamp), count[, department, asset, id].")
    unit = serializers.CharField(required=False, help_text="The unit of every row, when the file has no unit column.")


class UnitMetricsCsvApi(APIView):
    """Import counts from a CSV file (the portal's format). `?dry_run=true` only says what it would do."""

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [CountsPermission]

    @extend_schema(
        operation_id="unit_metrics_csv_import",
        tags=["unit economics"],
        request={"multipart/form-data": CountsCsvSerializer},
        parameters=[OpenApiParameter("dry_run", bool, description="Validate and count; store nothing.")],
        responses={
            200: OpenApiResponse(CountIngestResultSerializer, description="Processed; errors carry the CSV line."),
            400: OpenApiResponse(description="problem+json: the file cannot be read as counts."),
            413: OpenApiResponse(description="problem+json: the file is larger than 20 MB."),
        },
    )
    def post(self, request):
        body = CountsCsvSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > CSV_MAX_BYTES:
            return drf_problem(413, "Payload too large", "The file is larger than 20 MB: split it by month.")
        try:
            result, parsed = unit_counts_csv_ingest(
                upload.read(),
                default_unit=body.validated_data.get("unit", "").strip().lower(),
                dry_run=request.query_params.get("dry_run", "").lower() in TRUE,
            )
        except CsvError as exc:
            return drf_problem(400, "File cannot be read", str(exc))
        answer = {**result.as_dict(), "columns": parsed.columns, "ignored_columns": parsed.ignored_columns}
        if result.rejected and not result.accepted:
            return drf_problem(400, "Invalid request", "No row of the file is valid.", **answer)
        return Response(answer)


# --- cost per unit -------------------------------------------------------------------------------------------

SCOPE_PARAMETERS = [
    OpenApiParameter("unit", str, required=True, description="The business unit's code."),
    OpenApiParameter("department", int, description="Measure against this department instead of the unit's scope."),
    OpenApiParameter("asset", int, description="…this AI asset (combined with department and model when given)."),
    OpenApiParameter("model", str, description="…this model id, exactly as the ledger has it."),
    OpenApiParameter(
        "scope", str, description="Alternatively `default`, `client`, `department:<id>`, `asset:<id>`, `model:<id>`."
    ),
    OpenApiParameter("ai", str, enum=["yes", "no"], description="AI spend only (default: the unit's setting)."),
    OpenApiParameter("currency", str, description="ISO 4217; default the scope's largest currency."),
]


def _unit(params) -> BusinessUnit:
    code = (params.get("unit") or "").strip().lower()
    if not code:
        raise ValidationError({"unit": "The business unit's code is required."})
    return get_object_or_404(units_list(), code=code)


def _scope(params, unit):
    choice = scope_from_params(params, unit)
    if choice.errors:
        raise ValidationError({"scope": choice.errors})
    return choice.scope


def _scope_body(scope) -> dict:
    return {
        "department": scope.department_id,
        "asset": scope.asset_id,
        "model": scope.model,
        "ai_only": scope.ai_only,
        "label": scope_label(scope),
        "is_client": scope.is_client and not scope.missing,
        "missing": scope.missing,
    }


def _point(p) -> dict:
    return {
        "period": p.period.isoformat(),
        "first_day": p.first_day.isoformat(),
        "last_day": p.last_day.isoformat(),
        "units": p.units,
        "cost": str(p.cost),
        "cost_per_unit": _decimal(p.cost_per_unit),
        "days_with_counts": p.days_with_counts,
    }


def _unit_body(unit) -> dict:
    return {"code": unit.code, "name": unit.name, "unit_label": unit.unit_label, "unit_label_plural": unit.plural}


SERIES_EXAMPLE = {
    "unit": {
        "code": "claims",
        "name": "Insurance claim processed",
        "unit_label": "claim",
        "unit_label_plural": "claims",
    },
    "granularity": "month",
    "from": "2026-08-01",
    "to": "2026-10-01",
    "currency": "USD",
    "other_currencies": {},
    "scope": {
        "department": None,
        "asset": 17,
        "model": "",
        "ai_only": False,
        "label": "All spend of Claims processing agent (agent)",
        "is_client": False,
        "missing": "",
    },
    "volume_basis": "total",
    "totals": {"units": 61876, "cost": "31589.400000000000", "cost_per_unit": "0.51052783"},
    "series": [
        {
            "period": "2026-08-01",
            "first_day": "2026-08-01",
            "last_day": "2026-08-31",
            "units": 30410,
            "cost": "18550.100000000000",
            "cost_per_unit": "0.61000000",
            "days_with_counts": 31,
        },
        {
            "period": "2026-09-01",
            "first_day": "2026-09-01",
            "last_day": "2026-09-30",
            "units": 31466,
            "cost": "13039.300000000000",
            "cost_per_unit": "0.41439586",
            "days_with_counts": 30,
        },
    ],
}


class UnitCostsApi(APIView):
    """Cost per unit by day or month for the unit's scope or another one, from the daily cost rollup."""

    @extend_schema(
        operation_id="unit_costs",
        tags=["unit economics"],
        parameters=[
            *SCOPE_PARAMETERS,
            OpenApiParameter("granularity", str, enum=list(GRANULARITIES), description="Default month."),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First UTC day; default 12 months back."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Day after the last (exclusive); default today."),
        ],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="problem+json: no such unit.")},
        examples=[OpenApiExample("Monthly", value=SERIES_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        params = request.query_params
        unit = _unit(params)
        today = utc_today()
        default_start = month_start(today)
        for _ in range(12):
            default_start = previous_month(default_start)
        try:
            start = dt.date.fromisoformat(params.get("from") or default_start.isoformat())
            end = dt.date.fromisoformat(params.get("to") or today.isoformat())
        except ValueError as exc:
            raise ValidationError({"from": "Use dates, YYYY-MM-DD."}) from exc
        if end <= start:
            raise ValidationError({"to": "`to` (exclusive) must be after `from`."})
        if (end - start).days > MAX_RANGE_DAYS:
            raise ValidationError({"to": f"At most {MAX_RANGE_DAYS:,} days at a time."})
        granularity = params.get("granularity") or "month"
        if granularity not in GRANULARITIES:
            raise ValidationError({"granularity": "day or month."})
        series = unit_cost_series(
            unit,
            start=start,
            end=end,
            granularity=granularity,
            scope=_scope(params, unit),
            currency=(params.get("currency") or "").strip() or None,
        )
        return Response(
            {
                "unit": _unit_body(unit),
                "granularity": granularity,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "currency": series.currency,
                "other_currencies": {c: str(v) for c, v in series.other_currencies.items()},
                "scope": _scope_body(series.scope),
                "volume_basis": series.volume_basis,
                "volume_basis_label": BASIS_LABELS[series.volume_basis],
                "totals": {
                    "units": series.units,
                    "cost": str(series.cost),
                    "cost_per_unit": _decimal(series.cost_per_unit),
                },
                "series": [_point(p) for p in series.points],
            }
        )


class UnitCostDriversApi(APIView):
    """One month against the month before: volume vs unit-cost effect and the top contributors."""

    @extend_schema(
        operation_id="unit_cost_drivers",
        tags=["unit economics"],
        parameters=[
            *SCOPE_PARAMETERS,
            OpenApiParameter("month", str, description="YYYY-MM; default the last whole month."),
            OpenApiParameter("by", str, enum=list(DRIVER_DIMENSIONS), description="Default service."),
            OpenApiParameter("top", int, description="Contributors listed before “All other” (1–50, default 8)."),
        ],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="problem+json: no such unit.")},
    )
    def get(self, request):
        params = request.query_params
        unit = _unit(params)
        raw = (params.get("month") or "").strip()
        try:
            month = dt.date.fromisoformat(f"{raw}-01") if raw else previous_month(month_start(utc_today()))
        except ValueError as exc:
            raise ValidationError({"month": "Use YYYY-MM."}) from exc
        by = params.get("by") or "service"
        if by not in DRIVER_DIMENSIONS:
            raise ValidationError({"by": f"One of {', '.join(DRIVER_DIMENSIONS)}."})
        top = params.get("top") or "8"
        if not top.isdigit() or not 1 <= int(top) <= 50:
            raise ValidationError({"top": "A whole number from 1 to 50."})
        drivers = unit_cost_drivers(
            unit,
            month,
            scope=_scope(params, unit),
            by=by,
            currency=(params.get("currency") or "").strip() or None,
            top=int(top),
        )
        return Response(
            {
                "unit": _unit_body(unit),
                "month": f"{drivers.month:%Y-%m}",
                "previous_month": f"{drivers.previous_month:%Y-%m}",
                "currency": drivers.currency,
                "other_currencies": {c: str(v) for c, v in drivers.other_currencies.items()},
                "scope": _scope_body(drivers.scope),
                "previous": _point(drivers.previous),
                "current": _point(drivers.current),
                "cost_change": str(drivers.cost_change),
                "volume_change": drivers.volume_change,
                "cost_per_unit_change": _decimal(drivers.per_unit_change),
                "cost_per_unit_change_percent": _decimal(drivers.per_unit_change_percent),
                "volume_effect": _decimal(drivers.volume_effect),
                "unit_cost_effect": _decimal(drivers.unit_cost_effect),
                "by": by,
                "contributors": [
                    {
                        "key": c.key,
                        "label": c.label,
                        "other": c.other,
                        "previous_cost": str(c.previous_cost),
                        "current_cost": str(c.current_cost),
                        "change": str(c.change),
                        "previous_per_unit": _decimal(c.previous_per_unit),
                        "current_per_unit": _decimal(c.current_per_unit),
                        "per_unit_change": _decimal(c.per_unit_change),
                    }
                    for c in drivers.contributors
                ],
            }
        )
