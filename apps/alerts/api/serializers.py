from rest_framework import serializers

from ..models import Alert, AlertEvent, NotificationChannel


class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = ["kind", "at", "actor", "note"]


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "severity",
            "subject",
            "body",
            "dedup_key",
            "link",
            "data",
            "state",
            "occurrences",
            "first_seen_at",
            "last_seen_at",
            "owner_email",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields


class AlertDetailSerializer(AlertSerializer):
    events = AlertEventSerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "events"]
        read_only_fields = fields


class AlertActionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class ChannelSerializer(serializers.ModelSerializer):
    signing_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=200)

    class Meta:
        model = NotificationChannel
        fields = ["id", "name", "kind", "target", "min_severity", "kinds", "is_active", "signing_secret", "created_at"]
        read_only_fields = ["id", "created_at"]
