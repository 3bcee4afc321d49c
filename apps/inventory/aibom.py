"""The client's AI inventory as a CycloneDX 1.6 ML-BOM (JSON), validated against the official schema.

cyclonedx-python-lib builds the document; it has no `component.modelCard` or `component.data` yet
(11.12.0), so those are injected into the serialised JSON, and the result is validated strictly before
anyone sees it: an invalid BOM is a bug, never a download. Mapping (docs/inventory-import-export.md):

    model        → component machine-learning-model + modelCard
    pipeline     → component data, one data[] entry per source
    prompt       → component data, data[] of type configuration, SHA-256 of the current version
    agent        → component application; its tools → services
    endpoint     → service with its URL in endpoints
    integration  → service with a data flow
    relations, endpoint → model, agent → tool → integration  → dependencies
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from functools import lru_cache

from cyclonedx.model import DataClassification, DataFlow, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.model.service import Service
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.spdx import is_supported_id
from cyclonedx.validation.json import JsonStrictValidator
from django.conf import settings
from django.db import connection
from django.db.models import Prefetch
from jsonschema import Draft7Validator

from .models import (
    KIND_MODEL,
    Agent,
    AgentTool,
    AIModel,
    Asset,
    AssetKind,
    AssetRelation,
    Direction,
    Endpoint,
    Integration,
    KnowledgePipeline,
    Lifecycle,
    Prompt,
    PromptVersion,
    RelationKind,
)

MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = SchemaVersion.V1_6
# An integration's direction is seen from the AI; a CycloneDX service's data flow from the service.
INTEGRATION_FLOW = {
    Direction.INBOUND: DataFlow.OUTBOUND,  # data leaves the system into the AI
    Direction.OUTBOUND: DataFlow.INBOUND,  # the AI writes into the system
    Direction.BIDIRECTIONAL: DataFlow.BI_DIRECTIONAL,
}
# Relation kinds where the target depends on the source rather than the other way round.
REVERSED_RELATIONS = {RelationKind.FEEDS}


class AIBomInvalid(Exception):
    """The generated document does not validate: a bug in the mapping, never the user's fault."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("The AI-BOM does not validate against CycloneDX 1.6: " + "; ".join(errors[:5]))


@lru_cache(maxsize=1)
def _validator() -> JsonStrictValidator:
    return JsonStrictValidator(SPEC_VERSION)


VALIDATION_BATCH = 50  # components + services + dependencies per schema check


def bom_validate(document: dict) -> list[str]:
    """Schema errors of a CycloneDX 1.6 JSON document ([] when valid), from the library's strict validator.

    jsonschema checks `uniqueItems` on the components, services and dependencies arrays pairwise (O(n²)
    for objects), which takes minutes for thousands of assets. Large documents are therefore checked in
    slices that each carry the whole rest of the document; every item is validated exactly once, and the
    uniqueness that the slices cannot see is checked here by bom-ref (unique refs make the items unique).
    """
    arrays = {key: document.get(key) or [] for key in ("components", "services", "dependencies")}
    if sum(len(items) for items in arrays.values()) <= VALIDATION_BATCH:
        return _schema_errors(document)
    errors = []
    refs = [item.get("bom-ref") for item in arrays["components"] + arrays["services"]]
    dependency_refs = [item.get("ref") for item in arrays["dependencies"]]
    for label, values in (("component/service bom-ref", refs), ("dependency ref", dependency_refs)):
        repeated = sorted({str(v) for v in values if values.count(v) > 1}) if len(set(values)) < len(values) else []
        if repeated:
            errors.append(f"Repeated {label}: {', '.join(repeated[:10])}")
    size = max(len(items) for items in arrays.values())
    for start in range(0, size, VALIDATION_BATCH):
        part = {**document}
        for key, items in arrays.items():
            if key in document:
                part[key] = items[start : start + VALIDATION_BATCH]
        errors += _schema_errors(part)
    return errors


def _schema_errors(document: dict) -> list[str]:
    errors = _validator().validate_str(json.dumps(document), all_errors=True)
    return [str(error).split("\n", 1)[0] for error in errors or []]


def _index_dependencies(bom: Bom) -> None:
    """Bom.register_dependency finds a target's entry by scanning every dependency, and the JSON output
    calls it once per component: O(n²). Answer the look-up from an index for this one Bom instead."""
    index = {str(dependency.ref): dependency for dependency in bom.dependencies}

    def register_dependency(target, depends_on=None) -> None:
        key = str(target.bom_ref)
        entry = index.get(key)
        if entry is None:
            entry = index[key] = Dependency(ref=target.bom_ref)
            bom.dependencies.add(entry)
        for other in depends_on or []:
            entry.dependencies.add(Dependency(ref=other.bom_ref))
            register_dependency(other)

    bom.register_dependency = register_dependency


def _is_iri(value: str) -> bool:
    return bool(value) and Draft7Validator.FORMAT_CHECKER.conforms(value, "iri-reference") and "://" in value


def _ref(pk: int) -> str:
    return f"asset-{pk}"


def _props(pairs: list[tuple[str, object]]) -> list[Property]:
    props = []
    for name, value in pairs:
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, list | tuple | set) else [value]:
            if isinstance(item, bool):
                item = "yes" if item else "no"
            props.append(Property(name=f"keel:{name}", value=str(item)))
    return props


def _common(asset: Asset) -> list[tuple[str, object]]:
    return [
        ("asset_id", asset.pk),
        ("kind", asset.kind),
        ("lifecycle", asset.lifecycle),
        ("risk_tier", asset.risk_tier),
        ("annex_iii_area", asset.annex_iii_area),
        ("owner", asset.owner_email),
        ("department", asset.department.name if asset.department_id else ""),
        ("data_classification", asset.data_classification),
        ("personal_data", asset.personal_data),
        ("residency_region", asset.residency_region),
        ("cost_tag", [f"{k}={v}" for k, v in sorted((asset.cost_tags or {}).items())]),
    ]


def _assets(include_retired: bool) -> dict[str, list[Asset]]:
    by_kind = {}
    for kind, model in KIND_MODEL.items():
        qs = model.objects.select_related("department").order_by("pk")
        if not include_retired:
            qs = qs.exclude(lifecycle=Lifecycle.RETIRED)
        if model is Agent:
            qs = qs.prefetch_related(Prefetch("tools", queryset=AgentTool.objects.order_by("pk")))
        if model is Prompt:
            qs = qs.prefetch_related(Prefetch("versions", queryset=PromptVersion.objects.order_by("-number")))
        by_kind[kind] = list(qs)
    return by_kind


def _model(model: AIModel) -> Component:
    licence = model.licence.strip()
    licenses = []
    if licence:
        licenses = [DisjunctiveLicense(id=licence) if is_supported_id(licence) else DisjunctiveLicense(name=licence)]
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        bom_ref=_ref(model.pk),
        name=model.name,
        version=model.model_version or None,
        description=model.purpose or None,
        supplier=OrganizationalEntity(name=model.provider) if model.provider else None,
        licenses=licenses,
        properties=_props(
            [
                *_common(model),
                ("provider", model.provider),
                ("model_id", model.model_id),
                ("hosting", model.hosting),
                ("open_weight", model.open_weight),
                ("region", model.region),
                ("context_window", model.effective_context_window),
                ("deprecation_date", model.effective_deprecation_date),
                ("catalog_key", model.catalog_key),
            ]
        ),
    )


def _model_card(model: AIModel, datasets: list[str]) -> dict:
    card: dict = {}
    parameters: dict = {}
    if model.task:
        parameters["task"] = model.task
    training = []
    if model.training_data_summary:
        training.append({"type": "dataset", "name": "Training data", "description": model.training_data_summary})
    training += [{"ref": ref} for ref in datasets]
    if training:
        parameters["datasets"] = training
    if parameters:
        card["modelParameters"] = parameters
    metrics = []
    for result in model.evaluation_results or []:
        metric = {"type": str(result.get("metric", "")), "value": str(result.get("value", ""))}
        if result.get("dataset"):
            metric["slice"] = str(result["dataset"])
        metrics.append(metric)
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations = {}
    if model.intended_use:
        considerations["useCases"] = [model.intended_use]
    if model.limitations:
        considerations["technicalLimitations"] = [model.limitations]
    if considerations:
        card["considerations"] = considerations
    return card


def _governance(asset: Asset) -> dict:
    if not asset.owner_email:
        return {}
    return {"governance": {"owners": [{"contact": {"email": asset.owner_email}}]}}


def _pipeline_data(pipeline: KnowledgePipeline) -> list[dict]:
    base = {"type": "dataset", "classification": pipeline.data_classification, **_governance(pipeline)}
    if pipeline.personal_data:
        base["sensitiveData"] = ["personal data"]
    entries = []
    for source in pipeline.sources or [{"name": pipeline.name, "location": ""}]:
        entry = {**base, "name": str(source.get("name") or pipeline.name)}
        location = str(source.get("location") or "")
        if _is_iri(location):
            entry["contents"] = {"url": location}
        elif location:
            entry["description"] = f"Location: {location}"
        entries.append(entry)
    return entries


def _pipeline(pipeline: KnowledgePipeline) -> Component:
    return Component(
        type=ComponentType.DATA,
        bom_ref=_ref(pipeline.pk),
        name=pipeline.name,
        description=pipeline.purpose or None,
        properties=_props(
            [
                *_common(pipeline),
                ("vector_store", pipeline.vector_store),
                ("embedding_model", pipeline.embedding_model),
                ("refresh_schedule", pipeline.refresh_schedule),
                ("last_refreshed_at", pipeline.last_refreshed_at.isoformat() if pipeline.last_refreshed_at else ""),
                ("per_document_access_control", pipeline.per_document_access_control),
            ]
        ),
    )


def _prompt(prompt: Prompt) -> tuple[Component, list[dict]]:
    versions = list(prompt.versions.all())
    current = versions[0] if versions else None
    component = Component(
        type=ComponentType.DATA,
        bom_ref=_ref(prompt.pk),
        name=prompt.name,
        version=str(current.number) if current else None,
        description=prompt.purpose or None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=current.template_sha256)] if current else [],
        properties=_props([*_common(prompt), ("template_sha256", current.template_sha256 if current else "")]),
    )
    entry = {"type": "configuration", "name": prompt.name, "classification": prompt.data_classification}
    if current:
        entry["name"] = f"{prompt.name} v{current.number}"
        entry["contents"] = {
            "properties": [
                {"name": "keel:prompt_version", "value": str(current.number)},
                {"name": "keel:template_sha256", "value": current.template_sha256},
                {"name": "keel:author", "value": current.author_email},
                {"name": "keel:created_at", "value": current.created_at.isoformat()},
            ]
        }
    return component, [entry]


def _agent(agent: Agent) -> Component:
    powers = sorted({power for tool in agent.tools.all() for power in tool.powers})
    cap = (
        f"{agent.spend_cap} {agent.spend_cap_currency} per {agent.spend_cap_period}"
        if agent.spend_cap is not None
        else ""
    )
    return Component(
        type=ComponentType.APPLICATION,
        bom_ref=_ref(agent.pk),
        name=agent.name,
        description=agent.purpose or None,
        properties=_props(
            [
                *_common(agent),
                ("autonomy_level", agent.autonomy_level),
                ("spend_cap", cap or "none"),
                ("kill_switch", "registered" if agent.kill_switch_url else "none"),
                ("power", powers),
                ("approval_required_for", sorted(agent.approval_required_for or [])),
                (
                    "power_without_approval",
                    [p for p in powers if p not in (agent.approval_required_for or []) and p != "read_data"],
                ),
            ]
        ),
    )


def _tool(agent: Agent, tool: AgentTool) -> Service:
    return Service(
        bom_ref=f"agent-tool-{tool.pk}",
        name=f"{agent.name}: {tool.name}",
        description=tool.description or None,
        properties=_props(
            [
                ("agent", agent.name),
                ("power", sorted(tool.powers)),
                ("max_amount_per_action", tool.max_amount_per_action),
                ("max_calls_per_hour", tool.max_calls_per_hour),
                ("limit", tool.limit_note),
            ]
        ),
    )


def _endpoint(endpoint: Endpoint) -> Service:
    return Service(
        bom_ref=_ref(endpoint.pk),
        name=endpoint.name,
        description=endpoint.purpose or None,
        endpoints=[XsUri(endpoint.url)] if _is_iri(endpoint.url) else [],
        data=[DataClassification(flow=DataFlow.BI_DIRECTIONAL, classification=endpoint.data_classification)],
        properties=_props([*_common(endpoint), ("environment", endpoint.environment), ("region", endpoint.region)]),
    )


def _integration(integration: Integration) -> Service:
    return Service(
        bom_ref=_ref(integration.pk),
        name=integration.name,
        description=integration.purpose or integration.system_name or None,
        data=[
            DataClassification(
                flow=INTEGRATION_FLOW.get(integration.direction, DataFlow.UNKNOWN),
                classification=integration.data_classification,
            )
        ],
        properties=_props(
            [
                *_common(integration),
                ("system_kind", integration.system_kind),
                ("system_name", integration.system_name),
                ("direction", integration.direction),
                ("health_status", integration.health_status),
            ]
        ),
    )


def ai_bom_document(*, include_retired: bool = False) -> dict:
    """This client's AI-BOM as a CycloneDX 1.6 JSON document (a dict), validated; AIBomInvalid if not."""
    client = connection.tenant
    assets = _assets(include_retired)
    nodes: dict[str, Component | Service] = {}
    model_cards: dict[str, AIModel] = {}
    data_entries: dict[str, list[dict]] = {}
    edges: dict[str, set[str]] = defaultdict(set)

    bom = Bom()
    for model in assets[AssetKind.MODEL]:
        nodes[_ref(model.pk)] = _model(model)
        model_cards[_ref(model.pk)] = model
    for pipeline in assets[AssetKind.PIPELINE]:
        nodes[_ref(pipeline.pk)] = _pipeline(pipeline)
        data_entries[_ref(pipeline.pk)] = _pipeline_data(pipeline)
    for prompt in assets[AssetKind.PROMPT]:
        nodes[_ref(prompt.pk)], data_entries[_ref(prompt.pk)] = _prompt(prompt)
    for agent in assets[AssetKind.AGENT]:
        nodes[_ref(agent.pk)] = _agent(agent)
    for endpoint in assets[AssetKind.ENDPOINT]:
        nodes[_ref(endpoint.pk)] = _endpoint(endpoint)
        if endpoint.model_id:
            edges[_ref(endpoint.pk)].add(_ref(endpoint.model_id))
    for integration in assets[AssetKind.INTEGRATION]:
        nodes[_ref(integration.pk)] = _integration(integration)
    for agent in assets[AssetKind.AGENT]:
        for tool in agent.tools.all():
            service = _tool(agent, tool)
            nodes[str(service.bom_ref)] = service
            edges[_ref(agent.pk)].add(str(service.bom_ref))
            if tool.integration_id:
                edges[str(service.bom_ref)].add(_ref(tool.integration_id))

    trained_on: dict[str, list[str]] = defaultdict(list)
    for source, kind, target in AssetRelation.objects.values_list("source_id", "kind", "target_id").order_by("pk"):
        source, target = _ref(source), _ref(target)
        if kind in REVERSED_RELATIONS:
            source, target = target, source
            if target in data_entries and source in model_cards:
                trained_on[source].append(target)  # a pipeline feeding a model is one of its datasets
        edges[source].add(target)

    for node in nodes.values():
        (bom.services if isinstance(node, Service) else bom.components).add(node)
    # The described "root": the client's AI estate, depending on every asset nothing else depends on.
    client_name = getattr(client, "name", "") or client.schema_name
    root = Component(type=ComponentType.PLATFORM, bom_ref="client", name=f"{client_name} AI inventory")
    edges = {s: {t for t in targets if t in nodes} for s, targets in edges.items() if s in nodes}
    depended_on = {t for targets in edges.values() for t in targets}
    # Injected after serialisation: the library compares dependency entries by their whole dependsOn list
    # while sorting, and this one can hold every asset.
    top_level = sorted(ref for ref in nodes if ref not in depended_on) or sorted(nodes)
    bom.metadata.component = root
    bom.metadata.supplier = OrganizationalEntity(name=settings.KEEL_MSP_NAME)
    bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name="Keel", group="keel"))
    bom.metadata.properties.update(
        _props(
            [
                ("client", client_name),
                ("client_slug", getattr(client, "slug", "") or client.schema_name),
                ("includes_retired", include_retired),
            ]
        )
    )
    bom.dependencies.update(
        Dependency(ref=nodes[ref].bom_ref, dependencies=[Dependency(ref=nodes[t].bom_ref) for t in sorted(targets)])
        for ref, targets in edges.items()
        if targets
    )

    _index_dependencies(bom)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the library's own completeness hints
        document = json.loads(JsonV1Dot6(bom).output_as_string())
    for dependency in document.get("dependencies", []):
        if dependency["ref"] == "client" and top_level:
            dependency["dependsOn"] = top_level
    for component in document.get("components", []):
        ref = component.get("bom-ref")
        if ref in model_cards:
            component["modelCard"] = _model_card(model_cards[ref], trained_on.get(ref, []))
        if ref in data_entries:
            component["data"] = data_entries[ref]

    errors = bom_validate(document)
    if errors:
        raise AIBomInvalid(errors)
    return document
