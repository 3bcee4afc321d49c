"""Assessment templates over the API, read-only: /api/v1/assessment-templates/ (MSP staff and MSP keys) and
/c/<slug>/api/v1/assessment-templates/ (anyone who may read the client's workspace). Also the MSP's portfolio
maturity (MSP level only), read from the public-schema rollup."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap

from ..models import Dimension, Question, Template, TemplateVersion

TEMPLATE_PARAM = OpenApiParameter(
    "template_id", str, OpenApiParameter.PATH, description="The template's key, e.g. `ai-era-msp`."
)


class TemplateReadPermission(BasePermission):
    message = "Your role or API key scopes do not allow this."

    def has_permission(self, request, view):
        access = getattr(request._request, "access", None)
        if access is None or request.method not in SAFE_METHODS:
            return False
        return access.can(Cap.CONSOLE) if access.client is None else access.can(Cap.VIEW)


class QuestionSerializer(serializers.ModelSerializer):
    dimension = serializers.SlugRelatedField(slug_field="ref", read_only=True)

    class Meta:
        model = Question
        fields = [
            "id",
            "ref",
            "dimension",
            "text",
            "help",
            "weight",
            "required",
            "allow_na",
            "evidence",
            "hard_question",
            "signal",
            "choices",
        ]
        read_only_fields = fields


class DimensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dimension
        fields = [
            "ref",
            "name",
            "description",
            "weight",
            "position",
            "legacy",
            "modern",
            "descriptors",
            "recommendations",
        ]
        read_only_fields = fields


class TemplateVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TemplateVersion
        fields = [
            "id",
            "version",
            "name",
            "description",
            "source",
            "licence",
            "levels",
            "target_profile",
            "sha256",
            "changes",
            "loaded_at",
            "loaded_by",
            "question_count",
        ]
        read_only_fields = fields


class TemplateSerializer(serializers.ModelSerializer):
    current = TemplateVersionSerializer(read_only=True)

    class Meta:
        model = Template
        fields = ["key", "name", "origin", "current", "created_at"]
        read_only_fields = fields


class TemplateDetailSerializer(TemplateSerializer):
    dimensions = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta(TemplateSerializer.Meta):
        fields = [*TemplateSerializer.Meta.fields, "versions", "dimensions", "questions"]
        read_only_fields = fields

    def _version(self, obj) -> TemplateVersion:
        return self.context.get("version") or obj.current

    def get_versions(self, obj) -> list[int]:
        return list(obj.versions.values_list("version", flat=True))

    @extend_schema(responses=DimensionSerializer(many=True))
    def get_dimensions(self, obj) -> list[dict]:
        return DimensionSerializer(self._version(obj).dimensions.all(), many=True).data

    def get_questions(self, obj) -> list[dict]:
        version = self._version(obj)
        return QuestionSerializer(version.questions.select_related("dimension"), many=True).data


class AssessmentTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """Capability-matrix templates: levels, weighted dimensions with descriptors, and the question bank.
    `?version=N` on the detail reads an older version."""

    permission_classes = [TemplateReadPermission]
    read_capability = Cap.VIEW
    filter_backends: list = []
    lookup_url_kwarg = "template_id"
    pagination_class = None

    def get_queryset(self):
        return Template.objects.exclude(current=None).select_related("current").order_by("name")

    def get_serializer_class(self):
        return TemplateDetailSerializer if self.action == "retrieve" else TemplateSerializer

    def get_object(self):
        template = self.get_queryset().filter(key=self.kwargs["template_id"]).first()
        if template is None:
            raise NotFound("No such template.")
        return template

    @extend_schema(parameters=[TEMPLATE_PARAM, OpenApiParameter("version", int, description="An older version")])
    def retrieve(self, request, *args, **kwargs):
        template = self.get_object()
        asked = request.query_params.get("version", "")
        version = template.versions.filter(version=int(asked)).first() if asked.isdigit() else None
        if asked and version is None:
            raise NotFound(f"There is no version {asked[:10]} of {template.key}.")
        return Response(TemplateDetailSerializer(template, context={"version": version}).data)


class MaturityRowSerializer(serializers.Serializer):
    client = serializers.CharField(help_text="The client's slug")
    client_name = serializers.CharField()
    assessed_on = serializers.DateField(allow_null=True)
    template = serializers.CharField(allow_null=True)
    score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    previous_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    dimensions = serializers.ListField(child=serializers.DictField())
    hard_questions_satisfied = serializers.IntegerField()
    red_flags = serializers.IntegerField()
    roadmap_open = serializers.IntegerField()
    roadmap_overdue = serializers.IntegerField()


class PortfolioMaturityView(APIView):
    """Every client's latest final assessment (lowest score first), from the public-schema rollup."""

    read_capability = Cap.CONSOLE
    write_capability = Cap.CONSOLE

    @extend_schema(responses=MaturityRowSerializer(many=True))
    def get(self, request):
        from apps.accounts.access import clients_for_user
        from apps.assessments.selectors import portfolio_maturity
        from apps.tenancy.selectors import clients_live

        access = request._request.access
        clients = portfolio_maturity(
            clients=clients_for_user(access.user) if access.user is not None else clients_live()
        )
        rows = []
        for client in clients:
            m = getattr(client, "maturity_row", None)
            rows.append(
                {
                    "client": client.slug,
                    "client_name": client.name,
                    "assessed_on": m.assessed_on if m else None,
                    "template": m.template_key if m else None,
                    "score": m.score if m else None,
                    "previous_score": m.previous_score if m else None,
                    "dimensions": m.dimensions if m else [],
                    "hard_questions_satisfied": m.hard_questions_satisfied if m else 0,
                    "red_flags": m.red_flags if m else 0,
                    "roadmap_open": m.roadmap_open if m else 0,
                    "roadmap_overdue": m.roadmap_overdue if m else 0,
                }
            )
        return Response(MaturityRowSerializer(rows, many=True).data)
