"""Allocation rules over the API: CRUD in order, reorder, and the recompute status. Saving a rule answers at
once; history is re-allocated in the background (see allocation-status)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.inventory.models import Asset, Department

from ..allocation import (
    allocation_rule_delete,
    allocation_rule_save,
    allocation_rules_reorder,
    allocation_status,
    rules_with_targets,
)
from ..models import AllocationRule, AllocationStatus, AllocationTarget


class AllocationTargetSerializer(serializers.ModelSerializer):
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False, allow_null=True)
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all(), required=False, allow_null=True)
    percent = serializers.DecimalField(max_digits=7, decimal_places=4, required=False, allow_null=True)

    class Meta:
        model = AllocationTarget
        fields = ["department", "asset", "percent"]


class AllocationRuleSerializer(serializers.ModelSerializer):
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False, allow_null=True)
    asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all(), required=False, allow_null=True)
    targets = AllocationTargetSerializer(many=True, required=False)
    position = serializers.IntegerField(required=False, min_value=0)

    class Meta:
        model = AllocationRule
        fields = [
            "id",
            "name",
            "position",
            "enabled",
            "match_field",
            "match_key",
            "match_value",
            "split",
            "department",
            "asset",
            "targets",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []  # the service checks names case-insensitively and answers 400 on the field


RULE_EXAMPLE = OpenApiExample(
    "Shared platform cost by fixed percentages",
    value={
        "name": "Shared Kubernetes cluster",
        "match_field": "resource",
        "match_value": "arn:aws:eks:*:cluster/shared-*",
        "split": "fixed",
        "targets": [{"department": 1, "percent": "60"}, {"department": 2, "percent": "40"}],
    },
    request_only=True,
)


class ReorderSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)


@extend_schema(examples=[RULE_EXAMPLE])
class AllocationRuleViewSet(viewsets.ModelViewSet):
    """Ordered allocation rules: the first enabled rule matching a ledger row allocates it."""

    serializer_class = AllocationRuleSerializer
    filter_backends: list = []
    pagination_class = None  # a client has tens of rules; order matters, so they come as one list

    def get_queryset(self):
        return rules_with_targets()

    def _save(self, serializer, rule=None):
        data = dict(serializer.validated_data)
        if rule is not None and self.request.method == "PATCH":
            current = AllocationRuleSerializer(rule).data
            data = {
                **{k: current[k] for k in ("name", "match_field", "match_key", "match_value", "split")},
                "enabled": rule.enabled,
                "description": rule.description,
                "department": rule.department,
                "asset": rule.asset,
                "targets": [
                    {"department": t.department, "asset": t.asset, "percent": t.percent} for t in rule.targets.all()
                ],
                "position": rule.position,
                **data,
            }
        serializer.instance = allocation_rule_save(rule=rule, **data)

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, rule=serializer.instance)

    def perform_destroy(self, instance):
        allocation_rule_delete(rule=instance)

    @extend_schema(request=ReorderSerializer, responses={200: AllocationRuleSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        """Put the rules in this order (ids first to last); rules not listed keep their order after them."""
        body = ReorderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        allocation_rules_reorder(ordered_ids=body.validated_data["ids"])
        return Response(AllocationRuleSerializer(self.get_queryset(), many=True).data)


class AllocationStatusSerializer(serializers.ModelSerializer):
    pending = serializers.BooleanField(read_only=True)

    class Meta:
        model = AllocationStatus
        fields = ["requested_at", "started_at", "finished_at", "pending", "summary", "error"]


class AllocationStatusView(APIView):
    """Whether the ledger is being re-allocated after a rule change, and how the last pass went."""

    @extend_schema(responses={200: AllocationStatusSerializer})
    def get(self, request):
        return Response(AllocationStatusSerializer(allocation_status()).data)
