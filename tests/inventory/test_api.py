"""Inventory API: CRUD per kind through the services, tools, prompt versions, relations, findings, rules, bulk
actions, filters, permissions, another client's ids, and constant query counts on every list."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.inventory.models import Agent, GuardrailFinding
from apps.inventory.services import agent_tool_save, asset_save, prompt_version_add, relation_save

API = "/c/alpha/api/v1/"


def post(client, path, body, headers):
    return client.post(API + path, body, content_type="application/json", **headers)


def test_agent_lifecycle_with_a_money_tool(alpha, client, writer):
    created = post(
        client,
        "agents/",
        {
            "name": "Payout agent",
            "spend_cap": "100.00",
            "lifecycle": "pilot",
            "kill_switch_url": "https://a.example/kill",
            "cost_tags": {"app": "x"},
        },
        writer,
    )
    assert created.status_code == 201, created.json()
    agent = created.json()
    assert agent["kind"] == "agent" and agent["spend_cap"] == "100.00" and agent["open_findings"] == 0
    tool = post(client, f"agents/{agent['id']}/tools/", {"name": "Pay out", "powers": ["move_money"]}, writer)
    assert tool.status_code == 201, tool.json()
    findings = client.get(API + "guardrail-findings/", {"asset": agent["id"]}, **writer).json()["results"]
    assert [f["rule"] for f in findings] == ["agent-moves-money-without-approval"]
    changed = client.patch(
        API + f"agents/{agent['id']}/",
        {"approval_required_for": ["move_money"]},
        content_type="application/json",
        **writer,
    )
    assert changed.status_code == 200 and changed.json()["open_findings"] == 0
    assert changed.json()["tools"][0]["powers"] == ["move_money"]
    assert client.delete(API + f"agents/{agent['id']}/", **writer).status_code == 204
    with schema_context(alpha.schema_name):
        actions = set(AuditEvent.objects.filter(object_id=str(agent["id"])).values_list("action", flat=True))
    assert {"agent.create", "agent.tool_add", "agent.update", "agent.delete"} <= actions


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "models/",
            {
                "name": "Llama",
                "provider": "self-hosted",
                "model_id": "llama-3.1-70b",
                "open_weight": True,
                "hosting": "private_cloud",
                "evaluation_results": [{"metric": "accuracy", "value": "0.9"}],
            },
        ),
        ("pipelines/", {"name": "Docs RAG", "sources": [{"name": "Wiki", "location": "https://wiki"}]}),
        ("integrations/", {"name": "SAP", "system_kind": "erp", "direction": "inbound"}),
        ("prompts/", {"name": "Summary prompt"}),
        ("endpoints/", {"name": "Prod endpoint", "environment": "production", "url": "https://llm.example/v1"}),
    ],
)
def test_every_kind_is_created_read_and_listed(client, writer, path, body):
    created = post(client, path, body, writer)
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert client.get(API + f"{path}{pk}/", **writer).json()["name"] == body["name"]
    listing = client.get(API + "assets/", **writer).json()["results"]
    assert [a["url"] for a in listing if a["id"] == pk] == [f"{path}{pk}/"]


def test_validation_errors_are_problem_json_per_field(client, writer):
    bad = post(client, "agents/", {"name": "X", "risk_tier": "high", "owner_email": "who@nowhere.test"}, writer)
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    assert {"annex_iii_area", "owner_email"} <= set(bad.json()["errors"])
    bad_enum = post(client, "integrations/", {"name": "Y", "direction": "sideways"}, writer)
    assert bad_enum.status_code == 400 and "direction" in bad_enum.json()["errors"]


def test_prompt_versions_and_relations(alpha, client, writer):
    prompt = post(client, "prompts/", {"name": "Claim summary"}, writer).json()
    v1 = post(
        client,
        f"prompts/{prompt['id']}/versions/",
        {"template": "Summarise.", "change_note": "First", "author_email": "dev@alpha.test"},
        writer,
    )
    assert v1.status_code == 201 and v1.json()["number"] == 1
    no_author = post(client, f"prompts/{prompt['id']}/versions/", {"template": "T", "change_note": "n"}, writer)
    assert no_author.status_code == 403
    agent = post(client, "agents/", {"name": "Summariser"}, writer).json()
    link = post(
        client,
        "asset-relations/",
        {"source": agent["id"], "kind": "uses_prompt", "target": prompt["id"], "prompt_version": v1.json()["id"]},
        writer,
    )
    assert link.status_code == 201 and link.json()["target_name"] == "Claim summary"
    wrong = post(
        client, "asset-relations/", {"source": agent["id"], "kind": "uses_model", "target": prompt["id"]}, writer
    )
    assert wrong.status_code == 400
    listed = client.get(API + "asset-relations/", {"source": agent["id"]}, **writer).json()["results"]
    assert len(listed) == 1
    detail = client.get(API + f"prompts/{prompt['id']}/", **writer).json()
    assert detail["versions"][0]["number"] == 1


def test_bulk_actions_and_filters(alpha, client, writer, msp_admin):
    with schema_context(alpha.schema_name):
        a = asset_save(kind="agent", name="A agent", lifecycle="production")
        b = asset_save(kind="integration", name="B system", lifecycle="pilot", risk_tier="minimal")
    assert client.get(API + "assets/", {"findings": "open"}, **writer).json()["results"][0]["id"] == a.pk
    assert [x["id"] for x in client.get(API + "assets/", {"kind": "integration"}, **writer).json()["results"]] == [b.pk]
    assert [x["id"] for x in client.get(API + "assets/", {"search": "B sys"}, **writer).json()["results"]] == [b.pk]
    owner = post(client, "assets/assign-owner/", {"ids": [a.pk, b.pk], "owner_email": msp_admin.email}, writer)
    assert owner.status_code == 200 and owner.json() == {"changed": 2}
    retired = post(client, "assets/retire/", {"ids": [a.pk]}, writer)
    assert retired.json() == {"retired": 1}
    missing = post(client, "assets/retire/", {"ids": [a.pk, 999999]}, writer)
    assert missing.status_code == 400 and "999999" in str(missing.json())
    with schema_context(alpha.schema_name):
        assert not GuardrailFinding.objects.filter(asset_id=a.pk, status="open").exists()


def test_rules_list_says_which_wait(client, reader):
    rules = client.get(API + "guardrail-rules/", **reader).json()
    waiting = {r["code"] for r in rules if not r["active"]}
    assert waiting == {"production-without-slo", "high-risk-without-evidence"}


def test_readers_read_but_cannot_write(alpha, client, reader, login_as, alpha_executive):
    with schema_context(alpha.schema_name):
        agent = asset_save(kind="agent", name="Read only")
    assert client.get(API + f"agents/{agent.pk}/", **reader).status_code == 200
    assert post(client, "agents/", {"name": "Nope"}, reader).status_code == 403
    assert post(client, f"agents/{agent.pk}/tools/", {"name": "t", "powers": ["read_data"]}, reader).status_code == 403
    http = login_as(alpha_executive)
    assert http.get(API + "assets/").status_code == 200
    assert http.post(API + "assets/retire/", {"ids": [agent.pk]}, content_type="application/json").status_code == 403


def test_another_clients_objects_are_404(alpha, beta, client, writer):
    with schema_context(beta.schema_name):
        agent = asset_save(kind="agent", name="Beta agent")
        tool = agent_tool_save(agent=agent, name="t", powers=["read_data"])
        prompt = asset_save(kind="prompt", name="Beta prompt")
    assert client.get(API + f"agents/{agent.pk}/", **writer).status_code == 404
    assert client.get(API + f"assets/{agent.pk}/", **writer).status_code == 404
    assert client.get(API + f"agents/{agent.pk}/tools/", **writer).status_code == 404
    assert client.get(API + f"agents/{agent.pk}/tools/{tool.pk}/", **writer).status_code == 404
    assert client.get(API + f"prompts/{prompt.pk}/versions/", **writer).status_code == 404
    assert post(client, "assets/retire/", {"ids": [agent.pk]}, writer).status_code == 400
    with schema_context(beta.schema_name):
        assert Agent.objects.get(pk=agent.pk).lifecycle != "retired"


def _fill(n, start=0):
    for i in range(start, start + n):
        agent = asset_save(kind="agent", name=f"Agent {i}")
        agent_tool_save(agent=agent, name="Pay", powers=["move_money"])
        model = asset_save(kind="model", name=f"Model {i}", provider="self-hosted", model_id=f"m{i}")
        prompt = asset_save(kind="prompt", name=f"Prompt {i}")
        prompt_version_add(prompt=prompt, template="t", change_note="n", author_email="a@x.test")
        asset_save(kind="pipeline", name=f"Pipeline {i}", personal_data=True)
        asset_save(kind="endpoint", name=f"Endpoint {i}", model=model)
        crm = asset_save(kind="integration", name=f"CRM {i}")
        relation_save(source=agent, kind="calls_integration", target=crm)


LISTS = [
    "assets/",
    "agents/",
    "models/",
    "prompts/",
    "pipelines/",
    "endpoints/",
    "integrations/",
    "asset-relations/",
    "guardrail-findings/",
]


def test_list_endpoints_have_constant_query_counts(alpha, client, reader, django_assert_max_num_queries):
    with schema_context(alpha.schema_name):
        _fill(2)
    counts = {}
    for path in LISTS:
        client.get(API + path, **reader)
        with django_assert_max_num_queries(50) as captured:
            assert client.get(API + path, **reader).status_code == 200
        counts[path] = len(captured.captured_queries)
    with schema_context(alpha.schema_name):
        _fill(18, start=2)
    for path in LISTS:
        with django_assert_max_num_queries(counts[path]):
            response = client.get(API + path, **reader)
        assert len(response.json()["results"]) >= 20
