from rest_framework import serializers, viewsets

from apps.accounts.access import clients_for_user
from apps.accounts.roles import Cap
from apps.tenancy.selectors import clients_live

from .models import AlertFeedItem


class AlertFeedItemSerializer(serializers.ModelSerializer):
    client = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AlertFeedItem
        fields = [
            "id",
            "client",
            "alert_id",
            "kind",
            "severity",
            "subject",
            "state",
            "owner_email",
            "last_seen_at",
            "url",
        ]
        read_only_fields = fields


class AlertFeedViewSet(viewsets.ReadOnlyModelViewSet):
    """Active alerts across the clients you can see, worst first. Act on one at /c/{client}/api/v1/alerts/."""

    serializer_class = AlertFeedItemSerializer
    read_capability = Cap.CONSOLE
    filterset_fields = ["severity", "state", "kind"]

    def get_queryset(self):
        access = self.request._request.access
        clients = clients_for_user(access.user) if access.user is not None else clients_live()
        return AlertFeedItem.objects.filter(client__in=clients.values("id")).select_related("client")
