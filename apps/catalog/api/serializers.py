"""Model price catalog API shapes. Prices are decimal strings, exactly as stored: never floats."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from ..models import CatalogRelease, ModelPrice
from ..services import PRICE_FIELDS


class PriceField(serializers.DecimalField):
    """USD per token as a plain decimal string ("0.0000025"), without the column's padding or an exponent."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=20, decimal_places=12, coerce_to_string=True, read_only=True, **kwargs)

    def to_representation(self, value):
        return None if value is None else format(Decimal(value).normalize(), "f")


class CatalogReleaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogRelease
        fields = ["source", "sha256", "entry_count", "loaded_at"]
        read_only_fields = fields


class ModelPriceSerializer(serializers.ModelSerializer):
    input_cost_per_token = PriceField(allow_null=True)
    output_cost_per_token = PriceField(allow_null=True)
    cache_read_input_token_cost = PriceField(allow_null=True)
    cache_creation_input_token_cost = PriceField(allow_null=True)

    class Meta:
        model = ModelPrice
        fields = [
            "key",
            "litellm_provider",
            "mode",
            *PRICE_FIELDS,
            "max_input_tokens",
            "max_output_tokens",
            "deprecation_date",
            "source",
            "updated_at",
        ]
        read_only_fields = fields


class ModelPriceDetailSerializer(ModelPriceSerializer):
    raw = serializers.JSONField(
        read_only=True, help_text="The catalog's whole entry, numbers as decimal strings (never floats)."
    )
    release = CatalogReleaseSerializer(read_only=True, help_text="The catalog file this entry last changed in.")

    class Meta(ModelPriceSerializer.Meta):
        fields = [*ModelPriceSerializer.Meta.fields, "raw", "release"]
        read_only_fields = fields


class CatalogQuerySerializer(serializers.Serializer):
    """The list's query parameters, checked before they reach the selector."""

    search = serializers.CharField(required=False, allow_blank=True, max_length=300)
    provider = serializers.CharField(required=False, allow_blank=True, max_length=100)
    mode = serializers.CharField(required=False, allow_blank=True, max_length=40)
    deprecated_before = serializers.DateField(required=False)
