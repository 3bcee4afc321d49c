"""Budgets over the API: CRUD (audited, through the services) and each budget's month status with the forecast
and the daily series. Money is a decimal string; months are YYYY-MM; days are UTC charge days."""

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

from apps.inventory.models import Asset, Department

from ..charts import series_rows
from ..models import Budget
from ..selectors import budget_status, budgets_list, month_start, parse_month, utc_today
from ..services import budget_delete, budget_save, budgets_evaluate

# Budget states as the status endpoint reports them (named in the OpenAPI enum overrides).
BUDGET_STATES = ["paused", "over", "forecast_over", "watch", "on_track", "within"]


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-12"})
class MonthField(serializers.Field):
    default_error_messages = {"invalid": "Write the month as YYYY-MM, e.g. 2026-12."}

    def to_representation(self, value: dt.date) -> str:
        return f"{value:%Y-%m}"

    def to_internal_value(self, data) -> dt.date:
        month = parse_month(str(data), default=None) if data else None
        if month is None:
            self.fail("invalid")
        return month


class OverrideSerializer(serializers.Serializer):
    month = MonthField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"))


class BudgetSerializer(serializers.ModelSerializer):
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True, help_text="For scope `department`."
    )
    asset = serializers.PrimaryKeyRelatedField(
        queryset=Asset.objects.all(), required=False, allow_null=True, help_text="For scope `asset`."
    )
    provider = serializers.CharField(
        source="provider_name",
        required=False,
        allow_blank=True,
        help_text="For scope `provider`: ProviderName exactly as booked in the ledger, e.g. `OpenAI`.",
    )
    service = serializers.CharField(
        source="service_name",
        required=False,
        allow_blank=True,
        help_text="For scope `service`: ServiceName exactly as booked, e.g. `Amazon Bedrock`.",
    )
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="Monthly amount.")
    currency = serializers.CharField(
        required=False,
        max_length=3,
        help_text="Defaults to the client's reporting currency; or a currency the client is billed in. "
        "Spend in other currencies is never converted or counted.",
    )
    thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000),
        required=False,
        help_text="Whole percentages of the month's amount; default [50, 80, 100].",
    )
    overrides = OverrideSerializer(many=True, required=False, help_text="Different amounts for some months.")

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "scope",
            "department",
            "asset",
            "provider",
            "service",
            "amount",
            "currency",
            "thresholds",
            "alert_on",
            "owner_email",
            "active",
            "overrides",
            "last_evaluated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_evaluated_at", "created_at", "updated_at"]
        validators = []  # the service checks names case-insensitively and answers 400 on the field

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["overrides"] = [{"month": f"{o.month:%Y-%m}", "amount": str(o.amount)} for o in instance.overrides.all()]
        return data


BUDGET_EXAMPLES = [
    OpenApiExample(
        "OpenAI spend, with a higher December",
        value={
            "name": "OpenAI API",
            "scope": "provider",
            "provider": "OpenAI",
            "amount": "7750.00",
            "currency": "USD",
            "thresholds": [50, 80, 100],
            "alert_on": "both",
            "owner_email": "finops@acme.example",
            "overrides": [{"month": "2026-12", "amount": "9000.00"}],
        },
        request_only=True,
    ),
    OpenApiExample(
        "A department",
        value={"name": "Underwriting", "scope": "department", "department": 3, "amount": "30000.00"},
        request_only=True,
    ),
]


class ThresholdStatusSerializer(serializers.Serializer):
    percent = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    crossed_on = serializers.DateField(allow_null=True, help_text="The UTC day actual spend crossed it.")
    forecast_crosses = serializers.BooleanField(help_text="The forecast reaches it (actual has not yet).")
    alerts = serializers.ListField(child=serializers.CharField(), help_text="Bases whose alert has fired.")


class DayStatusSerializer(serializers.Serializer):
    day = serializers.DateField()
    actual = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    actual_to_date = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    expected = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    forecast_to_date = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    low = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    high = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)


class ExcludedSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=30, decimal_places=2)
    rows = serializers.IntegerField()


class BudgetStatusSerializer(serializers.Serializer):
    budget = serializers.IntegerField()
    month = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    actual = serializers.DecimalField(max_digits=30, decimal_places=2)
    percent_used = serializers.DecimalField(max_digits=8, decimal_places=1)
    forecast = serializers.DecimalField(max_digits=30, decimal_places=2)
    forecast_low = serializers.DecimalField(max_digits=30, decimal_places=2)
    forecast_high = serializers.DecimalField(max_digits=30, decimal_places=2)
    forecast_percent = serializers.DecimalField(max_digits=8, decimal_places=1)
    confidence = serializers.ChoiceField(choices=["high", "medium", "low", "final", "none"])
    confidence_text = serializers.CharField()
    state = serializers.ChoiceField(choices=BUDGET_STATES)
    days_left = serializers.IntegerField(help_text="Calendar days left in the month, today included (UTC).")
    notes = serializers.ListField(child=serializers.CharField(), help_text="Short history, bills not yet in…")
    thresholds = ThresholdStatusSerializer(many=True)
    thresholds_crossed = serializers.ListField(child=serializers.IntegerField())
    excluded = ExcludedSerializer(many=True, help_text="Spend in other currencies: shown, not counted.")
    daily = DayStatusSerializer(many=True)
    last_evaluated_at = serializers.DateTimeField(allow_null=True)


STATUS_EXAMPLE = OpenApiExample(
    "November with a runaway loop",
    response_only=True,
    value={
        "budget": 2,
        "month": "2026-11",
        "currency": "USD",
        "amount": "7750.00",
        "actual": "8078.85",
        "percent_used": "104.2",
        "forecast": "8078.85",
        "forecast_low": "8078.85",
        "forecast_high": "8078.85",
        "forecast_percent": "104.2",
        "confidence": "final",
        "confidence_text": "The month is over: these are the booked figures.",
        "notes": [],
        "state": "over",
        "days_left": 0,
        "thresholds": [
            {"percent": 50, "amount": "3875.00", "crossed_on": "2026-11-16", "forecast_crosses": False, "alerts": []},
            {
                "percent": 100,
                "amount": "7750.00",
                "crossed_on": "2026-11-28",
                "forecast_crosses": False,
                "alerts": ["actual"],
            },
        ],
        "thresholds_crossed": [50, 80, 100],
        "excluded": [],
        "daily": [
            {
                "day": "2026-11-28",
                "actual": "1041.92",
                "actual_to_date": "7664.64",
                "expected": None,
                "forecast_to_date": None,
                "low": None,
                "high": None,
            }
        ],
        "last_evaluated_at": "2026-12-01T23:15:00Z",
    },
)


def _cents(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).quantize(Decimal('0.01'))}"


def status_payload(status) -> dict:
    forecast = status.forecast
    return {
        "budget": status.budget.pk,
        "month": f"{status.month:%Y-%m}",
        "currency": status.currency,
        "amount": _cents(status.amount),
        "actual": _cents(status.actual),
        "percent_used": str(status.percent_used),
        "forecast": _cents(forecast.forecast),
        "forecast_low": _cents(forecast.low),
        "forecast_high": _cents(forecast.high),
        "forecast_percent": str(status.forecast_percent),
        "confidence": forecast.confidence,
        "confidence_text": forecast.confidence_text(status.currency),
        "notes": status.notes,
        "state": status.state,
        "days_left": status.days_left,
        "thresholds": [
            {
                "percent": t.percent,
                "amount": _cents(t.amount),
                "crossed_on": t.crossed_on.isoformat() if t.crossed_on else None,
                "forecast_crosses": t.forecast_crosses,
                "alerts": sorted({f.basis for f in t.fired}),
            }
            for t in status.thresholds
        ],
        "thresholds_crossed": [t.percent for t in status.thresholds if t.crossed],
        "excluded": [{"currency": c, "amount": _cents(a), "rows": r} for c, a, r in status.excluded],
        "daily": [
            {
                "day": row.day.isoformat(),
                "actual": _cents(row.spend),
                "actual_to_date": _cents(row.spent_to_date),
                "expected": _cents(row.expected),
                "forecast_to_date": _cents(row.forecast_to_date),
                "low": _cents(row.low),
                "high": _cents(row.high),
            }
            for row in series_rows(status)
        ],
        "last_evaluated_at": status.budget.last_evaluated_at,
    }


@extend_schema_view(
    create=extend_schema(examples=BUDGET_EXAMPLES),
    update=extend_schema(examples=BUDGET_EXAMPLES),
    partial_update=extend_schema(
        examples=[OpenApiExample("Raise the amount", value={"amount": "8500.00"}, request_only=True)]
    ),
)
class BudgetViewSet(viewsets.ModelViewSet):
    """Monthly budgets of this client: a scope, an amount, thresholds that alert once a month on actual spend
    and/or the month-end forecast. Writes are audited; a saved budget is evaluated at once."""

    serializer_class = BudgetSerializer
    filter_backends: list = []

    def get_queryset(self):
        return budgets_list()

    def _fields(self, serializer, budget: Budget | None) -> dict:
        data = dict(serializer.validated_data)
        if budget is not None and self.request.method == "PATCH":
            current = {
                "name": budget.name,
                "scope": budget.scope,
                "department": budget.department,
                "asset": budget.asset,
                "provider_name": budget.provider_name,
                "service_name": budget.service_name,
                "amount": budget.amount,
                "currency": budget.currency,
                "thresholds": budget.thresholds,
                "alert_on": budget.alert_on,
                "owner_email": budget.owner_email,
                "active": budget.active,
            }
            data = {**current, **data}
        if "overrides" in data:
            data["overrides"] = {o["month"]: o["amount"] for o in data["overrides"]}
        elif budget is not None and self.request.method == "PUT":
            data["overrides"] = {}
        return data

    def perform_create(self, serializer):
        budget = budget_save(**self._fields(serializer, None))
        budgets_evaluate(budgets=[budget])
        serializer.instance = self.get_queryset().get(pk=budget.pk)

    def perform_update(self, serializer):
        budget = budget_save(budget=serializer.instance, **self._fields(serializer, serializer.instance))
        budgets_evaluate(budgets=[budget])
        serializer.instance = self.get_queryset().get(pk=budget.pk)

    def perform_destroy(self, instance):
        budget_delete(budget=instance)

    @extend_schema(
        parameters=[OpenApiParameter("month", str, description="YYYY-MM (UTC); default this month.")],
        responses={200: BudgetStatusSerializer},
        examples=[STATUS_EXAMPLE],
    )
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None, format=None):  # noqa: A002 — DRF passes the format suffix
        """Spend, forecast (80 % range and confidence), thresholds crossed and the daily series of one month."""
        budget = self.get_object()
        today = utc_today()
        month = parse_month(request.query_params.get("month"), default=month_start(today))
        if month is None:
            raise ValidationError({"month": "Write the month as YYYY-MM, e.g. 2026-11."})
        if month > month_start(today):
            raise ValidationError({"month": "Budgets are evaluated up to this month."})
        return Response(status_payload(budget_status(budget, month=month, today=today)))
