"""The AI-BOM: a CycloneDX 1.6 document that passes cyclonedx-python-lib's strict JSON validation, with every
kind of asset mapped, the model card, data entries, dependencies and Keel's attributes; one client only."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from django_tenants.utils import tenant_context

from apps.accounts.roles import Role
from apps.inventory import aibom
from apps.inventory.aibom import AIBomInvalid, ai_bom_document, bom_validate
from apps.inventory.services import (
    agent_tool_save,
    asset_save,
    assets_retire,
    department_save,
    prompt_version_add,
    relation_save,
)
from tests.conftest import auth_header, make_user

OWNER = "owner-bom@msp.test"


def strictly_valid(document: dict) -> bool:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document), all_errors=True)
    assert errors is None, [str(e).splitlines()[0] for e in errors]
    return True


@pytest.fixture
def estate(alpha):
    """One of each kind, wired together the way a real client's assets are."""
    make_user(OWNER, role=Role.MSP_ADMIN)
    with tenant_context(alpha):
        department = department_save(name="Claims operations", code="claims-ops")
        model = asset_save(
            kind="model",
            name="Claims LLM",
            owner_email=OWNER,
            department=department,
            provider="openai",
            model_id="gpt-4o",
            model_version="2024-08-06",
            licence="Apache-2.0",
            task="text-generation",
            intended_use="Drafting replies to policyholders",
            limitations="Not for legal advice",
            evaluation_results=[
                {"metric": "accuracy", "value": "0.94", "dataset": "holdout 2026-Q3"},
                {"metric": "toxicity", "value": "0.01"},
            ],
            training_data_summary="The provider's pre-training corpus",
            risk_tier="high",
            annex_iii_area="III.5",
            residency_region="eu-west-1",
        )
        pipeline = asset_save(
            kind="pipeline",
            name="Claims KB",
            data_classification="confidential",
            personal_data=True,
            residency_region="eu-west-1",
            owner_email=OWNER,
            sources=[
                {"name": "Claim PDFs", "location": "s3://harbor-claims/docs"},
                {"name": "Adjuster notes", "location": "SharePoint > Claims > Notes"},
            ],
        )
        prompt = asset_save(kind="prompt", name="Triage system prompt")
        version = prompt_version_add(
            prompt=prompt, template="You triage claims for {team}.", change_note="First", author_email=OWNER
        )
        crm = asset_save(kind="integration", name="Salesforce", system_kind="crm", direction="bidirectional")
        endpoint = asset_save(kind="endpoint", name="Claims gateway", url="https://llm.harbor.example/v1", model=model)
        agent = asset_save(
            kind="agent",
            name="Claims triage agent",
            autonomy_level="supervised",
            spend_cap=Decimal("50.00"),
            spend_cap_currency="EUR",
            kill_switch_url="https://agents.harbor.example/kill",
            approval_required_for=["move_money"],
            lifecycle="production",
        )
        tool = agent_tool_save(agent=agent, name="Pay out", powers=["read_data", "move_money"], integration=crm)
        relation_save(source=agent, kind="uses_model", target=model)
        relation_save(source=agent, kind="via_endpoint", target=endpoint)
        relation_save(source=agent, kind="retrieves_from", target=pipeline)
        relation_save(source=agent, kind="uses_prompt", target=prompt, prompt_version=version)
        relation_save(source=pipeline, kind="feeds", target=model)
        old = asset_save(kind="model", name="Legacy LLM", provider="self-hosted", model_id="legacy")
        assets_retire(assets=[old])
    return {
        "model": model,
        "pipeline": pipeline,
        "prompt": prompt,
        "version": version,
        "crm": crm,
        "endpoint": endpoint,
        "agent": agent,
        "tool": tool,
        "old": old,
    }


def by_ref(document: dict) -> dict[str, dict]:
    return {item["bom-ref"]: item for item in document.get("components", []) + document.get("services", [])}


def props(item: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for prop in item.get("properties", []):
        found.setdefault(prop["name"], []).append(prop["value"])
    return found


def deps(document: dict) -> dict[str, set[str]]:
    return {d["ref"]: set(d.get("dependsOn", [])) for d in document["dependencies"]}


def test_every_kind_is_mapped_and_the_document_is_strictly_valid(alpha, estate):
    with tenant_context(alpha):
        document = ai_bom_document()
    assert strictly_valid(document)
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    assert document["metadata"]["timestamp"] and document["metadata"]["component"]["name"] == "Alpha Corp AI inventory"
    assert {"name": "keel:client", "value": "Alpha Corp"} in document["metadata"]["properties"]

    ref = {key: f"asset-{asset.pk}" for key, asset in estate.items() if key not in ("version", "tool")}
    items = by_ref(document)
    assert ref["old"] not in items  # retired

    model = items[ref["model"]]
    assert model["type"] == "machine-learning-model" and model["version"] == "2024-08-06"
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}] and model["supplier"] == {"name": "openai"}
    card = model["modelCard"]
    assert card["modelParameters"]["task"] == "text-generation"
    assert {"ref": ref["pipeline"]} in card["modelParameters"]["datasets"]  # the pipeline that feeds it
    assert card["considerations"] == {
        "useCases": ["Drafting replies to policyholders"],
        "technicalLimitations": ["Not for legal advice"],
    }
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "accuracy", "value": "0.94", "slice": "holdout 2026-Q3"},
        {"type": "toxicity", "value": "0.01"},
    ]
    model_props = props(model)
    assert model_props["keel:risk_tier"] == ["high"] and model_props["keel:annex_iii_area"] == ["III.5"]
    assert model_props["keel:owner"] == [OWNER] and model_props["keel:department"] == ["Claims operations"]
    assert model_props["keel:residency_region"] == ["eu-west-1"] and model_props["keel:lifecycle"] == ["proposed"]

    pipeline = items[ref["pipeline"]]
    assert pipeline["type"] == "data"
    first, second = pipeline["data"]
    assert first["type"] == "dataset" and first["name"] == "Claim PDFs" and first["classification"] == "confidential"
    assert first["contents"] == {"url": "s3://harbor-claims/docs"} and first["sensitiveData"] == ["personal data"]
    assert first["governance"] == {"owners": [{"contact": {"email": OWNER}}]}
    assert "contents" not in second and second["description"] == "Location: SharePoint > Claims > Notes"

    prompt = items[ref["prompt"]]
    sha = estate["version"].template_sha256
    assert prompt["type"] == "data" and prompt["version"] == "1"
    assert prompt["hashes"] == [{"alg": "SHA-256", "content": sha}]
    assert prompt["data"][0]["type"] == "configuration"
    assert {"name": "keel:template_sha256", "value": sha} in prompt["data"][0]["contents"]["properties"]

    agent = items[ref["agent"]]
    agent_props = props(agent)
    assert agent["type"] == "application"
    assert agent_props["keel:power"] == ["move_money", "read_data"]
    assert agent_props["keel:approval_required_for"] == ["move_money"]
    assert agent_props["keel:spend_cap"] == ["50.00 EUR per day"] and agent_props["keel:kill_switch"] == ["registered"]
    assert "keel:power_without_approval" not in agent_props

    endpoint = items[ref["endpoint"]]
    assert endpoint in document["services"] and endpoint["endpoints"] == ["https://llm.harbor.example/v1"]
    crm = items[ref["crm"]]
    assert crm in document["services"] and crm["data"] == [{"classification": "internal", "flow": "bi-directional"}]
    tool_ref = f"agent-tool-{estate['tool'].pk}"
    assert props(items[tool_ref])["keel:power"] == ["move_money", "read_data"]

    graph = deps(document)
    assert graph[ref["agent"]] == {ref["model"], ref["endpoint"], ref["pipeline"], ref["prompt"], tool_ref}
    assert graph[ref["endpoint"]] == {ref["model"]}  # Endpoint.model
    assert graph[ref["model"]] == {ref["pipeline"]}  # the pipeline feeds the model
    assert graph[tool_ref] == {ref["crm"]}
    assert graph["client"] == {ref["agent"]}  # the only asset nothing else depends on
    every_ref = set(items) | {"client"}
    assert all(d <= every_ref for d in graph.values()) and set(graph) <= every_ref


def test_retired_assets_only_when_asked(alpha, estate):
    with tenant_context(alpha):
        document = ai_bom_document(include_retired=True)
    assert strictly_valid(document)
    legacy = by_ref(document)[f"asset-{estate['old'].pk}"]
    assert props(legacy)["keel:lifecycle"] == ["retired"] and "modelCard" in legacy


def test_an_empty_inventory_is_a_valid_bom(beta):
    with tenant_context(beta):
        document = ai_bom_document()
    assert strictly_valid(document)
    assert (
        document.get("components", []) == [] and document["metadata"]["component"]["name"] == "Beta Corp AI inventory"
    )


def test_an_invalid_document_is_a_bug_and_raises(alpha, estate, monkeypatch):
    monkeypatch.setattr(aibom, "_model_card", lambda model, datasets: {"task": "not where it belongs"})
    with tenant_context(alpha), pytest.raises(AIBomInvalid) as invalid:
        ai_bom_document()
    assert "Additional properties are not allowed" in str(invalid.value)


def test_large_documents_are_validated_in_slices_without_missing_anything():
    def component(i, **extra):
        return {"type": "data", "name": f"d{i}", "bom-ref": f"asset-{i}", **extra}

    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [component(i) for i in range(130)],
        "dependencies": [{"ref": f"asset-{i}"} for i in range(130)],
    }
    assert bom_validate(document) == []
    document["components"][127]["data"] = [{"type": "spreadsheet"}]  # in the third slice
    assert any("'spreadsheet' is not one of" in e for e in bom_validate(document))
    document["components"][127] = component(3)  # a repeated bom-ref across slices
    assert bom_validate(document) == ["Repeated component/service bom-ref: asset-3"]


def test_other_clients_assets_never_appear(alpha, beta, estate, api_key_for, client, login_as):
    with tenant_context(beta):
        asset_save(kind="model", name="Beta secret model", provider="x", model_id="y")
        beta_document = ai_bom_document()
    assert [c["name"] for c in beta_document["components"]] == ["Beta secret model"]

    _, reader = api_key_for(alpha, ["read"])
    response = client.get("/c/alpha/api/v1/ai-bom/", **auth_header(reader))
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.cyclonedx+json"
    document = response.json()
    assert strictly_valid(document)
    names = {item["name"] for item in document["components"] + document["services"]}
    assert "Claims LLM" in names and "Beta secret model" not in names
    _, beta_key = api_key_for(beta, ["read"])
    assert client.get("/c/alpha/api/v1/ai-bom/", **auth_header(beta_key)).status_code == 404
    retired = client.get("/c/alpha/api/v1/ai-bom/?include_retired=true", **auth_header(reader)).json()
    assert "Legacy LLM" in {c["name"] for c in retired["components"]}

    executive = login_as(make_user("cfo-bom@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha))
    download = executive.get("/c/alpha/inventory/ai-bom.json")
    assert download.status_code == 200 and download["Content-Disposition"] == 'attachment; filename="ai-bom.json"'
    assert download["Content-Type"].startswith("application/vnd.cyclonedx+json")
    portal_document = json.loads(download.content)
    assert strictly_valid(portal_document) and "Beta secret model" not in download.content.decode()
