"""Inventory API: departments, every asset kind, agents' tools, prompt versions, relations, findings, rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from ..models import KIND_MODEL, Agent, AgentTool, Asset, AssetKind, AssetRelation, Department, Prompt, PromptVersion
from ..selectors import assets_list, findings_list
from ..services import (
    agent_tool_delete,
    agent_tool_save,
    asset_delete,
    asset_save,
    assets_assign_owner,
    assets_retire,
    department_delete,
    department_save,
    prompt_version_add,
    relation_delete,
    relation_save,
)
from .serializers import (
    KIND_ROUTES,
    KIND_SERIALIZERS,
    AgentToolSerializer,
    AssetSerializer,
    BulkIdsSerializer,
    BulkOwnerSerializer,
    DepartmentSerializer,
    FindingSerializer,
    PromptVersionSerializer,
    RelationSerializer,
    RuleSerializer,
    rule_rows,
)

ASSET_FILTERS = ["kind", "lifecycle", "risk_tier", "department", "owner", "findings", "search"]
FILTER_PARAMETERS = [
    OpenApiParameter("lifecycle", str, enum=["proposed", "pilot", "production", "retired"]),
    OpenApiParameter("risk_tier", str, enum=["unassessed", "prohibited", "high", "limited", "minimal"]),
    OpenApiParameter("department", str, description="Department id, or `none`."),
    OpenApiParameter("owner", str, description="Owner's email, or `none`."),
    OpenApiParameter(
        "findings", str, description="`open`, `none`, or a severity (`critical`, `high`, `medium`, `low`)."
    ),
    OpenApiParameter("search", str, description="Name, purpose, owner, model id, provider, system name."),
]


def _filters(request, **fixed) -> dict:
    params = {name: request.query_params.get(name, "").strip() for name in ASSET_FILTERS}
    params["query"] = params.pop("search")
    return params | fixed


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "Claims operations",
                value={"name": "Claims operations", "code": "claims-ops", "cost_center": "CC-4100"},
            )
        ]
    ),
)
class DepartmentViewSet(viewsets.ModelViewSet):
    """Departments of this client: who owns AI assets and receives allocated cost."""

    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    filterset_fields = ["code"]

    def perform_create(self, serializer):
        serializer.instance = department_save(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = department_save(department=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        department_delete(department=instance)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("kind", str, enum=list(AssetKind.values)), *FILTER_PARAMETERS])
)
class AssetViewSet(viewsets.ReadOnlyModelViewSet):
    """Every asset of this client, whatever its kind; bulk retire and assign owner."""

    serializer_class = AssetSerializer
    filter_backends = []  # filtered by assets_list, the same filters as the portal

    def get_queryset(self):
        return assets_list(**_filters(self.request))

    def _chosen(self, ids: list[int]) -> list[Asset]:
        found = {asset.pk: asset for asset in Asset.objects.filter(pk__in=ids)}
        missing = sorted(set(ids) - set(found))
        if missing:
            raise ValidationError({"ids": f"No asset with id {', '.join(map(str, missing))} in this client."})
        return [found[pk] for pk in ids]

    @extend_schema(request=BulkIdsSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def retire(self, request):
        body = BulkIdsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response({"retired": assets_retire(assets=self._chosen(body.validated_data["ids"]))})

    @extend_schema(request=BulkOwnerSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"], url_path="assign-owner")
    def assign_owner(self, request):
        body = BulkOwnerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assets = self._chosen(body.validated_data["ids"])
        return Response({"changed": assets_assign_owner(assets=assets, owner_email=body.validated_data["owner_email"])})


EXAMPLES = {
    AssetKind.AGENT: OpenApiExample(
        "Underwriting agent",
        value={
            "name": "underwriter-7",
            "purpose": "Underwrites small-business credit lines; disbursal needs a person's approval.",
            "lifecycle": "production",
            "risk_tier": "high",
            "annex_iii_area": "III.5",
            "owner_email": "engineer@northwind.example",
            "personal_data": True,
            "residency_region": "eu-west-1",
            "cost_tags": {"app": "underwriting"},
            "autonomy_level": "autonomous",
            "spend_cap": "500.00",
            "spend_cap_currency": "EUR",
            "spend_cap_period": "day",
            "approval_required_for": ["move_money"],
            "kill_switch_url": "https://agents.acme.example/underwriter-7/kill",
        },
    ),
    AssetKind.MODEL: OpenApiExample(
        "Canadian-hosted open-weight model",
        value={
            "name": "Llama 3.1 70B (Canadian private cloud)",
            "provider": "self-hosted",
            "model_id": "meta-llama/Llama-3.1-70B-Instruct",
            "hosting": "private_cloud",
            "open_weight": True,
            "licence": "Llama 3.1 Community License",
            "region": "ca-central-1",
            "residency_region": "ca-central-1",
            "lifecycle": "production",
            "risk_tier": "limited",
            "personal_data": True,
            "intended_use": "Patient intake conversations; escalates clinical questions to staff.",
            "evaluation_results": [{"metric": "refusal of dosage advice", "value": "1.00"}],
        },
    ),
    AssetKind.PIPELINE: OpenApiExample(
        "Claims documents RAG",
        value={
            "name": "Claims documents RAG",
            "sources": [{"name": "Policy wordings", "location": "s3://harbor-policies/wordings/"}],
            "vector_store": "OpenSearch Serverless",
            "refresh_schedule": "every 15 minutes",
            "personal_data": True,
            "residency_region": "us-east-1",
            "lifecycle": "production",
        },
    ),
    AssetKind.PROMPT: OpenApiExample("Claim summarisation prompt", value={"name": "Claim summarisation prompt"}),
    AssetKind.ENDPOINT: OpenApiExample(
        "Azure OpenAI endpoint",
        value={
            "name": "Azure OpenAI westeurope (prod)",
            "environment": "production",
            "model": 1,
            "url": "https://acme-uw.openai.azure.com/",
            "region": "westeurope",
        },
    ),
    AssetKind.INTEGRATION: OpenApiExample(
        "Core banking",
        value={
            "name": "Temenos core banking",
            "system_kind": "payments",
            "system_name": "Temenos Transact",
            "direction": "bidirectional",
            "health_status": "healthy",
        },
    ),
}


def _kind_viewset(kind: str) -> type[viewsets.ModelViewSet]:
    model = KIND_MODEL[kind]

    def get_queryset(self):
        qs = model.objects.select_related("department").annotate(
            open_findings=Count("findings", filter=Q(findings__status="open"), distinct=True)
        )
        if self.action == "list":
            qs = qs.filter(pk__in=assets_list(**_filters(self.request, kind=kind)).values("pk"))
        if model is Agent:
            qs = qs.prefetch_related("tools")
        if model is Prompt:
            qs = qs.prefetch_related(Prefetch("versions", queryset=PromptVersion.objects.order_by("-number")))
        return qs.order_by("name", "pk")

    def perform_create(self, serializer):
        saved = asset_save(kind=kind, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=saved.pk)  # with its findings count and tools

    def perform_update(self, serializer):
        saved = asset_save(kind=kind, asset=serializer.instance, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance):
        asset_delete(asset=instance)

    label = AssetKind(kind).label
    viewset = type(
        f"{model.__name__}ViewSet",
        (viewsets.ModelViewSet,),
        {
            "__doc__": f"{label}s of this client: create, change, remove; writes are audited and re-check the "
            "guardrails.",
            "serializer_class": KIND_SERIALIZERS[kind],
            "filter_backends": [],
            "get_queryset": get_queryset,
            "perform_create": perform_create,
            "perform_update": perform_update,
            "perform_destroy": perform_destroy,
        },
    )
    return extend_schema_view(
        list=extend_schema(parameters=FILTER_PARAMETERS),
        create=extend_schema(examples=[EXAMPLES[kind]]),
    )(viewset)


KIND_VIEWSETS = {KIND_ROUTES[kind]: _kind_viewset(kind) for kind in KIND_MODEL}


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "Money-moving tool",
                value={
                    "name": "Disburse funds",
                    "powers": ["move_money"],
                    "integration": 4,
                    "max_amount_per_action": "250000.00",
                    "limit_note": "Only to the verified account",
                },
            )
        ]
    )
)
class AgentToolViewSet(viewsets.ModelViewSet):
    """The tools an agent may call, what each lets it do, and its limits."""

    serializer_class = AgentToolSerializer
    queryset = AgentTool.objects.all()  # narrowed to the agent in get_queryset; here for the schema
    filter_backends = []

    def agent(self) -> Agent:
        return get_object_or_404(Agent, pk=self.kwargs["agent_pk"])

    def get_queryset(self):
        return AgentTool.objects.filter(agent_id=self.kwargs["agent_pk"]).order_by("name")

    def perform_create(self, serializer):
        serializer.instance = agent_tool_save(agent=self.agent(), **serializer.validated_data)

    def perform_update(self, serializer):
        tool = serializer.instance
        serializer.instance = agent_tool_save(agent=tool.agent, tool=tool, **serializer.validated_data)

    def perform_destroy(self, instance):
        agent_tool_delete(tool=instance)

    def list(self, request, *args, **kwargs):
        self.agent()  # 404 for an agent that isn't this client's
        return super().list(request, *args, **kwargs)


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "New version",
                value={
                    "template": "Summarise the claim as JSON …",
                    "change_note": "Structured output",
                    "author_email": "engineer@northwind.example",
                },
            )
        ]
    )
)
class PromptVersionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """A prompt's versions, newest first. Versions are immutable: a change is a new version."""

    serializer_class = PromptVersionSerializer
    queryset = PromptVersion.objects.all()  # narrowed to the prompt in get_queryset; here for the schema
    filter_backends = []

    def get_queryset(self):
        get_object_or_404(Prompt, pk=self.kwargs["prompt_pk"])
        return PromptVersion.objects.filter(prompt_id=self.kwargs["prompt_pk"]).order_by("-number")

    def perform_create(self, serializer):
        prompt = get_object_or_404(Prompt, pk=self.kwargs["prompt_pk"])
        data = dict(serializer.validated_data)
        user = getattr(self.request._request, "access", None)
        author = data.pop("author_email", "") or (user.user.email if user and user.user else "")
        if not author:
            raise PermissionDenied("Say who wrote this version: author_email is required with an API key.")
        serializer.instance = prompt_version_add(prompt=prompt, author_email=author, **data)


class RelationViewSet(viewsets.ModelViewSet):
    """Links between assets ("agent A uses model M"); filter by source, target or kind."""

    serializer_class = RelationSerializer
    filterset_fields = ["source", "target", "kind"]
    queryset = AssetRelation.objects.select_related("source", "target").order_by("pk")

    def perform_create(self, serializer):
        serializer.instance = relation_save(**serializer.validated_data)

    def perform_update(self, serializer):
        data = {"kind": serializer.instance.kind, "target": serializer.instance.target} | serializer.validated_data
        data.pop("source", None)
        serializer.instance = relation_save(source=serializer.instance.source, relation=serializer.instance, **data)

    def perform_destroy(self, instance):
        relation_delete(relation=instance)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=["open", "resolved", "all"], description="Default: open."),
            OpenApiParameter("severity", str, enum=["critical", "high", "medium", "low"]),
            OpenApiParameter("rule", str),
            OpenApiParameter("asset", int),
        ]
    )
)
class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Guardrail findings: what breaks which rule, why, and the fix."""

    serializer_class = FindingSerializer
    filter_backends = []

    def get_queryset(self):
        params = self.request.query_params
        status = params.get("status", "open")
        qs = findings_list(
            status="" if status == "all" else status, severity=params.get("severity", ""), rule=params.get("rule", "")
        )
        if self.action != "list":
            return findings_list(status="")
        asset = params.get("asset", "")
        return qs.filter(asset_id=int(asset)) if asset.isdigit() else qs


class GuardrailRuleViewSet(viewsets.ViewSet):
    """The guardrail rules and whether each is active (some wait for capabilities Keel doesn't have yet)."""

    @extend_schema(responses=RuleSerializer(many=True))
    def list(self, request, *args, **kwargs):
        return Response(RuleSerializer(rule_rows(), many=True).data)
