"""Audit packs over the API: list and status (read scope), request one (write scope, or a portal session that
may read the register), download the ZIP (read scope). Building happens in the background: poll the pack until
`status` is `ready`, then download it. Times are UTC; the period is the client's calendar days."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.accounts.roles import Cap
from apps.api.permissions import KeelAccessPermission

from ..models import AuditPack
from ..selectors import packs_list
from ..services import PackUnavailable, auditpack_open, auditpack_request


class NotReady(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The audit pack is not ready."
    default_code = "not_ready"


class AuditPackPermission(KeelAccessPermission):
    """Reads need `view_register`. Requesting a pack: an API key needs the write scope (`edit`); a portal
    session needs `view_register`, as in the portal (auditors may request packs)."""

    def has_permission(self, request, view):
        access = getattr(request._request, "access", None)
        if access is not None and getattr(view, "action", None) == "create" and access.api_key is None:
            return access.can(Cap.VIEW_REGISTER)
        return super().has_permission(request, view)


class FrameworkRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The client framework's id.")
    ref = serializers.CharField(help_text="The library framework, e.g. `eu-ai-act`.")
    short_name = serializers.CharField()
    version = serializers.IntegerField(help_text="The library version the client adopted.")


class AuditPackSerializer(serializers.ModelSerializer):
    frameworks = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = AuditPack
        fields = [
            "id",
            "status",
            "error",
            "period_from",
            "period_to",
            "frameworks",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "generated_at",
            "size",
            "sha256",
            "key_fingerprint",
            "summary",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(FrameworkRefSerializer(many=True))
    def get_frameworks(self, pack) -> list[dict]:
        return [
            {"id": cf.pk, "ref": cf.framework.ref, "short_name": cf.framework.short_name, "version": cf.version.version}
            for cf in pack.frameworks.all()
        ]

    def get_download_url(self, pack) -> str | None:
        if not pack.is_ready:
            return None
        return reverse("audit-pack-download", kwargs={"pk": pack.pk}, request=self.context.get("request"))


class AuditPackCreateSerializer(serializers.Serializer):
    period_from = serializers.DateField(
        required=False, help_text="First day (client's calendar); default: twelve months before today."
    )
    period_to = serializers.DateField(required=False, help_text="Last day, included; not after today. Default today.")
    frameworks = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Framework refs (`eu-ai-act`) or client framework ids; default every enabled framework.",
    )


REQUEST_EXAMPLE = OpenApiExample(
    "The last quarter, two frameworks",
    value={"period_from": "2026-07-01", "period_to": "2026-09-30", "frameworks": ["eu-ai-act", "dora"]},
    request_only=True,
)


def _framework_ids(values) -> list:
    """Refs or ids → client framework ids; unknown ones are named in a 400."""
    from apps.compliance.selectors import client_frameworks

    enabled = list(client_frameworks())
    by_ref = {cf.framework.ref: cf.pk for cf in enabled}
    by_id = {str(cf.pk): cf.pk for cf in enabled}
    ids, unknown = [], []
    for value in values:
        key = str(value).strip()
        if key in by_ref:
            ids.append(by_ref[key])
        elif key in by_id:
            ids.append(by_id[key])
        else:
            unknown.append(key)
    if unknown:
        known = ", ".join(sorted(by_ref)) or "none"
        raise ValidationError({"frameworks": [f"Not enabled for this client: {', '.join(unknown)}. Enabled: {known}."]})
    return ids


@extend_schema_view(
    create=extend_schema(
        request=AuditPackCreateSerializer,
        responses={202: AuditPackSerializer},
        examples=[REQUEST_EXAMPLE],
        description="Queue a pack; it is built in the background. Poll `GET audit-packs/{id}/` until `status` is "
        "`ready` (or `failed`), then download it.",
    ),
)
class AuditPackViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Signed ZIP exports of this client's compliance register for a period (evidence files, matrix, readiness,
    incidents, audit-trail segment), verifiable offline. Requests and downloads are audited."""

    serializer_class = AuditPackSerializer
    permission_classes = [AuditPackPermission]
    read_capability = Cap.VIEW_REGISTER
    write_capability = Cap.EDIT
    filter_backends: list = []

    def get_queryset(self):
        return packs_list()

    def create(self, request, *args, **kwargs):
        from ..services import default_period

        params = AuditPackCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        start, end = default_period()
        values = {"period_from": start, "period_to": end, **params.validated_data}
        frameworks = _framework_ids(values.get("frameworks") or [])
        try:
            pack = auditpack_request(
                period_from=values["period_from"], period_to=values["period_to"], frameworks=frameworks
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        pack = self.get_queryset().get(pk=pack.pk)
        return Response(self.get_serializer(pack).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The pack's ZIP."),
            409: OpenApiResponse(description="Not ready yet, failed, or its file is gone."),
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None, format=None):  # noqa: A002 — DRF passes the format suffix
        """The ZIP (`X-Audit-Pack-SHA256` carries its SHA-256). Audited."""
        pack = self.get_object()
        try:
            handle = auditpack_open(pack=pack)
        except PackUnavailable as exc:
            raise NotReady(str(exc)) from None
        response = FileResponse(handle, as_attachment=True, filename=pack.download_name, content_type="application/zip")
        response["X-Audit-Pack-SHA256"] = pack.sha256
        response["Cache-Control"] = "private, no-store"
        return response
