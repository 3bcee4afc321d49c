"""Recommendations API: list and detail (open first, by saving), decisions, refresh, routing proposals, and the
realised savings of a month ("cost avoided"). Money is a decimal string; dates are ISO 8601 (UTC days)."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.pagination import KeelCursorPagination

from .. import selectors, services
from ..models import Kind, RealisedSaving, Recommendation, Status


class RecommendationScopeSerializer(serializers.Serializer):
    kind = serializers.CharField(source="scope_kind")
    label = serializers.CharField(source="scope_label")
    asset = serializers.IntegerField(source="asset_id", allow_null=True)
    provider = serializers.CharField()
    model = serializers.CharField()
    service = serializers.CharField()
    account = serializers.CharField()


class RecommendationStepSerializer(serializers.Serializer):
    label = serializers.CharField()
    formula = serializers.CharField()
    value = serializers.CharField()


class RecommendationEvidenceSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()
    url = serializers.CharField(allow_blank=True, help_text="The ledger rows behind the figure (portal page).")


class RecommendationBaselineSerializer(serializers.Serializer):
    start = serializers.DateField(source="baseline_start")
    end = serializers.DateField(source="baseline_end", help_text="Inclusive.")
    cost = serializers.DecimalField(source="baseline_cost", max_digits=30, decimal_places=12)
    volume = serializers.DecimalField(source="baseline_volume", max_digits=30, decimal_places=12)
    unit_cost = serializers.DecimalField(source="baseline_unit_cost", max_digits=30, decimal_places=12)
    currency = serializers.CharField(source="baseline_currency")
    method = serializers.CharField()


class RealisedSavingSerializer(serializers.ModelSerializer):
    month = serializers.DateField(format="%Y-%m")

    class Meta:
        model = RealisedSaving
        fields = [
            "month",
            "first_day",
            "last_day",
            "amount",
            "currency",
            "method",
            "cost",
            "volume",
            "unit_cost",
            "baseline_unit_cost",
        ]
        read_only_fields = fields


def _evidence(rec: Recommendation) -> list[dict]:
    from ..views import ledger_url

    return [
        {"label": e.get("label", ""), "value": e.get("value", ""), "url": ledger_url(e.get("ledger"))}
        for e in rec.evidence
    ]


class RecommendationSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField()
    steps = RecommendationStepSerializer(many=True, read_only=True)
    evidence = serializers.SerializerMethodField()
    baseline = serializers.SerializerMethodField()

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "kind",
            "origin",
            "title",
            "summary",
            "scope",
            "status",
            "dismiss_reason",
            "status_note",
            "status_changed_at",
            "status_changed_by",
            "implemented_on",
            "estimated_monthly_saving",
            "currency",
            "steps",
            "evidence",
            "window_start",
            "window_end",
            "baseline",
            "first_seen_at",
            "last_seen_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RecommendationScopeSerializer)
    def get_scope(self, rec) -> dict:
        return RecommendationScopeSerializer(rec).data

    @extend_schema_field(RecommendationEvidenceSerializer(many=True))
    def get_evidence(self, rec) -> list[dict]:
        return _evidence(rec)

    @extend_schema_field(RecommendationBaselineSerializer(allow_null=True))
    def get_baseline(self, rec) -> dict | None:
        if rec.baseline_unit_cost is None:
            return None
        return RecommendationBaselineSerializer(rec).data


class RecommendationDetailSerializer(RecommendationSerializer):
    realised = serializers.SerializerMethodField()

    class Meta(RecommendationSerializer.Meta):
        fields = [*RecommendationSerializer.Meta.fields, "measure", "parameters", "realised"]
        read_only_fields = fields

    @extend_schema_field(RealisedSavingSerializer(many=True))
    def get_realised(self, rec) -> list[dict]:
        return RealisedSavingSerializer(selectors.realised_for(recommendation=rec), many=True).data


class RecommendationNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RecommendationDismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Required: why it is not worth doing.")


class RecommendationImplementSerializer(serializers.Serializer):
    implemented_on = serializers.DateField(help_text="The day the change went live (the baseline is the 30 before).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RoutingProposalSerializer(serializers.Serializer):
    provider_name = serializers.CharField(max_length=120, help_text="As the ledger writes it, e.g. Anthropic.")
    model = serializers.CharField(max_length=200)
    sub_account_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    asset_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    target = serializers.CharField(max_length=300, help_text="Catalog model id of the same provider.")
    share_percent = serializers.DecimalField(max_digits=5, decimal_places=2, default=100)


class RecommendationPagination(KeelCursorPagination):
    """Open first, then accepted, implemented, dismissed; the largest saving first within each."""

    ordering = ("status_order", "-estimated_monthly_saving", "id")


EXAMPLE = {
    "id": 12,
    "kind": "model_routing",
    "origin": "generated",
    "title": "Route short gpt-4o prompts of support-bot to gpt-4o-mini",
    "summary": "In the 30 days 1 Nov – 30 Nov 2026 (UTC), 61,204 of support-bot's 80,113 calls…",
    "scope": {
        "kind": "asset",
        "label": "support-bot · gpt-4o",
        "asset": 4,
        "provider": "openai",
        "model": "gpt-4o",
        "service": "",
        "account": "",
    },
    "status": "open",
    "dismiss_reason": "",
    "status_note": "",
    "status_changed_at": None,
    "status_changed_by": "",
    "implemented_on": None,
    "estimated_monthly_saving": "4.465000000000",
    "currency": "USD",
    "steps": [
        {
            "label": "Short prompts",
            "formula": "61,204 calls under 500 input tokens (usage events, …)",
            "value": "61,204 calls",
        },
        {
            "label": "Uncached input",
            "formula": "1.9 M input tokens/month on gpt-4o with prompts under 500 tokens × ($2.50 − $0.15) per 1 M "
            "(gpt-4o → gpt-4o-mini)",
            "value": "$4.47/month",
        },
    ],
    "evidence": [{"label": "Calls in 30 days", "value": "80,113", "url": ""}],
    "window_start": "2026-11-01",
    "window_end": "2026-11-30",
    "baseline": None,
    "first_seen_at": "2026-12-01T06:10:03Z",
    "last_seen_at": "2026-12-01T06:10:03Z",
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Status.values),
            OpenApiParameter("kind", str, enum=Kind.values),
            OpenApiParameter("search", str, description="Words of the title."),
        ],
        examples=[OpenApiExample("An open routing recommendation", value=[EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(responses=RecommendationDetailSerializer),
)
class RecommendationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Savings recommendations with their estimated monthly saving and the arithmetic behind it."""

    serializer_class = RecommendationSerializer
    pagination_class = RecommendationPagination
    filter_backends = []  # filtered by the selector, like the portal
    lookup_value_regex = r"\d+"
    action_capabilities = {"accept": Cap.EDIT, "dismiss": Cap.EDIT, "implement": Cap.EDIT, "reopen": Cap.EDIT}

    def get_queryset(self):
        params = self.request.query_params
        return selectors.recommendations_list(
            status=params.get("status", ""), kind=params.get("kind", ""), query=params.get("search", "")
        )

    def get_serializer_class(self):
        return RecommendationDetailSerializer if self.action != "list" else RecommendationSerializer

    def _answer(self, rec: Recommendation) -> Response:
        return Response(RecommendationDetailSerializer(rec, context=self.get_serializer_context()).data)

    @extend_schema(
        request=RecommendationNoteSerializer,
        responses=RecommendationDetailSerializer,
        examples=[OpenApiExample("Accept", value={"note": "Platform team, sprint 49"}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None, **kwargs):
        """Someone will implement it (from open or dismissed)."""
        body = RecommendationNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec = services.recommendation_accept(recommendation=self.get_object(), note=body.validated_data.get("note", ""))
        return self._answer(rec)

    @extend_schema(
        request=RecommendationDismissSerializer,
        responses=RecommendationDetailSerializer,
        examples=[
            OpenApiExample(
                "Dismiss",
                value={"reason": "The endpoint serves fraud scores; requests are not reported to Keel."},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None, **kwargs):
        """Not worth doing or not possible; the reason is required and kept. Refreshing never reopens it."""
        body = RecommendationDismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec = services.recommendation_dismiss(recommendation=self.get_object(), reason=body.validated_data["reason"])
        return self._answer(rec)

    @extend_schema(
        request=RecommendationImplementSerializer,
        responses=RecommendationDetailSerializer,
        examples=[OpenApiExample("Live since", value={"implemented_on": "2026-09-01"}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def implement(self, request, pk=None, **kwargs):
        """Live since the given day: the 30 days before are the baseline; the realised saving is measured at once
        and on every refresh."""
        body = RecommendationImplementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec = services.recommendation_implement(
            recommendation=self.get_object(),
            implemented_on=body.validated_data["implemented_on"],
            note=body.validated_data.get("note", ""),
        )
        return self._answer(rec)

    @extend_schema(request=RecommendationNoteSerializer, responses=RecommendationDetailSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None, **kwargs):
        """Back to open; an implemented one loses its baseline and realised savings."""
        body = RecommendationNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec = services.recommendation_reopen(recommendation=self.get_object(), note=body.validated_data.get("note", ""))
        return self._answer(rec)


class RefreshView(APIView):
    """Run the generators now (queued on a worker; in one-process set-ups it runs before the answer)."""

    write_capability = Cap.EDIT

    @extend_schema(
        operation_id="recommendations_refresh",
        request=None,
        responses={202: OpenApiResponse(OpenApiTypes.OBJECT, description="Queued, or done with the counts.")},
        examples=[
            OpenApiExample("Done", value={"created": 2, "updated": 9, "removed": 1, "errors": []}, response_only=True)
        ],
    )
    def post(self, request, **kwargs):
        from celery.result import EagerResult

        from ..tasks import refresh_task

        outcome = refresh_task.delay("manual", getattr(request.user, "email", "") or "")
        body = outcome.result if isinstance(outcome, EagerResult) else {"queued": True}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ProposeRoutingView(APIView):
    """A person's routing change for one workload, priced by Keel on its own tokens of the last 30 days."""

    write_capability = Cap.EDIT

    @extend_schema(
        operation_id="recommendations_propose_routing",
        request=RoutingProposalSerializer,
        responses={201: RecommendationDetailSerializer},
        examples=[
            OpenApiExample(
                "Send 80 % of claims assessments to Sonnet",
                value={
                    "provider_name": "Anthropic",
                    "model": "claude-opus-4-5-20251101",
                    "sub_account_id": "wrkspc_01K2Q8HBR7CLMSP1PE4X9ZT3VW",
                    "asset_id": 9,
                    "target": "claude-sonnet-4-6",
                    "share_percent": "80",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, **kwargs):
        body = RoutingProposalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec = services.recommendation_propose_routing(**body.validated_data)
        return Response(RecommendationDetailSerializer(rec).data, status=status.HTTP_201_CREATED)


class RealisedSavingsRowSerializer(serializers.Serializer):
    recommendation = serializers.IntegerField(source="recommendation_id")
    title = serializers.CharField()
    kind = serializers.CharField()
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    amount = serializers.DecimalField(max_digits=30, decimal_places=12)
    currency = serializers.CharField()
    method = serializers.CharField()
    implemented_on = serializers.DateField(allow_null=True)


class RealisedSavingsView(APIView):
    """Cost avoided in a month by implemented recommendations: one row each, and the total per currency."""

    read_capability = Cap.VIEW

    @extend_schema(
        operation_id="recommendations_realised_savings",
        parameters=[OpenApiParameter("month", str, required=True, description="YYYY-MM")],
        responses={200: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample(
                "October 2026",
                value={
                    "month": "2026-10",
                    "totals": {"USD": "6040.090044218300"},
                    "rows": [
                        {
                            "recommendation": 7,
                            "title": "Route 80 % of Claims processing agent · claude-opus-4-5-20251101 to …",
                            "kind": "model_routing",
                            "first_day": "2026-10-01",
                            "last_day": "2026-10-31",
                            "amount": "6040.090044218300",
                            "currency": "USD",
                            "method": "per_1m_tokens",
                            "implemented_on": "2026-09-01",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, **kwargs):
        raw = request.query_params.get("month", "").strip()
        try:
            month = dt.datetime.strptime(raw, "%Y-%m").date()
        except ValueError as exc:
            raise ValidationError({"month": "Give the month as YYYY-MM, e.g. 2026-10."}) from exc
        saved = selectors.realised_savings(month)
        return Response(
            {
                "month": f"{saved.month:%Y-%m}",
                "totals": {currency: str(amount) for currency, amount in sorted(saved.totals.items())},
                "rows": RealisedSavingsRowSerializer(saved.rows, many=True).data,
            }
        )
