"""Framework library API shapes. Read-only; URNs are the stable identifiers, row ids are never exposed."""

from __future__ import annotations

from rest_framework import serializers

from ..models import Framework, FrameworkVersion, Requirement
from ..views import ASSET_TYPES


class FrameworkVersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = FrameworkVersion
        fields = [
            "version",
            "name",
            "publication",
            "source_url",
            "licence",
            "roles",
            "risk_tiers",
            "requirement_count",
            "sha256",
            "loaded_at",
        ]
        read_only_fields = fields


class FrameworkVersionDetailSerializer(FrameworkVersionBriefSerializer):
    class Meta(FrameworkVersionBriefSerializer.Meta):
        fields = [*FrameworkVersionBriefSerializer.Meta.fields, "metadata", "source", "loaded_by"]
        read_only_fields = fields


class FrameworkSerializer(serializers.ModelSerializer):
    current = FrameworkVersionBriefSerializer(read_only=True, help_text="The version in force.")

    class Meta:
        model = Framework
        fields = ["ref", "urn", "name", "short_name", "provider", "audience", "current"]
        read_only_fields = fields


class FrameworkDetailSerializer(FrameworkSerializer):
    current = FrameworkVersionDetailSerializer(read_only=True, help_text="The version in force, with its metadata.")


class FrameworkChangedNodeSerializer(serializers.Serializer):
    urn = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField(), help_text="The fields that differ.")


class FrameworkVersionChangesSerializer(serializers.Serializer):
    previous_version = serializers.IntegerField(allow_null=True, help_text="null for the first version loaded.")
    added = serializers.ListField(child=serializers.CharField(), help_text="URNs new in this version.")
    removed = serializers.ListField(child=serializers.CharField(), help_text="URNs of the previous version dropped.")
    changed = FrameworkChangedNodeSerializer(many=True)


class FrameworkVersionSerializer(FrameworkVersionDetailSerializer):
    changes = FrameworkVersionChangesSerializer(
        read_only=True, help_text="What this version changed against the one before."
    )

    class Meta(FrameworkVersionDetailSerializer.Meta):
        fields = [*FrameworkVersionDetailSerializer.Meta.fields, "changes"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        changes = instance.changes or {}
        data["changes"] = {
            "previous_version": changes.get("previous_version"),
            "added": changes.get("added", []),
            "removed": changes.get("removed", []),
            "changed": changes.get("changed", []),
        }
        return data


class FrameworkMappingSerializer(serializers.Serializer):
    target = serializers.CharField(help_text="URN of another framework's node.")
    relation = serializers.ChoiceField(choices=["equal", "subset", "superset", "intersect"])
    note = serializers.CharField(required=False)


class FrameworkRequirementSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="version.framework.ref", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)
    mappings = FrameworkMappingSerializer(many=True, read_only=True, help_text="Stored on this node (see crosswalk/).")

    class Meta:
        model = Requirement
        fields = [
            "urn",
            "framework",
            "version",
            "ref_id",
            "title",
            "description",
            "parent_urn",
            "depth",
            "position",
            "assessable",
            "roles",
            "risk_tiers",
            "asset_types",
            "evidence_types",
            "typical_evidence",
            "review_frequency",
            "applies_from",
            "deadline_rules",
            "mappings",
        ]
        read_only_fields = fields


class FrameworkRequirementBriefSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="version.framework.ref", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)

    class Meta:
        model = Requirement
        fields = ["urn", "framework", "version", "ref_id", "title", "assessable"]
        read_only_fields = fields


class FrameworkCrosswalkLinkSerializer(serializers.Serializer):
    relation = serializers.ChoiceField(
        choices=["equal", "subset", "superset", "intersect"],
        help_text="NIST OLIR relation read from the asked requirement: `subset`: it is a subset of the linked one.",
    )
    direction = serializers.ChoiceField(
        choices=["outgoing", "incoming"],
        help_text="`outgoing`: the mapping is stored on the asked requirement; `incoming`: on the linked one.",
    )
    note = serializers.CharField()
    requirement = FrameworkRequirementBriefSerializer()


class FrameworkCrosswalkSerializer(serializers.Serializer):
    requirement = FrameworkRequirementBriefSerializer()
    links = FrameworkCrosswalkLinkSerializer(many=True)


def _values(raw: list[str]) -> list[str]:
    """?role=a&role=b and ?role=a,b alike."""
    return [v.strip() for item in raw for v in item.split(",") if v.strip()]


class FrameworkRequirementQuerySerializer(serializers.Serializer):
    """The requirement list's query parameters, checked against the framework version."""

    role = serializers.ListField(child=serializers.CharField(max_length=60), required=False)
    risk_tier = serializers.ListField(child=serializers.CharField(max_length=60), required=False)
    asset_type = serializers.ListField(child=serializers.ChoiceField(choices=ASSET_TYPES), required=False)
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    version = serializers.IntegerField(required=False, min_value=1)

    def __init__(self, *, query_params, **kwargs):
        data = {key: _values(query_params.getlist(key)) for key in ("role", "risk_tier", "asset_type")}
        data = {key: value for key, value in data.items() if value}
        for key in ("search", "version"):
            if key in query_params:
                data[key] = query_params.get(key)
        super().__init__(data=data, **kwargs)
