"""Inventory API shapes. Serializers shape and type-check; the services validate and write."""

from __future__ import annotations

from rest_framework import serializers

from ..guardrails import RULES
from ..models import (
    KIND_MODEL,
    AgentTool,
    AIModel,
    Asset,
    AssetKind,
    AssetRelation,
    Department,
    GuardrailFinding,
    Integration,
    PromptVersion,
)
from ..services import COMMON_FIELDS, KIND_FIELDS, TOOL_FIELDS, fields_for_kind


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "code", "cost_center", "owner_email", "description", "created_at"]
        read_only_fields = ["id", "created_at"]
        # Uniqueness (case-insensitive names) is checked by the service, which answers 400 with the field.
        validators = []
        extra_kwargs = {"code": {"validators": []}}


class AssetSerializer(serializers.ModelSerializer):
    """Any asset, with the fields all kinds share; `url` leads to its kind's own resource."""

    department_name = serializers.CharField(source="department.name", read_only=True, default=None)
    open_findings = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = ["id", "kind", *COMMON_FIELDS, "department_name", "open_findings"]
        fields += ["created_at", "updated_at", "url"]
        read_only_fields = fields

    def get_url(self, asset) -> str:
        return f"{KIND_ROUTES[asset.kind]}/{asset.pk}/"


class AgentToolSerializer(serializers.ModelSerializer):
    integration = serializers.PrimaryKeyRelatedField(
        queryset=Integration.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = AgentTool
        fields = ["id", *TOOL_FIELDS]
        validators = []


class PromptVersionSerializer(serializers.ModelSerializer):
    author_email = serializers.EmailField(
        required=False, help_text="Required with an API key; a signed-in user is the author otherwise."
    )

    class Meta:
        model = PromptVersion
        fields = ["id", "number", "template", "template_sha256", "author_email", "change_note", "created_at"]
        read_only_fields = ["id", "number", "template_sha256", "created_at"]


EXTRA_READ_ONLY = {
    AssetKind.MODEL: [
        "catalog_key",
        "catalog_context_window",
        "catalog_deprecation_date",
        "catalog_input_cost_per_token",
        "catalog_output_cost_per_token",
        "catalog_checked_at",
    ],
}


def _kind_serializer(kind: str) -> type[serializers.ModelSerializer]:
    model = KIND_MODEL[kind]
    writable = fields_for_kind(kind)
    read_only = ["id", "kind", "open_findings", "created_at", "updated_at", *EXTRA_READ_ONLY.get(kind, [])]
    attrs = {
        "open_findings": serializers.IntegerField(read_only=True),
        "department": serializers.PrimaryKeyRelatedField(
            queryset=Department.objects.all(), allow_null=True, required=False
        ),
        "Meta": type(
            "Meta",
            (),
            {"model": model, "fields": [*read_only[:2], *writable, *read_only[2:]], "read_only_fields": read_only}
            | {"validators": []},
        ),
    }
    if kind == AssetKind.MODEL:
        attrs["effective_deprecation_date"] = serializers.DateField(read_only=True)
        attrs["effective_context_window"] = serializers.IntegerField(read_only=True)
        attrs["Meta"].fields += ["effective_deprecation_date", "effective_context_window"]
    if kind == AssetKind.AGENT:
        attrs["tools"] = AgentToolSerializer(many=True, read_only=True)
        attrs["Meta"].fields += ["tools"]
    if kind == AssetKind.PROMPT:
        attrs["versions"] = PromptVersionSerializer(many=True, read_only=True)
        attrs["Meta"].fields += ["versions"]
    if kind == AssetKind.ENDPOINT:
        attrs["model"] = serializers.PrimaryKeyRelatedField(
            queryset=AIModel.objects.all(), allow_null=True, required=False
        )
    return type(f"{model.__name__}Serializer", (serializers.ModelSerializer,), attrs)


KIND_SERIALIZERS = {kind: _kind_serializer(kind) for kind in KIND_FIELDS}
KIND_ROUTES = {
    AssetKind.MODEL: "models",
    AssetKind.AGENT: "agents",
    AssetKind.PROMPT: "prompts",
    AssetKind.PIPELINE: "pipelines",
    AssetKind.ENDPOINT: "endpoints",
    AssetKind.INTEGRATION: "integrations",
}


class RelationSerializer(serializers.ModelSerializer):
    source = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all())
    target = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all())
    prompt_version = serializers.PrimaryKeyRelatedField(
        queryset=PromptVersion.objects.all(), allow_null=True, required=False
    )
    source_name = serializers.CharField(source="source.name", read_only=True)
    target_name = serializers.CharField(source="target.name", read_only=True)

    class Meta:
        model = AssetRelation
        fields = ["id", "source", "source_name", "kind", "target", "target_name", "prompt_version", "note"]
        fields += ["created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []


class FindingSerializer(serializers.ModelSerializer):
    asset_name = serializers.CharField(source="asset.name", read_only=True)
    asset_kind = serializers.CharField(source="asset.kind", read_only=True)

    class Meta:
        model = GuardrailFinding
        fields = ["id", "rule", "asset", "asset_name", "asset_kind", "severity", "title", "explanation", "fix"]
        fields += ["status", "first_seen_at", "last_seen_at", "resolved_at"]
        read_only_fields = fields


class RuleSerializer(serializers.Serializer):
    code = serializers.CharField()
    kinds = serializers.ListField(child=serializers.CharField())
    severity = serializers.CharField()
    title = serializers.CharField()
    fix = serializers.CharField()
    active = serializers.BooleanField()
    inactive_reason = serializers.CharField()


class BulkIdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)


class BulkOwnerSerializer(BulkIdsSerializer):
    owner_email = serializers.EmailField()


def rule_rows() -> list[dict]:
    return [
        {
            "code": rule.code,
            "kinds": list(rule.kinds),
            "severity": rule.severity,
            "title": rule.title,
            "fix": rule.fix,
            "active": rule.active,
            "inactive_reason": rule.inactive_reason,
        }
        for rule in RULES
    ]
