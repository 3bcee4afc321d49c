from rest_framework import serializers

from ..models import Client
from ..services import EDITABLE_FIELDS


class ClientSerializer(serializers.ModelSerializer):
    monthly_retainer = serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=True, required=False)

    class Meta:
        model = Client
        fields = ["id", "slug", *EDITABLE_FIELDS, "lifecycle", "created_at", "offboarded_at"]
        read_only_fields = ["id", "lifecycle", "created_at", "offboarded_at"]


class ClientUpdateSerializer(ClientSerializer):
    class Meta(ClientSerializer.Meta):
        read_only_fields = [*ClientSerializer.Meta.read_only_fields, "slug"]


class LifecycleSerializer(serializers.Serializer):
    lifecycle = serializers.ChoiceField(choices=Client.Lifecycle.choices)
