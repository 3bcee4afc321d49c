"""Reads for the inventory: lists with filters, an asset with everything its page shows, the dependency graph."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from .models import (
    KIND_MODEL,
    AgentTool,
    Asset,
    AssetKind,
    AssetRelation,
    Department,
    GuardrailFinding,
    PromptVersion,
)


def departments_list(*, query: str = "") -> QuerySet[Department]:
    qs = Department.objects.all()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(code__icontains=query) | Q(cost_center__icontains=query))
    return qs.order_by("name")


def assets_list(
    *,
    kind: str = "",
    lifecycle: str = "",
    risk_tier: str = "",
    department: str | int = "",
    owner: str = "",
    findings: str = "",
    query: str = "",
) -> QuerySet[Asset]:
    """Assets with their department and open-finding count; filters as the portal and API offer them.

    findings: "open" (has open findings), "none" (has none), "critical"/"high"/… (has an open one that severe).
    department: a department id, or "none" for assets without one.
    """
    open_findings = GuardrailFinding.objects.filter(asset=OuterRef("pk"), status=GuardrailFinding.Status.OPEN)
    qs = Asset.objects.select_related("department").annotate(
        open_findings=Count("findings", filter=Q(findings__status=GuardrailFinding.Status.OPEN), distinct=True)
    )
    if kind:
        qs = qs.filter(kind=kind)
    if lifecycle:
        qs = qs.filter(lifecycle=lifecycle)
    if risk_tier:
        qs = qs.filter(risk_tier=risk_tier)
    if department == "none":
        qs = qs.filter(department__isnull=True)
    elif department:
        qs = qs.filter(department_id=department)
    if owner == "none":
        qs = qs.filter(owner_email="")
    elif owner:
        qs = qs.filter(owner_email__iexact=owner.strip())
    if findings == "open":
        qs = qs.filter(Exists(open_findings))
    elif findings == "none":
        qs = qs.exclude(Exists(open_findings))
    elif findings:
        qs = qs.filter(Exists(open_findings.filter(severity=findings)))
    if query:
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(purpose__icontains=query)
            | Q(owner_email__icontains=query)
            | Q(aimodel__model_id__icontains=query)
            | Q(aimodel__provider__icontains=query)
            | Q(integration__system_name__icontains=query)
        )
    return qs.order_by("name", "pk")


def asset_get(*, pk: int) -> Asset:
    """The kind-specific asset (AIModel, Agent, …) or Asset.DoesNotExist."""
    asset = Asset.objects.only("kind").get(pk=pk)
    qs = KIND_MODEL[asset.kind].objects.select_related("department")
    if asset.kind == AssetKind.AGENT:
        qs = qs.prefetch_related(Prefetch("tools", queryset=AgentTool.objects.select_related("integration")))
    if asset.kind == AssetKind.PROMPT:
        qs = qs.prefetch_related(Prefetch("versions", queryset=PromptVersion.objects.order_by("-number")))
    if asset.kind == AssetKind.ENDPOINT:
        qs = qs.select_related("model")
    return qs.get(pk=pk)


def relations_of(*, asset: Asset) -> tuple[list[AssetRelation], list[AssetRelation]]:
    """(what it depends on, what depends on it)."""
    base = AssetRelation.objects.select_related("source", "target", "prompt_version")
    return list(base.filter(source=asset)), list(base.filter(target=asset))


def findings_for(*, asset: Asset) -> list[GuardrailFinding]:
    return list(asset.findings.order_by("status", "-first_seen_at")[:50])


def open_findings_count() -> int:
    return GuardrailFinding.objects.filter(status=GuardrailFinding.Status.OPEN).count()


def findings_list(*, status: str = "open", severity: str = "", rule: str = "") -> QuerySet[GuardrailFinding]:
    qs = GuardrailFinding.objects.select_related("asset")
    if status:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if rule:
        qs = qs.filter(rule=rule)
    return qs.order_by("status", "-first_seen_at")


@dataclass(frozen=True)
class GraphNode:
    id: int
    name: str
    kind: str
    lifecycle: str
    open_findings: int


@dataclass(frozen=True)
class GraphEdge:
    source: int
    target: int
    kind: str
    label: str


@dataclass(frozen=True)
class DependencyGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def dependency_graph(*, around: Asset | None = None) -> DependencyGraph:
    """Relations plus the endpoint→model links, as nodes and edges; `around` keeps one asset's neighbourhood."""
    from .models import Endpoint, RelationKind

    relations = AssetRelation.objects.values_list("source_id", "target_id", "kind")
    served = Endpoint.objects.filter(model__isnull=False).values_list("pk", "model_id")
    labels = dict(RelationKind.choices)
    edges = [GraphEdge(s, t, k, labels.get(k, k)) for s, t, k in relations]
    edges += [GraphEdge(endpoint, model, "serves_model", "serves model") for endpoint, model in served]
    if around is not None:
        # Two hops each way: "agent → endpoint → model" stays whole when the page is the agent's.
        keep = {around.pk}
        for _ in range(2):
            keep |= {e.target for e in edges if e.source in keep} | {e.source for e in edges if e.target in keep}
        edges = [e for e in edges if e.source in keep and e.target in keep]
        ids = keep
    else:
        ids = {e.source for e in edges} | {e.target for e in edges}
    nodes = [GraphNode(a.pk, a.name, a.kind, a.lifecycle, a.open_findings) for a in assets_list().filter(pk__in=ids)]
    return DependencyGraph(nodes=nodes, edges=edges)
