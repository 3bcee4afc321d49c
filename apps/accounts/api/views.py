from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import selectors, services
from ..models import ApiKey, Membership
from ..roles import Cap
from .serializers import (
    ApiKeyCreateSerializer,
    ApiKeyIssuedSerializer,
    ApiKeySerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipSerializer,
)


class MembershipViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """People with access to this client. Add people by invitation (POST .../memberships/invite/)."""

    serializer_class = MembershipSerializer
    queryset = Membership.objects.none()  # the schema generator's model hint; get_queryset() scopes it
    read_capability = Cap.MANAGE_MEMBERS
    write_capability = Cap.MANAGE_MEMBERS
    filterset_fields = ["role"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.memberships_for_client(client=self.request.tenant).order_by("id")

    def perform_destroy(self, instance):
        services.membership_revoke(membership=instance)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    @action(detail=False, methods=["post"])
    def invite(self, request):
        body = InvitationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        inviter = request._request.access.user
        issued = services.invitation_create(
            email=data["email"],
            full_name=data.get("full_name", ""),
            invited_by=inviter,
            client=request.tenant,
            role=data["role"],
            membership_expires_at=data.get("expires_at"),
        )
        inv = issued.invitation
        return Response(
            {"id": inv.pk, "email": inv.email, "role": inv.role, "expires_at": inv.expires_at},
            status=status.HTTP_201_CREATED,
        )


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """API keys of this client (or, at /api/v1/, the MSP-level keys). The secret is returned once, on create."""

    queryset = ApiKey.objects.none()  # the schema generator's model hint; get_queryset() scopes it
    read_capability = Cap.MANAGE_API_KEYS
    write_capability = Cap.MANAGE_API_KEYS

    def _client(self):
        tenant = self.request.tenant
        return None if tenant.schema_name == "public" else tenant

    def initial(self, request, *args, **kwargs):
        if self._client() is None:
            # MSP-level keys read every client's portfolio: managed with the staff, as on the Staff pages.
            self.read_capability = self.write_capability = Cap.MANAGE_STAFF
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        client = self._client()
        if client is None:
            return selectors.api_keys_msp_level().order_by("id")
        return selectors.api_keys_for_client(client=client).order_by("id")

    def get_serializer_class(self):
        return ApiKeyCreateSerializer if self.action == "create" else ApiKeySerializer

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyIssuedSerializer},
        examples=[OpenApiExample("Usage gateway", value={"name": "Claims gateway", "scopes": ["ingest", "read"]})],
    )
    def create(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access = request._request.access
        issued = services.api_key_create(
            name=body.validated_data["name"],
            client=self._client(),
            scopes=body.validated_data["scopes"],
            created_by=access.user,
            expires_at=body.validated_data.get("expires_at"),
        )
        data = ApiKeySerializer(issued.api_key).data
        data["key"] = issued.secret
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return Response(ApiKeySerializer(services.api_key_revoke(api_key=self.get_object())).data)
