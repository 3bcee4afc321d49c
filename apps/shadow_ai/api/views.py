"""Shadow AI API: the review queue (open items, largest 30-day spend first) and decided items, one item with its
evidence, the three decisions (register as a new asset, map to an existing one, dismiss with a reason), reopen,
and a scan on demand. Money is a decimal string in the item's currency; times are ISO 8601 UTC."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
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
from apps.inventory.api.serializers import KIND_SERIALIZERS
from apps.inventory.models import Asset

from .. import selectors, services
from ..known import SUGGESTABLE_KINDS
from ..models import IdentityKind, Origin, ShadowItem, ShadowScan
from ..suggest import item_prefill

STATUS_CHOICES = list(selectors.STATUS_FILTERS)


class _Ref(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AssetRefSerializer(_Ref):
    kind = serializers.CharField()


class RuleCandidateSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="AllocationRule match field: resource, api_key, agent, sub_account…")
    key = serializers.CharField(allow_blank=True)
    value = serializers.CharField()
    label = serializers.CharField()
    other_spend = serializers.DecimalField(
        max_digits=24, decimal_places=2, help_text="Other spend (30 days, same currency) the rule would also match."
    )


class ShadowItemSerializer(serializers.ModelSerializer):
    department = serializers.SerializerMethodField(help_text="Keel's guess, from the rows' allocation or tags.")
    asset = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()
    ledger_rows_url = serializers.SerializerMethodField(help_text="The portal's ledger rows behind the item.")
    rule_candidates = RuleCandidateSerializer(many=True, read_only=True)

    class Meta:
        model = ShadowItem
        fields = [
            "id",
            "status",
            "origin",
            "identity_kind",
            "identity_value",
            "label",
            "provider",
            "service",
            "models_seen",
            "accounts",
            "regions",
            "tags",
            "first_seen_at",
            "last_seen_at",
            "cost_30d",
            "cost_month",
            "currency",
            "other_currencies",
            "row_count",
            "requests",
            "input_tokens",
            "output_tokens",
            "suggested_kind",
            "prefill",
            "department",
            "rule_candidates",
            "ledger_rows_url",
            "asset",
            "rule",
            "dismiss_reason",
            "decided_at",
            "decided_by",
            "reopened_at",
            "reopen_note",
            "seen_at",
            "gone_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(_Ref(allow_null=True))
    def get_department(self, item) -> dict | None:
        return {"id": item.department_id, "name": item.department.name} if item.department_id else None

    @extend_schema_field(AssetRefSerializer(allow_null=True))
    def get_asset(self, item) -> dict | None:
        if not item.asset_id:
            return None
        return {"id": item.asset_id, "name": item.asset.name, "kind": item.asset.kind}

    @extend_schema_field(_Ref(allow_null=True))
    def get_rule(self, item) -> dict | None:
        return {"id": item.rule_id, "name": item.rule.name} if item.rule_id else None

    def get_ledger_rows_url(self, item) -> str:
        from ..views import rows_url

        return rows_url(item)


class RegisterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SUGGESTABLE_KINDS, required=False, help_text="Default: suggested_kind.")
    fields = serializers.DictField(
        required=False,
        default=dict,
        help_text="Asset fields as POST /models (or /agents, /endpoints, /integrations) takes them; fields left out "
        "take the item's prefill.",
    )
    match = serializers.CharField(
        required=False, allow_blank=True, help_text="The rule candidate's field; default: the first candidate."
    )


class MapSerializer(serializers.Serializer):
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all(), help_text="An asset of this client.")
    match = serializers.CharField(required=False, allow_blank=True)


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Required: why this spend needs no asset.")


class ScanSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShadowScan
        fields = ["id", "started_at", "finished_at", "trigger", "window_start", "window_end", "found", "created"]
        fields += ["reopened", "gone", "alerts"]
        read_only_fields = fields


class ScanStatusSerializer(serializers.Serializer):
    latest = ScanSerializer(allow_null=True, help_text="The latest scan; null before the first.")
    alert_threshold = serializers.DecimalField(max_digits=14, decimal_places=2)
    reopen_factor = serializers.DecimalField(max_digits=6, decimal_places=2)
    reopen_min_increase = serializers.DecimalField(max_digits=14, decimal_places=2)


class ShadowPagination(KeelCursorPagination):
    ordering = ("-cost_30d", "id")


EXAMPLE = {
    "id": 7,
    "status": "open",
    "origin": "ledger",
    "identity_kind": "resource",
    "identity_value": "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    "label": "anthropic.claude-sonnet-4-5-20250929-v1:0 (Amazon Bedrock)",
    "provider": "AWS",
    "service": "Amazon Bedrock",
    "models_seen": [],
    "accounts": [
        {
            "billing_account": "731245906182",
            "billing_account_name": "Acme Underwriting",
            "sub_account": "482913507764",
            "sub_account_name": "acme-underwriting-prod",
        }
    ],
    "regions": ["eu-central-1"],
    "tags": {"team": ["uw-platform"], "department": ["underwriting"]},
    "first_seen_at": "2026-10-28T00:00:00Z",
    "last_seen_at": "2026-11-30T00:00:00Z",
    "cost_30d": "4015.121271",
    "cost_month": "0.000000",
    "currency": "USD",
    "other_currencies": {},
    "row_count": 60,
    "requests": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "suggested_kind": "model",
    "prefill": {
        "name": "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "provider": "bedrock",
        "model_id": "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "hosting": "provider_api",
        "region": "eu-central-1",
        "department": 1,
    },
    "department": {"id": 1, "name": "Underwriting"},
    "rule_candidates": [
        {
            "field": "resource",
            "key": "",
            "value": "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
            "label": "Resource id or name is arn:aws:bedrock:…",
            "other_spend": "0.00",
        }
    ],
    "ledger_rows_url": "/c/acme/finops/ledger/?from=2026-10-28&to=2026-12-01&service=Amazon+Bedrock",
    "asset": None,
    "rule": None,
    "dismiss_reason": "",
    "decided_at": None,
    "decided_by": "",
    "reopened_at": None,
    "reopen_note": "",
    "seen_at": "2026-12-01T05:50:04Z",
    "gone_at": None,
    "created_at": "2026-12-01T05:50:04Z",
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=STATUS_CHOICES, description="Default `open` (the queue)."),
            OpenApiParameter("kind", str, enum=IdentityKind.values),
            OpenApiParameter("origin", str, enum=Origin.values),
            OpenApiParameter("search", str, description="Label, identity, service or provider."),
        ],
        examples=[OpenApiExample("An unregistered Bedrock model", value=[EXAMPLE], response_only=True)],
    ),
)
class ShadowItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """AI spend no registered asset accounts for, one item per resource, API key, agent or account × service."""

    serializer_class = ShadowItemSerializer
    pagination_class = ShadowPagination
    filter_backends = []  # filtered by the selector, like the portal
    lookup_value_regex = r"\d+"
    action_capabilities = {"register": Cap.EDIT, "map": Cap.EDIT, "dismiss": Cap.EDIT, "reopen": Cap.EDIT}

    def get_queryset(self):
        params = self.request.query_params
        if self.action != "list":
            return ShadowItem.objects.select_related("department", "asset", "rule")
        return selectors.items_list(
            status=params.get("status", "open"),
            kind=params.get("kind", ""),
            origin=params.get("origin", ""),
            query=params.get("search", ""),
        ).order_by()  # the pagination orders

    def _answer(self, item: ShadowItem, code=status.HTTP_200_OK) -> Response:
        item = selectors.item_get(pk=item.pk)
        return Response(self.get_serializer(item).data, status=code)

    @extend_schema(
        request=RegisterSerializer,
        responses=ShadowItemSerializer,
        examples=[
            OpenApiExample(
                "Register the Bedrock model (prefill for the rest)",
                value={"kind": "model", "fields": {"name": "Claude Sonnet 4.5 on Bedrock", "lifecycle": "production"}},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def register(self, request, pk=None, **kwargs):
        """Register the item as a new asset (prefilled) and add the allocation rule that routes its spend to it."""
        item = self.get_object()
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kind = body.validated_data.get("kind") or item.suggested_kind
        data = {**item_prefill(item, kind), **body.validated_data.get("fields", {})}
        asset_fields = KIND_SERIALIZERS[kind](data=data)
        if not asset_fields.is_valid():
            raise ValidationError({"fields": asset_fields.errors})
        try:
            services.item_register(
                item=item, kind=kind, fields=dict(asset_fields.validated_data), match=body.validated_data.get("match")
            )
        except DjangoValidationError as exc:
            raise ValidationError(_errors(exc)) from exc
        return self._answer(item, status.HTTP_201_CREATED)

    @extend_schema(
        request=MapSerializer,
        responses=ShadowItemSerializer,
        examples=[OpenApiExample("Map to an existing model", value={"asset": 2}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def map(self, request, pk=None, **kwargs):
        """Map the item to an asset the inventory already has, adding the allocation rule."""
        item = self.get_object()
        body = MapSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.item_map(item=item, asset=body.validated_data["asset"], match=body.validated_data.get("match"))
        except DjangoValidationError as exc:
            raise ValidationError(_errors(exc)) from exc
        return self._answer(item)

    @extend_schema(
        request=DismissSerializer,
        responses=ShadowItemSerializer,
        examples=[
            OpenApiExample(
                "A sandbox", value={"reason": "Data-science sandbox, deleted at month end."}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None, **kwargs):
        """Dismiss the item with a reason (required); it stays in the history."""
        item = self.get_object()
        body = DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.item_dismiss(item=item, reason=body.validated_data["reason"])
        except DjangoValidationError as exc:
            raise ValidationError(_errors(exc)) from exc
        return self._answer(item)

    @extend_schema(request=None, responses=ShadowItemSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None, **kwargs):
        """Put a dismissed item back in the queue."""
        item = self.get_object()
        try:
            services.item_reopen(item=item)
        except DjangoValidationError as exc:
            raise ValidationError(_errors(exc)) from exc
        return self._answer(item)


def _errors(exc: DjangoValidationError):
    return exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}


class ScanView(APIView):
    """GET the latest scan and the client's thresholds; POST runs a scan now and answers with what it found."""

    write_capability = Cap.EDIT

    @extend_schema(responses=ScanStatusSerializer)
    def get(self, request, **kwargs):
        config = services.shadow_settings()
        scan = selectors.last_scan()
        return Response(
            {
                "latest": ScanSerializer(scan).data if scan else None,
                "alert_threshold": str(config.alert_threshold),
                "reopen_factor": str(config.reopen_factor),
                "reopen_min_increase": str(config.reopen_min_increase),
            }
        )

    @extend_schema(request=None, responses={201: ScanSerializer})
    def post(self, request, **kwargs):
        scan = services.shadow_scan(trigger="api")
        return Response(ScanSerializer(scan).data, status=status.HTTP_201_CREATED)
