from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap

from .. import services
from ..selectors import clients_all
from .serializers import ClientSerializer, ClientUpdateSerializer, LifecycleSerializer


class ClientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """MSP level: the MSP's clients. Staff see the clients they are assigned to; admins see and manage all."""

    lookup_field = "slug"
    read_capability = Cap.CONSOLE
    write_capability = Cap.MANAGE_CLIENTS
    filterset_fields = ["lifecycle", "service_tier", "sla_tier"]

    def get_queryset(self):
        from apps.accounts.access import clients_for_user

        access = self.request._request.access
        if access.user is not None and not access.user.is_msp_admin:
            return clients_for_user(access.user).order_by("id")
        return clients_all().order_by("id")

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ClientUpdateSerializer
        if self.action == "lifecycle":
            return LifecycleSerializer
        return ClientSerializer

    def perform_create(self, serializer):
        serializer.instance = services.client_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.client_update(client=serializer.instance, **serializer.validated_data)

    @extend_schema(request=LifecycleSerializer, responses=ClientSerializer)
    @action(detail=True, methods=["post"])
    def lifecycle(self, request, slug=None):
        body = LifecycleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        client = services.client_set_lifecycle(client=self.get_object(), lifecycle=body.validated_data["lifecycle"])
        return Response(ClientSerializer(client).data)


class CurrentClientView(APIView):
    """This client's own settings (time zone, currency, residency, contract)."""

    serializer_class = ClientUpdateSerializer

    @extend_schema(responses=ClientSerializer)
    def get(self, request):
        return Response(ClientSerializer(request.tenant).data)

    @extend_schema(request=ClientUpdateSerializer, responses=ClientSerializer)
    def patch(self, request):
        client = get_object_or_404(clients_all(), pk=request.tenant.pk)
        body = ClientUpdateSerializer(client, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        client = services.client_update(client=client, **body.validated_data)
        return Response(ClientSerializer(client).data, status=status.HTTP_200_OK)
