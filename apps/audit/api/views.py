import django_filters
from rest_framework import serializers, viewsets

from apps.accounts.roles import Cap
from apps.api.pagination import KeelCursorPagination

from ..models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "occurred_at",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "actor_email",
            "actor_api_key",
            "source",
            "ip",
            "request_id",
            "before",
            "after",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class SeqCursorPagination(KeelCursorPagination):
    ordering = "-seq"


class AuditEventFilter(django_filters.FilterSet):
    class Meta:
        model = AuditEvent
        fields = {
            "action": ["exact"],
            "object_type": ["exact"],
            "object_id": ["exact"],
            "actor_email": ["exact"],
            "occurred_at": ["gte", "lte"],
        }


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The hash-chained audit trail (newest first). Each event's hash covers the previous one."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    read_capability = Cap.VIEW_AUDIT
    lookup_field = "seq"
    pagination_class = SeqCursorPagination
