"""The framework library over the API, read-only: /api/v1/ (MSP staff and MSP keys) and /c/<slug>/api/v1/
(anyone who may read the client's workspace or its compliance register, e.g. a client key with `read`)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.api.pagination import KeelCursorPagination

from ..selectors import crosswalk, framework_by_ref, framework_versions, frameworks_list, requirements_search
from .serializers import (
    FrameworkCrosswalkSerializer,
    FrameworkDetailSerializer,
    FrameworkRequirementQuerySerializer,
    FrameworkRequirementSerializer,
    FrameworkSerializer,
    FrameworkVersionSerializer,
)

# Path parameter names end in _id so the isolation walker treats them as object identifiers (tests/test_isolation.py).
FRAMEWORK_PARAM = OpenApiParameter(
    "framework_id", str, OpenApiParameter.PATH, description="The framework's ref: `eu-ai-act`, `iso-42001`, `nis2`…"
)
REQUIREMENT_PARAM = OpenApiParameter(
    "requirement_id",
    str,
    OpenApiParameter.PATH,
    description="The requirement's URN, e.g. `urn:keel:fw:iso-42001:a-6-2-8` (stable across versions).",
)


class LibraryReadPermission(BasePermission):
    """Reads only: MSP staff and MSP keys at MSP level; in a client, whoever may read its workspace or register."""

    message = "Your role or API key scopes do not allow this."

    def has_permission(self, request, view):
        access = getattr(request._request, "access", None)
        if access is None or request.method not in SAFE_METHODS:
            return False
        if access.client is None:
            return access.can(Cap.CONSOLE)
        return access.can(Cap.VIEW) or access.can(Cap.VIEW_REGISTER)


class LibraryView:
    permission_classes = [LibraryReadPermission]
    read_capability = (Cap.VIEW, Cap.VIEW_REGISTER)  # in a client: either one reads (the role matrix checks it)
    filter_backends: list = []

    def framework(self):
        framework = framework_by_ref(self.kwargs["framework_id"])
        if framework is None:
            raise Http404
        return framework


class RefCursorPagination(KeelCursorPagination):
    ordering = "ref"


class PositionCursorPagination(KeelCursorPagination):
    ordering = "position"


class VersionCursorPagination(KeelCursorPagination):
    ordering = "-version"


@extend_schema_view(retrieve=extend_schema(parameters=[FRAMEWORK_PARAM]))
class FrameworkViewSet(LibraryView, viewsets.ReadOnlyModelViewSet):
    """The compliance framework library shared by every client: each framework with its current version."""

    lookup_field = "ref"
    lookup_url_kwarg = "framework_id"
    lookup_value_regex = r"[-a-z0-9]+"
    pagination_class = RefCursorPagination

    def get_queryset(self):
        return frameworks_list()

    def get_serializer_class(self):
        return FrameworkSerializer if self.action == "list" else FrameworkDetailSerializer


@extend_schema_view(
    list=extend_schema(
        parameters=[
            FRAMEWORK_PARAM,
            OpenApiParameter(
                "role", str, many=True, description="Only nodes for this role (or for every role); repeat or comma."
            ),
            OpenApiParameter("risk_tier", str, many=True, description="Only nodes for this risk tier (or every tier)."),
            OpenApiParameter(
                "asset_type",
                str,
                many=True,
                enum=["model", "agent", "prompt", "pipeline", "endpoint", "integration", "dataset"],
                description="Only nodes for this asset type (or not tied to one).",
            ),
            OpenApiParameter("search", str, description="Part of the ref_id, title, description or typical evidence."),
            OpenApiParameter(
                "version", OpenApiTypes.INT, description="An older loaded version (default: the current one)."
            ),
        ],
        examples=[
            OpenApiExample(
                "AI Act Art 12",
                response_only=True,
                value={
                    "urn": "urn:keel:fw:eu-ai-act:art-12",
                    "framework": "eu-ai-act",
                    "version": 1,
                    "ref_id": "Art 12",
                    "title": "Record-keeping",
                    "description": "The system must technically allow automatic recording of events…",
                    "parent_urn": "urn:keel:fw:eu-ai-act:ch-iii-sec-2",
                    "depth": 3,
                    "position": 42,
                    "assessable": True,
                    "roles": ["provider"],
                    "risk_tiers": ["high"],
                    "asset_types": ["model", "agent", "endpoint", "pipeline"],
                    "evidence_types": ["configuration", "log_extract"],
                    "typical_evidence": "Logging design (events, fields, retention), a sample log extract…",
                    "review_frequency": "P6M",
                    "applies_from": "2027-12-02",
                    "deadline_rules": [],
                    "mappings": [],
                },
            )
        ],
    )
)
class RequirementViewSet(LibraryView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A framework's requirement nodes, flat in file order, with `parent_urn` and `depth` to rebuild the tree.
    A node matches a filter when its hint list for it is empty or includes the value."""

    serializer_class = FrameworkRequirementSerializer
    pagination_class = PositionCursorPagination

    def get_queryset(self):
        framework = self.framework()
        params = FrameworkRequirementQuerySerializer(query_params=self.request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        version = framework.current
        if "version" in query:
            version = framework_versions(framework).filter(version=query["version"]).first()
            if version is None:
                raise ValidationError({"version": f"{framework.short_name} has no version {query['version']}."})
        for key, declared, label in (("role", version.roles, "roles"), ("risk_tier", version.risk_tiers, "risk tiers")):
            unknown = [value for value in query.get(key, []) if value not in declared]
            if unknown:
                allowed = ", ".join(declared) or "none"
                raise ValidationError(
                    {key: f"{', '.join(unknown)}: not among {framework.short_name}'s {label} ({allowed})."}
                )
        return requirements_search(
            version,
            roles=query.get("role"),
            risk_tiers=query.get("risk_tier"),
            asset_types=query.get("asset_type"),
            search=query.get("search", ""),
        )


@extend_schema_view(list=extend_schema(parameters=[FRAMEWORK_PARAM]))
class VersionViewSet(LibraryView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every loaded version of a framework, newest first, with what each changed against the one before."""

    serializer_class = FrameworkVersionSerializer
    pagination_class = VersionCursorPagination

    def get_queryset(self):
        return framework_versions(self.framework())


class CrosswalkView(LibraryView, APIView):
    """The requirements of other frameworks mapped to this one, in their current versions, both directions."""

    @extend_schema(parameters=[REQUIREMENT_PARAM], responses=FrameworkCrosswalkSerializer)
    def get(self, request, requirement_id: str, format=None):  # noqa: A002 — DRF passes the format suffix
        from ..selectors import requirements_by_urn

        requirement = requirements_by_urn([requirement_id]).get(requirement_id)
        if requirement is None:
            raise Http404
        links = crosswalk(requirement_id)
        return Response(FrameworkCrosswalkSerializer({"requirement": requirement, "links": links}).data)
