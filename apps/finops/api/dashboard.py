"""The FinOps dashboard's figures over the API: the same rollup reads as the portal page, as decimal strings.

GET /c/<client>/api/v1/finops-dashboard/?from=2026-11-01&to=2026-12-01&currency=USD&group=service
(`to` exclusive, as in the other FinOps endpoints; default the last 30 UTC days).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap

from ..dashboard import GROUPS, Dashboard, Totals, dashboard_query, finops_dashboard
from ..selectors import PRESETS


def _money(value) -> str | None:
    return None if value is None else str(value)


def _totals(totals: Totals) -> dict:
    return {
        "effective_cost": _money(totals.cost),
        "ai_cost": _money(totals.ai_cost),
        "non_ai_cost": _money(totals.non_ai_cost),
        "allocated_cost": _money(totals.allocated_cost),
        "unallocated_cost": _money(totals.unallocated_cost),
        "ai_share_percent": _money(totals.ai_share),
        "allocated_share_percent": _money(totals.allocated_share),
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cached_tokens": totals.cached_tokens,
        "tokens": totals.tokens,
        "requests": totals.requests,
        "token_cost": _money(totals.token_cost),
        "cost_per_million_tokens": _money(totals.cost_per_million_tokens),
    }


def dashboard_payload(board: Dashboard) -> dict:
    """The dashboard as JSON: every group (no top N), every period, decimal strings, UTC days, `to` exclusive."""
    query = board.query
    previous_first, previous_last = query.previous
    change = board.current.cost - board.previous.cost
    day = dt.timedelta(days=1)
    return {
        "from": query.first_day.isoformat(),
        "to": (query.last_day + day).isoformat(),
        "previous": {"from": previous_first.isoformat(), "to": (previous_last + day).isoformat()},
        "currency": board.currency,
        "currencies": [{"currency": code, "effective_cost": str(amount)} for code, amount in board.currencies],
        "group": query.group,
        "granularity": query.granularity,
        "current": _totals(board.current),
        "previous_totals": _totals(board.previous),
        "change": {
            "effective_cost": str(change),
            "percent": _money(
                (change * 100 / board.previous.cost).quantize(Decimal("0.1")) if board.previous.cost > 0 else None
            ),
        },
        "periods": [
            {"period": bucket.isoformat(), **_totals(board.by_bucket.get(bucket, Totals()))} for bucket in board.buckets
        ],
        "spend": [
            {"period": bucket.isoformat(), "key": key, "name": board.group_name(key), "effective_cost": str(amount)}
            for (bucket, key), amount in sorted(board.spend.items(), key=lambda item: (item[0][0], str(item[0][1])))
        ],
        "movers": [
            {
                "key": mover.key,
                "name": board.group_name(mover.key),
                "effective_cost": str(mover.current),
                "previous_effective_cost": str(mover.previous),
                "change": str(mover.change),
                "change_percent": _money(mover.change_percent),
            }
            for mover in board.movers
        ],
        "tokens_by_department": [
            {
                "department": line.key,
                "name": board.departments.get(line.key, "") if line.key else "",
                **_totals(line.totals),
            }
            for line in board.tokens_by_department
        ],
        "tokens_by_asset": [
            {
                "asset": line.key,
                "name": board.assets.get(line.key, {}).get("name", "") if line.key else "",
                "kind": board.assets.get(line.key, {}).get("kind", "") if line.key else "",
                **_totals(line.totals),
            }
            for line in board.tokens_by_asset
        ],
    }


# --- documentation shapes -------------------------------------------------------------------------------


class TotalsSerializer(serializers.Serializer):
    effective_cost = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)
    ai_cost = serializers.DecimalField(max_digits=30, decimal_places=12, help_text="AI and Machine Learning rows.")
    non_ai_cost = serializers.DecimalField(max_digits=30, decimal_places=12)
    allocated_cost = serializers.DecimalField(
        max_digits=30, decimal_places=12, help_text="Rows with a department or AI asset (shared costs at each share)."
    )
    unallocated_cost = serializers.DecimalField(max_digits=30, decimal_places=12)
    ai_share_percent = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    allocated_share_percent = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    requests = serializers.IntegerField(help_text="Requests of the rows that carry tokens.")
    token_cost = serializers.DecimalField(
        max_digits=30, decimal_places=12, help_text="EffectiveCost of the rows that carry tokens."
    )
    cost_per_million_tokens = serializers.DecimalField(
        max_digits=30, decimal_places=12, allow_null=True, help_text="token_cost per million tokens."
    )


class PeriodSerializer(TotalsSerializer):
    period = serializers.DateField(help_text="The UTC day, or the first day of the month (monthly granularity).")


class SpendSerializer(serializers.Serializer):
    period = serializers.DateField()
    key = serializers.JSONField(help_text="The provider or service name, or the department or asset id (null: none).")
    name = serializers.CharField()
    effective_cost = serializers.DecimalField(max_digits=30, decimal_places=12)


class MoverSerializer(serializers.Serializer):
    key = serializers.JSONField()
    name = serializers.CharField()
    effective_cost = serializers.DecimalField(max_digits=30, decimal_places=12)
    previous_effective_cost = serializers.DecimalField(max_digits=30, decimal_places=12)
    change = serializers.DecimalField(max_digits=30, decimal_places=12)
    change_percent = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)


class DepartmentTokensSerializer(TotalsSerializer):
    department = serializers.IntegerField(allow_null=True, help_text="Null: not allocated to a department.")
    name = serializers.CharField()


class AssetTokensSerializer(TotalsSerializer):
    asset = serializers.IntegerField(allow_null=True, help_text="Null: not attributed to an AI asset.")
    name = serializers.CharField()
    kind = serializers.CharField()


class RangeSerializer(serializers.Serializer):
    from_ = serializers.DateField()
    to = serializers.DateField(help_text="Exclusive.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class CurrencySerializer(serializers.Serializer):
    currency = serializers.CharField()
    effective_cost = serializers.DecimalField(max_digits=30, decimal_places=12, help_text="In the period.")


class ChangeSerializer(serializers.Serializer):
    effective_cost = serializers.DecimalField(max_digits=30, decimal_places=12)
    percent = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)


class DashboardSerializer(RangeSerializer):
    previous = RangeSerializer(help_text="The period compared with.")
    currency = serializers.CharField()
    currencies = CurrencySerializer(many=True, help_text="Every currency with spend in either period.")
    group = serializers.ChoiceField(choices=list(GROUPS))
    granularity = serializers.ChoiceField(choices=["day", "month"])
    current = TotalsSerializer()
    previous_totals = TotalsSerializer()
    change = ChangeSerializer()
    periods = PeriodSerializer(many=True)
    spend = SpendSerializer(many=True, help_text="EffectiveCost per period and group (every group).")
    movers = MoverSerializer(many=True, help_text="Every group of either period, biggest absolute change first.")
    tokens_by_department = DepartmentTokensSerializer(many=True)
    tokens_by_asset = AssetTokensSerializer(many=True)


EXAMPLE = {
    "from": "2026-11-01",
    "to": "2026-12-01",
    "previous": {"from": "2026-10-01", "to": "2026-11-01"},
    "currency": "USD",
    "currencies": [{"currency": "USD", "effective_cost": "48211.730000000000"}],
    "group": "service",
    "granularity": "day",
    "current": {
        "effective_cost": "48211.730000000000",
        "ai_cost": "9120.400000000000",
        "non_ai_cost": "39091.330000000000",
        "allocated_cost": "41002.100000000000",
        "unallocated_cost": "7209.630000000000",
        "ai_share_percent": "18.9",
        "allocated_share_percent": "85.0",
        "input_tokens": 912000000,
        "output_tokens": 120500000,
        "cached_tokens": 310000000,
        "tokens": 1342500000,
        "requests": 402311,
        "token_cost": "8120.400000000000",
        "cost_per_million_tokens": "6.048711",
    },
    "change": {"effective_cost": "3120.150000000000", "percent": "6.9"},
    "movers": [
        {
            "key": "Amazon Bedrock",
            "name": "Amazon Bedrock",
            "effective_cost": "4210.500000000000",
            "previous_effective_cost": "2890.000000000000",
            "change": "1320.500000000000",
            "change_percent": "45.7",
        }
    ],
}


class FinopsDashboardView(APIView):
    """KPIs, spend per period and group, AI share, allocation, top movers and token burn for one currency —
    the figures of the portal's FinOps dashboard, read from the daily rollup."""

    read_capability = Cap.VIEW

    @extend_schema(
        operation_id="finops_dashboard",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First UTC day (inclusive). Default: 30 days ago."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="UTC day after the last one (exclusive)."),
            OpenApiParameter(
                "preset", str, enum=list(PRESETS), description="A named period instead of from/to (UTC calendar)."
            ),
            OpenApiParameter(
                "currency",
                str,
                description="ISO 4217 code. Default: the client's reporting currency when it has spend, "
                "else the currency with the most spend.",
            ),
            OpenApiParameter("group", str, enum=list(GROUPS), description="What spend and top movers group by."),
        ],
        responses={200: DashboardSerializer},
        examples=[OpenApiExample("November by service", value=EXAMPLE, response_only=True)],
    )
    def get(self, request):
        today = timezone.now().astimezone(dt.UTC).date()
        query = dashboard_query(request.query_params, today=today, to_exclusive=True)
        if query.errors:
            raise ValidationError({"detail": query.errors})
        reporting = getattr(connection.tenant, "reporting_currency", "") or "USD"
        return Response(dashboard_payload(finops_dashboard(query, reporting_currency=reporting)))
