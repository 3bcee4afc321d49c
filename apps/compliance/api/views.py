"""The compliance register over the API: enabled frameworks (enable, roles and scope, adopt a version, requirement
status, readiness with gaps and trend), controls and their mappings, evidence with its revisions (multipart
upload, verified download) and the generate-evidence action. Reading needs the `read` scope (view_register),
changing the `write` scope (edit). Every change goes through the audited services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts.roles import Cap
from apps.frameworks.models import Framework, FrameworkVersion
from apps.inventory.models import Asset

from ..generated import GENERATORS, evidence_generate
from ..models import ClientFramework, Control, ControlMapping, Evidence, EvidenceRevision, ReadinessSnapshot
from ..selectors import (
    STATUSES,
    client_frameworks,
    client_today,
    evidence_list,
    evidence_state,
    readiness,
    trend,
    upgrade_available,
)
from ..services import (
    EvidenceIntegrityError,
    client_framework_adopt,
    client_framework_disable,
    client_framework_update,
    control_review,
    control_save,
    evidence_add_revision,
    evidence_approve,
    evidence_create,
    evidence_reject,
    evidence_update,
    framework_enable,
    mapping_add,
    mapping_remove,
    mapping_update,
    requirement_assess,
)
from ..views import download_response


class IntegrityConflict(APIException):
    status_code = 409
    default_detail = "The stored file failed its integrity check."
    default_code = "integrity_failed"


def _service(call):
    """Run a service; its ValidationError becomes a 400 with the same field messages."""
    try:
        return call()
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from exc


class RegisterViewSetMixin:
    read_capability = Cap.VIEW_REGISTER
    write_capability = Cap.EDIT
    filter_backends: list = []


# --- client frameworks -------------------------------------------------------------------------------------------


class ClientFrameworkSerializer(serializers.ModelSerializer):
    framework = serializers.SlugRelatedField(
        slug_field="ref", queryset=Framework.objects.all(), help_text="The library framework's ref, e.g. eu-ai-act."
    )
    framework_name = serializers.CharField(source="framework.name", read_only=True)
    version = serializers.IntegerField(
        source="version.version", required=False, help_text="Version adopted; default the library's current one."
    )
    current_version = serializers.IntegerField(source="framework.current.version", read_only=True, allow_null=True)
    upgrade_available = serializers.SerializerMethodField()
    roles = serializers.ListField(child=serializers.CharField(), required=False)
    assets = serializers.PrimaryKeyRelatedField(many=True, queryset=Asset.objects.all(), required=False)
    latest_score = serializers.DecimalField(max_digits=5, decimal_places=1, read_only=True, allow_null=True)

    class Meta:
        model = ClientFramework
        fields = [
            "id",
            "framework",
            "framework_name",
            "version",
            "current_version",
            "upgrade_available",
            "roles",
            "assets",
            "owner_email",
            "enabled_at",
            "enabled_by",
            "adopted_at",
            "latest_score",
        ]
        read_only_fields = ["id", "enabled_at", "enabled_by", "adopted_at"]
        validators = []

    def get_upgrade_available(self, obj) -> int | None:
        upgrade = upgrade_available(obj)
        return upgrade.version if upgrade else None


class RequirementStatusSerializer(serializers.Serializer):
    urn = serializers.CharField()
    ref_id = serializers.CharField()
    title = serializers.CharField()
    parent_urn = serializers.CharField()
    depth = serializers.IntegerField()
    assessable = serializers.BooleanField()
    status = serializers.ChoiceField(choices=[*STATUSES, "group"])
    reason = serializers.CharField()
    owner_email = serializers.CharField()
    controls = serializers.ListField(child=serializers.DictField())


def _requirement_payload(row) -> dict:
    r = row.requirement
    return {
        "urn": r.urn,
        "ref_id": r.ref_id,
        "title": r.title,
        "parent_urn": r.parent_urn,
        "depth": r.depth,
        "assessable": r.assessable,
        "status": row.status,
        "reason": row.reason,
        "owner_email": row.owner_email,
        "controls": [
            {
                "code": link.control.code,
                "id": link.control.pk,
                "status": link.control.status,
                "coverage": link.coverage,
                "evidence": [
                    {"id": s.evidence.pk, "title": s.evidence.title, "valid": s.valid, "problems": s.problems}
                    for s in link.evidence
                ],
            }
            for link in row.links
        ],
    }


def readiness_payload(result, snapshots) -> dict:
    return {
        "framework": result.client_framework.framework.ref,
        "version": result.client_framework.version.version,
        "score": None if result.score is None else str(result.score),
        "assessable": result.assessable,
        "counts": result.counts,
        "gaps": {
            "no_control": [
                {"urn": r.requirement.urn, "ref_id": r.requirement.ref_id, "reason": r.reason}
                for r in result.no_control
            ],
            "controls": [
                {
                    "id": g.control.pk,
                    "code": g.control.code,
                    "problems": g.problems,
                    "requirements": [r.ref_id for r in g.requirements],
                }
                for g in result.control_gaps
            ],
            "expiring": [
                {
                    "id": s.evidence.pk,
                    "title": s.evidence.title,
                    "expires_on": s.evidence.expires_on,
                    "days_left": s.days_left,
                }
                for s in result.expiring
            ],
        },
        "trend": [{"day": s.day, "score": None if s.score is None else str(s.score)} for s in snapshots],
    }


READINESS_SCHEMA = inline_serializer(
    "Readiness",
    {
        "framework": serializers.CharField(),
        "version": serializers.IntegerField(),
        "score": serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True),
        "assessable": serializers.IntegerField(),
        "counts": serializers.DictField(child=serializers.IntegerField()),
        "gaps": serializers.DictField(),
        "trend": serializers.ListField(child=serializers.DictField()),
    },
)


class ClientFrameworkViewSet(RegisterViewSetMixin, viewsets.ModelViewSet):
    """Frameworks this client works towards: enable (POST), change roles and assets in scope (PATCH), adopt a
    newer library version, read requirement status and readiness, stop tracking (DELETE)."""

    serializer_class = ClientFrameworkSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        latest = ReadinessSnapshot.objects.filter(client_framework=OuterRef("pk")).order_by("-day").values("score")[:1]
        return (
            client_frameworks()
            .prefetch_related(Prefetch("assets", queryset=Asset.objects.only("pk")))
            .annotate(latest_score=Subquery(latest))
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        framework = data["framework"]
        version = None
        if "version" in data:
            version = FrameworkVersion.objects.filter(framework=framework, version=data["version"]["version"]).first()
            if version is None:
                raise ValidationError({"version": f"{framework.short_name} has no v{data['version']['version']}."})
        cf = _service(
            lambda: framework_enable(
                framework=framework,
                version=version,
                roles=data.get("roles", []),
                assets=data.get("assets", []),
                owner_email=data.get("owner_email", ""),
            )
        )
        serializer.instance = self.get_queryset().get(pk=cf.pk)

    def perform_update(self, serializer):
        cf = serializer.instance
        data = serializer.validated_data
        if "framework" in data and data["framework"] != cf.framework or "version" in data:
            raise ValidationError({"version": "Use the adopt action to change the version; the framework is fixed."})
        _service(
            lambda: client_framework_update(
                client_framework=cf,
                roles=data.get("roles", cf.roles),
                assets=data.get("assets", list(cf.assets.all())),
                owner_email=data.get("owner_email", cf.owner_email),
            )
        )
        serializer.instance = self.get_queryset().get(pk=cf.pk)

    def perform_destroy(self, instance):
        client_framework_disable(client_framework=instance)

    @extend_schema(
        request=inline_serializer("Adopt", {"version": serializers.IntegerField(required=False)}),
        responses=inline_serializer(
            "Adopted", {"version": serializers.IntegerField(), "orphaned_mappings": serializers.ListField()}
        ),
    )
    @action(detail=True, methods=["post"])
    def adopt(self, request, pk=None, format=None):  # noqa: A002 — DRF passes the format suffix
        """Adopt a newer library version (default: the current one). Mappings carry over by URN; mappings to
        requirements the new version removed are returned as orphaned."""
        cf = self.get_object()
        number = request.data.get("version")
        version = (
            cf.framework.current
            if number in (None, "")
            else FrameworkVersion.objects.filter(framework=cf.framework, version=number).first()
        )
        if version is None:
            raise ValidationError({"version": f"{cf.framework.short_name} has no v{number}."})
        orphans = _service(lambda: client_framework_adopt(client_framework=cf, version=version))
        return Response(
            {
                "version": version.version,
                "orphaned_mappings": [{"id": m.pk, "control": m.control.code, "urn": m.urn} for m in orphans],
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=[*STATUSES], description="Only this status.")],
        responses=RequirementStatusSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def requirements(self, request, pk=None, format=None):  # noqa: A002
        """Every node of the adopted version with its computed status, controls and their evidence."""
        result = readiness(self.get_object())
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in STATUSES:
            raise ValidationError({"status": f"One of: {', '.join(STATUSES)}."})
        rows = [r for r in result.rows if not wanted or r.status == wanted]
        return Response([_requirement_payload(r) for r in rows])

    @extend_schema(responses=READINESS_SCHEMA)
    @action(detail=True, methods=["get"])
    def readiness(self, request, pk=None, format=None):  # noqa: A002
        """Score (met 1, partial ½ over applicable requirements), counts per status, the gap list, the trend."""
        cf = self.get_object()
        return Response(readiness_payload(readiness(cf), trend([cf.pk]).get(cf.pk, [])))

    @extend_schema(
        request=inline_serializer(
            "Assess",
            {
                "urn": serializers.CharField(),
                "not_applicable": serializers.BooleanField(),
                "justification": serializers.CharField(required=False),
                "owner_email": serializers.EmailField(required=False),
            },
        ),
        responses=RequirementStatusSerializer,
    )
    @action(detail=True, methods=["post"])
    def assess(self, request, pk=None, format=None):  # noqa: A002
        """Mark a requirement not applicable (with its justification) or applicable again; set its owner."""
        cf = self.get_object()
        data = request.data
        _service(
            lambda: requirement_assess(
                client_framework=cf,
                urn=str(data.get("urn", "")),
                not_applicable=bool(data.get("not_applicable")),
                justification=str(data.get("justification", "")),
                owner_email=str(data.get("owner_email", "")),
            )
        )
        return Response(_requirement_payload(readiness(cf).row(str(data.get("urn")))))


# --- controls and mappings ------------------------------------------------------------------------------------


class MappingSerializer(serializers.ModelSerializer):
    control = serializers.PrimaryKeyRelatedField(queryset=Control.objects.all())
    framework = serializers.SlugRelatedField(slug_field="ref", read_only=True)

    class Meta:
        model = ControlMapping
        fields = ["id", "control", "urn", "framework", "coverage", "rationale", "created_at", "created_by"]
        read_only_fields = ["id", "framework", "created_at", "created_by"]
        validators = []


class ControlSerializer(serializers.ModelSerializer):
    mappings = serializers.SerializerMethodField()

    class Meta:
        model = Control
        fields = [
            "id",
            "code",
            "name",
            "description",
            "owner_email",
            "status",
            "review_frequency",
            "last_reviewed_on",
            "next_review_on",
            "mappings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_reviewed_on", "created_at", "updated_at"]
        validators = []

    def get_mappings(self, obj) -> list[dict]:
        return [
            {"id": m.pk, "urn": m.urn, "framework": m.framework.ref if m.framework_id else "", "coverage": m.coverage}
            for m in obj.mappings.all()
        ]


class ControlViewSet(
    RegisterViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Controls with their requirement mappings (across frameworks). Retire a control with status=retired."""

    serializer_class = ControlSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        qs = Control.objects.prefetch_related(
            Prefetch("mappings", queryset=ControlMapping.objects.select_related("framework").order_by("urn"))
        )
        wanted = self.request.query_params.get("status")
        return qs.filter(status=wanted) if wanted else qs

    def _fields(self, serializer, control=None) -> dict:
        data = dict(serializer.validated_data)
        if control is not None:
            current = {
                f: getattr(control, f)
                for f in ("code", "name", "description", "owner_email", "status", "review_frequency")
            }
            data = {**current, **data}
        return data

    def perform_create(self, serializer):
        control = _service(lambda: control_save(**self._fields(serializer)))
        serializer.instance = self.get_queryset().get(pk=control.pk)

    def perform_update(self, serializer):
        control = _service(
            lambda: control_save(control=serializer.instance, **self._fields(serializer, serializer.instance))
        )
        serializer.instance = self.get_queryset().get(pk=control.pk)

    @extend_schema(request=None, responses=ControlSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None, format=None):  # noqa: A002
        """Record a review today; the next review date follows from the frequency."""
        control = control_review(control=self.get_object(), note=str(request.data.get("note", "")))
        return Response(ControlSerializer(self.get_queryset().get(pk=control.pk)).data)


class ControlMappingViewSet(RegisterViewSetMixin, viewsets.ModelViewSet):
    """Control → requirement (URN) mappings. Filter with ?control=<id> or ?framework=<ref>."""

    serializer_class = MappingSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        qs = ControlMapping.objects.select_related("framework")
        params = self.request.query_params
        if params.get("control", "").isdigit():
            qs = qs.filter(control_id=int(params["control"]))
        if params.get("framework"):
            qs = qs.filter(framework__ref=params["framework"])
        return qs

    def perform_create(self, serializer):
        data = serializer.validated_data
        mapping = _service(
            lambda: mapping_add(
                control=data["control"],
                urn=data["urn"],
                coverage=data.get("coverage", "full"),
                rationale=data.get("rationale", ""),
            )
        )
        serializer.instance = self.get_queryset().get(pk=mapping.pk)

    def perform_update(self, serializer):
        mapping, data = serializer.instance, serializer.validated_data
        if "urn" in data and data["urn"] != mapping.urn or "control" in data and data["control"] != mapping.control:
            raise ValidationError({"urn": "A mapping's control and requirement are fixed; delete it and map again."})
        _service(
            lambda: mapping_update(
                mapping=mapping,
                coverage=data.get("coverage", mapping.coverage),
                rationale=data.get("rationale", mapping.rationale),
            )
        )
        serializer.instance = self.get_queryset().get(pk=mapping.pk)

    def perform_destroy(self, instance):
        mapping_remove(mapping=instance)


# --- evidence --------------------------------------------------------------------------------------------------


class RevisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvidenceRevision
        fields = [
            "number",
            "display_name",
            "file_type",
            "content_type",
            "size",
            "sha256",
            "url",
            "effective_date",
            "note",
            "uploaded_at",
            "uploaded_by",
            "generated",
            "integrity",
            "integrity_checked_at",
            "integrity_message",
        ]
        read_only_fields = fields


class RevisionUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="The new file (upload evidence).")
    url = serializers.URLField(required=False, help_text="The new link (link evidence).")
    effective_date = serializers.DateField(help_text="The date the new revision proves.")
    expires_on = serializers.DateField(required=False, allow_null=True, help_text="Default: unchanged.")
    note = serializers.CharField(required=False, allow_blank=True)
    approve = serializers.BooleanField(required=False, default=False)


class EvidenceSerializer(serializers.ModelSerializer):
    controls = serializers.PrimaryKeyRelatedField(many=True, queryset=Control.objects.all(), required=False)
    assets = serializers.PrimaryKeyRelatedField(many=True, queryset=Asset.objects.all(), required=False)
    current_revision = RevisionSerializer(read_only=True)
    valid = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()
    # write-only: the first revision
    file = serializers.FileField(write_only=True, required=False, help_text="multipart/form-data upload.")
    url = serializers.URLField(write_only=True, required=False, help_text="For link evidence.")
    effective_date = serializers.DateField(write_only=True, required=False, help_text="The date it proves.")
    approve = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "title",
            "description",
            "kind",
            "generator",
            "controls",
            "assets",
            "owner_email",
            "status",
            "valid",
            "problems",
            "expires_on",
            "approved_by",
            "approved_at",
            "approved_revision",
            "self_approved",
            "rejection_reason",
            "current_revision",
            "last_generated_at",
            "created_at",
            "file",
            "url",
            "effective_date",
            "approve",
        ]
        read_only_fields = [
            "id",
            "kind",
            "generator",
            "status",
            "approved_by",
            "approved_at",
            "approved_revision",
            "self_approved",
            "rejection_reason",
            "last_generated_at",
            "created_at",
        ]

    def _state(self, obj):
        cache = self.context.setdefault("_states", {})
        if obj.pk not in cache:
            cache[obj.pk] = evidence_state(obj, self.context.get("today") or client_today())
        return cache[obj.pk]

    def get_valid(self, obj) -> bool:
        return self._state(obj).valid

    def get_problems(self, obj) -> list[str]:
        return self._state(obj).problems


class EvidenceViewSet(
    RegisterViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Evidence: create by multipart upload (`file`) or JSON (`url`), change its metadata (PATCH), add revisions,
    approve or reject, download a revision (verified against its SHA-256), run Keel's generators.
    Filters: ?status=, ?kind=, ?expiring=1 (within 30 days)."""

    serializer_class = EvidenceSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        params = self.request.query_params
        status_, kind = params.get("status", ""), params.get("kind", "")
        if status_ and status_ not in Evidence.Status.values:
            raise ValidationError({"status": f"One of: {', '.join(Evidence.Status.values)}."})
        if kind and kind not in Evidence.Kind.values:
            raise ValidationError({"kind": f"One of: {', '.join(Evidence.Kind.values)}."})
        return evidence_list(status=status_, kind=kind, expiring=params.get("expiring") == "1").prefetch_related(
            "assets"
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": client_today()}

    def perform_create(self, serializer):
        data = serializer.validated_data
        evidence = _service(
            lambda: evidence_create(
                title=data.get("title", ""),
                description=data.get("description", ""),
                file=data.get("file"),
                url=data.get("url", ""),
                effective_date=data.get("effective_date"),
                expires_on=data.get("expires_on"),
                controls=data.get("controls", []),
                assets=data.get("assets", []),
                owner_email=data.get("owner_email", ""),
                approve=data.get("approve", False),
            )
        )
        serializer.instance = self.get_queryset().get(pk=evidence.pk)

    def perform_update(self, serializer):
        evidence, data = serializer.instance, serializer.validated_data
        if {"file", "url", "effective_date"} & set(data):
            raise ValidationError({"file": "Upload a new revision with POST …/revisions/; PATCH changes metadata."})
        _service(
            lambda: evidence_update(
                evidence=evidence,
                title=data.get("title", evidence.title),
                description=data.get("description", evidence.description),
                expires_on=data.get("expires_on", evidence.expires_on),
                controls=data.get("controls", list(evidence.controls.all())),
                assets=data.get("assets", list(evidence.assets.all())),
                owner_email=data.get("owner_email", evidence.owner_email),
            )
        )
        serializer.instance = self.get_queryset().get(pk=evidence.pk)

    @extend_schema(
        methods=["get"], responses=RevisionSerializer(many=True), description="Every revision, newest first."
    )
    @extend_schema(
        methods=["post"],
        request={"multipart/form-data": RevisionUploadSerializer, "application/json": RevisionUploadSerializer},
        responses={201: RevisionSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def revisions(self, request, pk=None, format=None):  # noqa: A002
        """GET: every revision (never overwritten). POST: a new revision (the evidence returns to draft)."""
        evidence = self.get_object()
        if request.method == "GET":
            return Response(RevisionSerializer(evidence.revisions.order_by("-number"), many=True).data)
        upload = RevisionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        revision = _service(
            lambda: evidence_add_revision(
                evidence=evidence,
                file=data.get("file"),
                url=data.get("url", ""),
                effective_date=data.get("effective_date"),
                expires_on=data.get("expires_on", evidence.expires_on),
                note=data.get("note", ""),
                approve=data.get("approve", False),
            )
        )
        return Response(RevisionSerializer(revision).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=EvidenceSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None, format=None):  # noqa: A002
        """Approve the current revision (a self-approval is allowed and recorded as such)."""
        evidence = self.get_object()
        _service(lambda: evidence_approve(evidence=evidence, note=str(request.data.get("note", ""))))
        return Response(self.get_serializer(self.get_queryset().get(pk=evidence.pk)).data)

    @extend_schema(
        request=inline_serializer("Reject", {"reason": serializers.CharField()}), responses=EvidenceSerializer
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None, format=None):  # noqa: A002
        evidence = self.get_object()
        _service(lambda: evidence_reject(evidence=evidence, reason=str(request.data.get("reason", ""))))
        return Response(self.get_serializer(self.get_queryset().get(pk=evidence.pk)).data)

    @extend_schema(
        parameters=[OpenApiParameter("revision", int, description="Revision number; default the current one.")],
        responses={(200, "application/octet-stream"): bytes, 409: None},
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None, format=None):  # noqa: A002
        """The stored file as an attachment, after its SHA-256 was verified (409 when it no longer matches)."""
        evidence = self.get_object()
        number = request.query_params.get("revision")
        revisions = evidence.revisions.exclude(file_name="")
        revision = (
            revisions.filter(number=int(number)).first()
            if (number or "").isdigit()
            else revisions.filter(pk=evidence.current_revision_id).first()
        )
        if revision is None:
            raise Http404("No such file.")
        try:
            return download_response(revision)
        except EvidenceIntegrityError as exc:
            raise IntegrityConflict(str(exc)) from exc

    @extend_schema(
        request=inline_serializer(
            "Generate",
            {"generators": serializers.ListField(child=serializers.ChoiceField(list(GENERATORS)), required=False)},
        ),
        responses=inline_serializer("Generated", {"results": serializers.ListField(child=serializers.DictField())}),
    )
    @action(detail=False, methods=["post"])
    def generate(self, request, format=None):  # noqa: A002
        """Run Keel's evidence generators now (all by default); a new revision only where the content changed."""
        results = _service(lambda: evidence_generate(generators=request.data.get("generators") or None))
        return Response(
            {
                "results": [
                    {
                        "generator": r.generator,
                        "evidence": r.evidence.pk,
                        "revision": r.revision.number,
                        "sha256": r.revision.sha256,
                        "changed": r.changed,
                        "summary": r.summary,
                    }
                    for r in results
                ]
            }
        )
