"""The inventory pages: register an agent and its tools, see findings, relations, history; filters, bulk
actions, read-only executives, constant query counts on the list."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.inventory.models import Agent, Asset, GuardrailFinding
from apps.inventory.services import agent_tool_save, asset_save, relation_save
from tests.conftest import make_user

BASE = "/c/alpha/inventory/"


@pytest.fixture
def engineer(alpha):
    return make_user("eng-inv@msp.test", role=Role.ENGINEER, client=alpha)


@pytest.fixture
def executive(alpha):
    return make_user("cfo-inv@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)


def register(http, kind, **fields):
    return http.post(f"{BASE}new/{kind}/", fields)


AGENT_FORM = {
    "name": "Underwriting agent",
    "owner_email": "eng-inv@msp.test",
    "purpose": "Prices small-business credit lines",
    "lifecycle": "production",
    "risk_tier": "high",
    "annex_iii_area": "III.5",
    "data_classification": "confidential",
    "personal_data": "on",
    "residency_region": "eu-west-1",
    "cost_tags": "app=underwriting; team=credit",
    "autonomy_level": "supervised",
    "spend_cap": "250.00",
    "spend_cap_currency": "eur",
    "spend_cap_period": "day",
    "kill_switch_url": "https://agents.alpha.test/uw/kill",
}


def test_register_agent_then_money_tool_raises_finding(alpha, engineer, login_as):
    http = login_as(engineer)
    response = register(http, "agent", **AGENT_FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    with schema_context(alpha.schema_name):
        agent = Agent.objects.get(name="Underwriting agent")
        assert agent.cost_tags == {"app": "underwriting", "team": "credit"}
        assert agent.spend_cap_currency == "EUR" and str(agent.spend_cap) == "250.00"
        assert not agent.findings.exists()
    response = http.post(
        f"{BASE}assets/{agent.pk}/tools/new/",
        {"name": "Disburse loan", "powers": ["read_data", "move_money"], "max_amount_per_action": "5000"},
    )
    assert response.status_code == 302
    page = http.get(f"{BASE}assets/{agent.pk}/").content.decode()
    assert "Agent can move money without human approval" in page
    assert "Disburse loan" in page and "Tool added" in page
    # Requiring approval clears it.
    form = {**AGENT_FORM, "approval_required_for": ["move_money"]}
    assert http.post(f"{BASE}assets/{agent.pk}/edit/", form).status_code == 302
    with schema_context(alpha.schema_name):
        assert not GuardrailFinding.objects.filter(asset_id=agent.pk, status="open").exists()
    page = http.get(f"{BASE}assets/{agent.pk}/").content.decode()
    assert "meets every active guardrail" in page and "Resolved" in page


def test_validation_messages_for_people(alpha, engineer, login_as):
    http = login_as(engineer)
    response = register(http, "agent", name="", risk_tier="high", owner_email="stranger@nowhere.test")
    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in page
    assert "Select a valid choice" in page  # the owner must be a known person
    response = register(http, "agent", **{**AGENT_FORM, "annex_iii_area": ""})
    assert "needs its Annex III area" in response.content.decode()
    assert register(http, "agent", **AGENT_FORM).status_code == 302
    again = register(http, "agent", **{**AGENT_FORM, "name": "UNDERWRITING agent"})
    assert "is already registered" in again.content.decode()


def test_relations_dependency_view_and_history(alpha, engineer, login_as):
    http = login_as(engineer)
    with schema_context(alpha.schema_name):
        agent = asset_save(kind="agent", name="Claims triage agent")
        crm = asset_save(kind="integration", name="Salesforce", system_kind="crm")
        pipeline = asset_save(kind="pipeline", name="Policy documents", residency_region="eu-west-1")
    response = http.post(f"{BASE}assets/{agent.pk}/relations/new/", {"kind": "calls_integration", "target": crm.pk})
    assert response.status_code == 302
    page = http.get(f"{BASE}assets/{agent.pk}/").content.decode()
    assert "Salesforce" in page and "Link added" in page
    wrong = http.post(
        f"{BASE}assets/{agent.pk}/relations/new/", {"kind": "uses_model", "target": pipeline.pk}, follow=True
    )
    assert "needs a model as its target" in wrong.content.decode()
    graph = http.get(f"{BASE}dependencies/").content.decode()
    assert "Claims triage agent" in graph and "calls integration" in graph and "<svg" in graph


def test_list_filters_search_and_bulk_actions(alpha, engineer, login_as):
    http = login_as(engineer)
    with schema_context(alpha.schema_name):
        a = asset_save(kind="agent", name="Collections agent", lifecycle="production")
        b = asset_save(kind="integration", name="SAP", system_kind="erp", lifecycle="pilot")
        asset_save(kind="pipeline", name="Broker emails", lifecycle="proposed")
    page = http.get(BASE, {"kind": "integration"}).content.decode()
    assert "SAP" in page and "Collections agent" not in page
    page = http.get(BASE, {"findings": "open"}).content.decode()
    assert "Collections agent" in page and "SAP" not in page
    page = http.get(BASE, {"query": "broker"}).content.decode()
    assert "Broker emails" in page and "SAP" not in page
    response = http.post(f"{BASE}bulk/", {"action": "assign_owner", "ids": [a.pk, b.pk], "owner_email": engineer.email})
    assert response.status_code == 302
    response = http.post(f"{BASE}bulk/", {"action": "retire", "ids": [a.pk]})
    with schema_context(alpha.schema_name):
        assert set(Asset.objects.filter(pk__in=[a.pk, b.pk]).values_list("owner_email", flat=True)) == {engineer.email}
        assert Asset.objects.get(pk=a.pk).lifecycle == "retired"
        assert not GuardrailFinding.objects.filter(asset_id=a.pk, status="open").exists()
    unknown = http.post(
        f"{BASE}bulk/", {"action": "assign_owner", "ids": [b.pk], "owner_email": "x@y.test"}, follow=True
    )
    assert "is not a member of this client" in unknown.content.decode()


def test_executive_reads_but_cannot_change(alpha, executive, login_as):
    with schema_context(alpha.schema_name):
        agent = asset_save(kind="agent", name="Pricing agent")
        agent_tool_save(agent=agent, name="Quote", powers=["read_data"])
    http = login_as(executive)
    assert http.get(BASE).status_code == 200
    page = http.get(f"{BASE}assets/{agent.pk}/").content.decode()
    assert "Pricing agent" in page and "Register an asset" not in page and "Add a tool" not in page
    assert register(http, "agent", name="Sneaky").status_code == 403
    assert http.post(f"{BASE}assets/{agent.pk}/delete/").status_code == 403
    assert http.post(f"{BASE}bulk/", {"action": "retire", "ids": [agent.pk]}).status_code == 403


def test_another_clients_asset_is_404(alpha, beta, engineer, login_as):
    with schema_context(beta.schema_name):
        secret = asset_save(kind="agent", name="Beta secret agent")
    http = login_as(engineer)
    assert http.get(f"{BASE}assets/{secret.pk}/").status_code == 404
    assert http.get(f"/c/beta/inventory/assets/{secret.pk}/").status_code == 404


def _fill(n):
    for i in range(n):
        agent = asset_save(kind="agent", name=f"Agent {i:03d}")
        agent_tool_save(agent=agent, name="Pay", powers=["move_money"])
        crm = asset_save(kind="integration", name=f"CRM {i:03d}")
        relation_save(source=agent, kind="calls_integration", target=crm)


@pytest.mark.parametrize("path", ["", "findings/", "dependencies/"])
def test_list_pages_have_constant_query_counts(alpha, engineer, login_as, django_assert_max_num_queries, path):
    http = login_as(engineer)
    with schema_context(alpha.schema_name):
        _fill(2)
    http.get(BASE + path)  # warm session and caches
    with django_assert_max_num_queries(30) as few:
        assert http.get(BASE + path).status_code == 200
    with schema_context(alpha.schema_name):
        _fill_more = [asset_save(kind="agent", name=f"More {i}") for i in range(15)]
        assert _fill_more
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert http.get(BASE + path).status_code == 200
