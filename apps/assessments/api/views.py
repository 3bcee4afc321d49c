"""Capability assessments over the API (/c/<slug>/api/v1/): assessments with their scores, answers (upsert by
question ref), the workflow actions (prefill, submit, return, finalise), comparison, the PDF report, target
profiles and roadmap items. Reads need `view`; writes `edit`. Final assessments refuse every change (409)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.assessment_templates.models import Question, Template, TemplateVersion
from apps.compliance.models import Evidence

from .. import report, services
from ..models import Answer, Assessment, RoadmapItem
from ..selectors import assessments_list, assessments_with_versions, comparison, roadmap_items

ASSESSMENT_PARAM = OpenApiParameter("assessment_id", int, OpenApiParameter.PATH)
OTHER_PARAM = OpenApiParameter("other_id", int, OpenApiParameter.PATH, description="The assessment to compare with")
QUESTION_PARAM = OpenApiParameter("question_id", str, OpenApiParameter.PATH, description="The question's ref")
TEMPLATE_PARAM = OpenApiParameter("template_id", str, OpenApiParameter.PATH, description="The template's key")


class AssessmentFinal(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This assessment is final and can no longer change."
    default_code = "assessment_final"


def _call(function, **kwargs):
    try:
        return function(**kwargs)
    except services.AssessmentLocked as exc:
        raise AssessmentFinal(exc.messages[0]) from exc


class AnswerSerializer(serializers.ModelSerializer):
    question = serializers.SerializerMethodField(help_text="The question's ref")
    not_applicable = serializers.BooleanField(source="is_na", read_only=True)
    evidence = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Answer
        fields = [
            "id",
            "question",
            "choice_key",
            "level",
            "not_applicable",
            "comment",
            "source",
            "signal_key",
            "signal_level",
            "signal_choice_key",
            "signal_summary",
            "signal_source",
            "signal_observed",
            "signal_read_at",
            "override_reason",
            "links",
            "evidence",
            "answered_by",
            "answered_at",
        ]
        read_only_fields = fields

    def get_question(self, obj) -> str:
        return self.context["refs"].get(obj.question_id, "")


class AnswerWriteSerializer(serializers.Serializer):
    choice = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=60,
        default="",
        help_text="A choice key of the question; empty clears the answer",
    )
    not_applicable = serializers.BooleanField(required=False, default=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        default="",
        help_text="Needed when the choice differs from Keel's prefilled one",
    )
    links = serializers.ListField(child=serializers.URLField(max_length=1000), required=False, max_length=20)
    evidence = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=50,
        help_text="Ids of evidence in the client's compliance register",
    )


class AssessmentSerializer(serializers.ModelSerializer):
    template = serializers.SerializerMethodField()
    template_version = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "title",
            "assessed_on",
            "status",
            "template",
            "template_version",
            "assessors",
            "reviewer_email",
            "summary",
            "previous",
            "overall_score",
            "target_levels",
            "results",
            "computed_at",
            "created_at",
            "created_by",
            "submitted_at",
            "finalised_at",
            "finalised_by",
        ]
        read_only_fields = fields

    def _version(self, obj) -> TemplateVersion:
        if "template_version" in obj._state.fields_cache:  # attached by the view (one query for a whole page)
            return obj.template_version
        cache = self.context.setdefault("versions", {})
        if obj.template_version_id not in cache:
            cache[obj.template_version_id] = TemplateVersion.objects.select_related("template").get(
                pk=obj.template_version_id
            )
        return cache[obj.template_version_id]

    def get_template(self, obj) -> str:
        return self._version(obj).template.key

    def get_template_version(self, obj) -> int:
        return self._version(obj).version


class AssessmentCreateSerializer(serializers.Serializer):
    template = serializers.SlugField(default="ai-era-msp", help_text="Template key; its current version is used")
    title = serializers.CharField(max_length=200)
    assessed_on = serializers.DateField()
    assessors = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20, default=list)
    prefill = serializers.BooleanField(default=True, help_text="Prefill answers from Keel's platform signals")
    copy_previous = serializers.BooleanField(default=False, help_text="Start from the last final assessment's answers")


class AssessmentUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    assessed_on = serializers.DateField(required=False)
    assessors = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20)
    reviewer_email = serializers.EmailField(required=False, allow_blank=True)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RoadmapItemSerializer(serializers.ModelSerializer):
    template = serializers.SerializerMethodField()

    class Meta:
        model = RoadmapItem
        fields = [
            "id",
            "assessment",
            "template",
            "dimension_ref",
            "dimension_name",
            "from_level",
            "target_level",
            "title",
            "detail",
            "priority",
            "priority_score",
            "effort",
            "owner_email",
            "due_on",
            "status",
            "status_note",
            "completed_on",
            "created_at",
            "created_by",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "assessment",
            "template",
            "dimension_name",
            "from_level",
            "target_level",
            "priority_score",
            "completed_on",
            "created_at",
            "created_by",
            "updated_at",
        ]

    def get_template(self, obj) -> str:
        cache = self.context.setdefault("template_keys", dict(Template.objects.values_list("pk", "key")))
        return cache.get(obj.template_id, "")


class RoadmapItemCreateSerializer(RoadmapItemSerializer):
    template_key = serializers.SlugField(write_only=True, default="ai-era-msp")

    class Meta(RoadmapItemSerializer.Meta):
        fields = [*RoadmapItemSerializer.Meta.fields, "template_key"]


class AssessmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Assessments of this client, newest first, with their stored scores (`results`)."""

    serializer_class = AssessmentSerializer
    filter_backends: list = []
    lookup_url_kwarg = "assessment_id"

    def get_queryset(self):
        status_filter = self.request.query_params.get("status", "")
        items = assessments_list()
        return items.filter(status=status_filter) if status_filter in Assessment.Status.values else items

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return assessments_with_versions(page) if page is not None else None

    def _get(self) -> Assessment:
        assessment = assessments_list().filter(pk=self.kwargs["assessment_id"]).first()
        if assessment is None:
            raise NotFound("No such assessment.")
        assessment.template_version = TemplateVersion.objects.select_related("template").get(
            pk=assessment.template_version_id
        )
        return assessment

    def _answer(self, assessment):
        return Response(AssessmentSerializer(Assessment.objects.get(pk=assessment.pk)).data)

    @extend_schema(parameters=[ASSESSMENT_PARAM])
    def retrieve(self, request, *args, **kwargs):
        return Response(AssessmentSerializer(self._get()).data)

    @extend_schema(
        request=AssessmentCreateSerializer,
        responses={201: AssessmentSerializer},
        examples=[
            OpenApiExample(
                "Quarterly assessment",
                value={
                    "template": "ai-era-msp",
                    "title": "Q4 2026 review",
                    "assessed_on": "2026-12-01",
                    "assessors": ["am@northwind.example"],
                    "prefill": True,
                },
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        body = AssessmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        template = Template.objects.select_related("current").filter(key=data["template"]).exclude(current=None).first()
        if template is None:
            raise serializers.ValidationError({"template": f"No template {data['template']!r}."})
        last_final = (
            assessments_list().filter(status=Assessment.Status.FINAL).first() if data["copy_previous"] else None
        )
        assessment = services.assessment_create(
            template_version=template.current,
            title=data["title"],
            assessed_on=data["assessed_on"],
            assessors=data["assessors"],
            prefill=data["prefill"],
            copy_answers_from=last_final,
        )
        return Response(AssessmentSerializer(Assessment.objects.get(pk=assessment.pk)).data, status=201)

    @extend_schema(
        request=AssessmentUpdateSerializer, responses={200: AssessmentSerializer}, parameters=[ASSESSMENT_PARAM]
    )
    def partial_update(self, request, *args, **kwargs):
        body = AssessmentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assessment = self._get()
        _call(services.assessment_update, assessment=assessment, **body.validated_data)
        return self._answer(assessment)

    @extend_schema(responses={200: AnswerSerializer(many=True)}, parameters=[ASSESSMENT_PARAM])
    @action(detail=True, methods=["get"], pagination_class=None)
    def answers(self, request, *args, **kwargs):
        """Every answer, with Keel's signal reading where a question has one."""
        assessment = self._get()
        refs = dict(Question.objects.filter(version_id=assessment.template_version_id).values_list("pk", "ref"))
        answers = Answer.objects.filter(assessment=assessment).prefetch_related("evidence")
        return Response(AnswerSerializer(answers, many=True, context={"refs": refs}).data)

    @extend_schema(
        request=AnswerWriteSerializer,
        responses={200: AnswerSerializer},
        parameters=[ASSESSMENT_PARAM, QUESTION_PARAM],
        examples=[
            OpenApiExample(
                "Override a prefilled answer",
                value={
                    "choice": "weekly-review",
                    "comment": "Dashboards exist but nobody reads them daily.",
                    "override_reason": "The billing feed is live but the client reviews it weekly.",
                },
            )
        ],
    )
    @action(detail=True, methods=["put"], url_path=r"answers/(?P<question_id>[a-z0-9-]+)")
    def answer(self, request, *args, question_id=None, **kwargs):
        """Record one answer (idempotent: the same body twice gives the same answer)."""
        assessment = self._get()
        question = Question.objects.filter(version_id=assessment.template_version_id, ref=question_id).first()
        if question is None:
            raise NotFound("No such question in this assessment's template.")
        body = AnswerWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        evidence = None
        if "evidence" in data:
            evidence = list(Evidence.objects.filter(pk__in=data["evidence"]))
            if len(evidence) != len(set(data["evidence"])):
                raise serializers.ValidationError({"evidence": "Some of these evidence ids do not exist."})
        answer = _call(
            services.answer_save,
            assessment=assessment,
            question=question,
            choice_key=data["choice"],
            is_na=data["not_applicable"],
            comment=data.get("comment"),
            override_reason=data["override_reason"],
            links=[{"url": u, "title": ""} for u in data["links"]] if "links" in data else None,
            evidence=evidence,
        )
        return Response(AnswerSerializer(answer, context={"refs": {question.pk: question.ref}}).data)

    def _transition(self, function):
        assessment = self._get()
        _call(function, assessment=assessment)
        return self._answer(assessment)

    @extend_schema(request=None, responses={200: AssessmentSerializer}, parameters=[ASSESSMENT_PARAM])
    @action(detail=True, methods=["post"])
    def prefill(self, request, *args, **kwargs):
        """Read Keel's platform signals again; the assessors' own answers are kept."""
        assessment = self._get()
        _call(services.assessment_prefill, assessment=assessment)
        return self._answer(assessment)

    @extend_schema(request=None, responses={200: AssessmentSerializer}, parameters=[ASSESSMENT_PARAM])
    @action(detail=True, methods=["post"])
    def submit(self, request, *args, **kwargs):
        """Draft → in review (every required question answered, required evidence attached)."""
        return self._transition(services.assessment_submit)

    @extend_schema(request=None, responses={200: AssessmentSerializer}, parameters=[ASSESSMENT_PARAM])
    @action(detail=True, methods=["post"], url_path="return")
    def send_back(self, request, *args, **kwargs):
        """In review → draft."""
        return self._transition(services.assessment_return)

    @extend_schema(
        request=None,
        responses={200: AssessmentSerializer, 409: OpenApiResponse(description="Final already")},
        parameters=[ASSESSMENT_PARAM],
    )
    @action(detail=True, methods=["post"])
    def finalise(self, request, *args, **kwargs):
        """Freeze answers, scores and targets; the portfolio's maturity view picks it up."""
        return self._transition(services.assessment_finalise)

    @extend_schema(request=None, responses={201: RoadmapItemSerializer(many=True)}, parameters=[ASSESSMENT_PARAM])
    @action(detail=True, methods=["post"])
    def roadmap(self, request, *args, **kwargs):
        """Roadmap items from the gaps (idempotent: gaps with open work get no second item)."""
        created = services.roadmap_generate(assessment=self._get())
        return Response(RoadmapItemSerializer(created, many=True).data, status=201)

    @extend_schema(parameters=[ASSESSMENT_PARAM, OTHER_PARAM], responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path=r"compare/(?P<other_id>\d+)")
    def compare(self, request, *args, other_id=None, **kwargs):
        """Per dimension: level and score before and after, and the deltas (older → newer by date)."""
        this = self._get()
        other = assessments_list().filter(pk=other_id).first()
        if other is None:
            raise NotFound("No such assessment to compare with.")
        older, newer = sorted([this, other], key=lambda a: (a.assessed_on, a.pk))
        result = comparison(older, newer)
        return Response(
            {
                "older": older.pk,
                "newer": newer.pk,
                "overall_delta": str(result["overall_delta"]) if result["overall_delta"] is not None else None,
                "dimensions": result["rows"],
            }
        )

    @extend_schema(
        operation_id="assessments_report_pdf",
        parameters=[ASSESSMENT_PARAM],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path="report.pdf")
    def report_pdf(self, request, *args, **kwargs):
        """The assessment report as PDF (the same content as the portal's report page)."""
        assessment = self._get()
        response = HttpResponse(report.report_pdf(assessment), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{report.report_filename(assessment)}"'
        return response


class TargetProfileSerializer(serializers.Serializer):
    template = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    levels = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=5), help_text="{dimension ref: target level}"
    )


class TargetProfileView(APIView):
    """The client's target level per dimension of a template (the template's default where not set)."""

    def _template(self, template_id) -> Template:
        template = Template.objects.select_related("current").filter(key=template_id).exclude(current=None).first()
        if template is None:
            raise NotFound("No such template.")
        return template

    def _payload(self, template):
        profile = services.target_profile_for(template)
        name = profile.name if profile else (template.current.target_profile or {}).get("name", "")
        return {"template": template.key, "name": name, "levels": services.targets_for(template.current)}

    @extend_schema(parameters=[TEMPLATE_PARAM], responses={200: TargetProfileSerializer})
    def get(self, request, template_id):
        return Response(self._payload(self._template(template_id)))

    @extend_schema(
        parameters=[TEMPLATE_PARAM],
        request=TargetProfileSerializer,
        responses={200: TargetProfileSerializer},
        examples=[OpenApiExample("Raise two targets", value={"levels": {"billing-review": 5, "security": 4}})],
    )
    def put(self, request, template_id):
        template = self._template(template_id)
        body = TargetProfileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.target_profile_save(
            template=template, levels=body.validated_data["levels"], name=body.validated_data.get("name", "")
        )
        return Response(self._payload(template))


class RoadmapItemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Roadmap items (`?status=open` or a status). Status `done` records the completion day."""

    serializer_class = RoadmapItemSerializer
    filter_backends: list = []
    lookup_url_kwarg = "roadmap_item_id"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return roadmap_items(status=self.request.query_params.get("status", ""))

    def get_serializer_class(self):
        return RoadmapItemCreateSerializer if self.action == "create" else RoadmapItemSerializer

    @extend_schema(request=RoadmapItemCreateSerializer, responses={201: RoadmapItemSerializer})
    def create(self, request, *args, **kwargs):
        body = RoadmapItemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        template = Template.objects.select_related("current").filter(key=data.pop("template_key")).first()
        if template is None or template.current is None:
            raise serializers.ValidationError({"template_key": "No such template."})
        item = services.roadmap_item_create(
            template=template, dimension_ref=data.pop("dimension_ref"), title=data.pop("title"), **data
        )
        return Response(RoadmapItemSerializer(item).data, status=201)

    def perform_update(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k in services.ITEM_FIELDS}
        fresh = RoadmapItem.objects.get(pk=serializer.instance.pk)
        serializer.instance = services.roadmap_item_save(item=fresh, **data)
