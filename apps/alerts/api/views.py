import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.roles import Cap

from .. import services
from ..models import Alert, NotificationChannel
from ..services_delivery import channel_delete, channel_save
from .serializers import AlertActionSerializer, AlertDetailSerializer, AlertSerializer, ChannelSerializer


class AlertFilter(django_filters.FilterSet):
    class Meta:
        model = Alert
        fields = {"state": ["exact"], "severity": ["exact"], "kind": ["exact"], "last_seen_at": ["gte", "lte"]}


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts of this client. Acknowledge or resolve with a note; needs the `alerts` scope for keys."""

    queryset = Alert.objects.all()
    filterset_class = AlertFilter
    write_capability = Cap.MANAGE_ALERTS

    def get_serializer_class(self):
        if self.action == "retrieve":
            return AlertDetailSerializer
        if self.action in ("acknowledge", "resolve"):
            return AlertActionSerializer
        return AlertSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        return qs.prefetch_related("events") if self.action == "retrieve" else qs

    def _act(self, request, handler):
        body = AlertActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = handler(alert=self.get_object(), note=body.validated_data.get("note", ""))
        return Response(AlertSerializer(alert).data)

    @extend_schema(
        request=AlertActionSerializer,
        responses=AlertSerializer,
        examples=[OpenApiExample("With a note", value={"note": "Looking into the token spike."})],
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(request, services.alert_acknowledge)

    @extend_schema(request=AlertActionSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(request, services.alert_resolve)


class ChannelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Where this client's alerts are delivered (email, signed webhooks, Slack, Teams)."""

    queryset = NotificationChannel.objects.all()
    serializer_class = ChannelSerializer
    read_capability = Cap.MANAGE_ALERTS
    write_capability = Cap.MANAGE_ALERTS

    def perform_create(self, serializer):
        serializer.instance = channel_save(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = channel_save(channel=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        channel_delete(channel=instance)
