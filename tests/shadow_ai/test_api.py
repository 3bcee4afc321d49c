"""The shadow AI API: the queue and the history, an item's evidence, register (prefilled) / map / dismiss with the
write scope, a reason required, other clients' items 404, scans on demand, OpenAPI, and list queries that do
not grow with the items."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from apps.audit.models import AuditEvent
from apps.inventory.models import Agent
from apps.shadow_ai.models import Status
from apps.shadow_ai.services import shadow_scan
from tests.conftest import auth_header

from .conftest import bedrock, book, events, ingest, item_for, project

pytestmark = pytest.mark.django_db(transaction=False)

BASE = "/c/alpha/api/v1/shadow-ai/"
PROBLEM = "application/problem+json"
NOV_1, NOV_19 = dt.date(2026, 11, 1), dt.date(2026, 11, 19)
SONNET = "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0"


@pytest.fixture
def queue(org, cloud, openai):
    book(cloud, lambda day: [bedrock(day, "10.00")], NOV_1, NOV_19)
    book(openai, lambda day: [project(day, "4.00")], NOV_1, NOV_19)
    ingest(events("rogue-bot", day=NOV_19))
    shadow_scan()
    return org


def post(client, url, body, headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_list_is_the_queue_by_spend_and_detail_has_the_evidence(queue, client, reader):
    listed = client.get(BASE, **reader)
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert [r["identity_value"] for r in results] == [SONNET, "proj_shadow", "rogue-bot"]
    assert [r["cost_30d"] for r in results] == ["190.000000", "76.000000", "1.500000"]
    first = results[0]
    assert first["suggested_kind"] == "model" and first["department"]["name"] == "Claims"
    assert first["rule_candidates"][0]["field"] == "resource"
    assert first["ledger_rows_url"].startswith("/c/alpha/finops/ledger/?from=2026-10-17&to=2026-11-20")

    only_usage = client.get(BASE, {"origin": "usage"}, **reader).json()["results"]
    assert [r["identity_value"] for r in only_usage] == ["rogue-bot"]
    detail = client.get(f"{BASE}{item_for('proj_shadow').pk}/", **reader).json()
    assert detail["models_seen"] == ["gpt-4o-mini"] and detail["status"] == "open"


def test_register_with_the_prefill_and_a_few_fields(queue, client, writer):
    item = item_for("rogue-bot")
    response = post(client, f"{BASE}{item.pk}/register/", {"fields": {"lifecycle": "pilot"}}, writer)
    assert response.status_code == 201, response.content
    body = response.json()
    agent = Agent.objects.get(name="rogue-bot")
    assert body["status"] == "registered" and body["asset"] == {"id": agent.pk, "name": "rogue-bot", "kind": "agent"}
    assert agent.lifecycle == "pilot" and body["rule"]["name"] == "Shadow AI: rogue-bot"
    assert body["decided_by"].startswith("API key ")
    event = AuditEvent.objects.get(action="shadow_ai.register")
    assert event.actor_api_key and event.object_id == str(item.pk)


def test_register_errors_are_problems(queue, client, writer):
    item = item_for(SONNET)
    response = post(client, f"{BASE}{item.pk}/register/", {"kind": "model", "fields": {"model_id": ""}}, writer)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "model_id" in response.json()["errors"]["fields"]
    wrong_kind = post(client, f"{BASE}{item.pk}/register/", {"kind": "prompt"}, writer)
    assert wrong_kind.status_code == 400
    item.refresh_from_db()
    assert item.status == Status.OPEN


def test_map_and_dismiss(queue, client, writer):
    mapped = post(client, f"{BASE}{item_for('proj_shadow').pk}/map/", {"asset": queue["helper"].pk}, writer)
    assert mapped.status_code == 200 and mapped.json()["status"] == "mapped"
    assert mapped.json()["rule"]["id"] and AuditEvent.objects.filter(action="shadow_ai.map").exists()

    target = item_for("rogue-bot")
    missing = post(client, f"{BASE}{target.pk}/dismiss/", {"reason": ""}, writer)
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    done = post(client, f"{BASE}{target.pk}/dismiss/", {"reason": "A developer's laptop"}, writer)
    assert done.status_code == 200 and done.json()["dismiss_reason"] == "A developer's laptop"
    again = post(client, f"{BASE}{target.pk}/dismiss/", {"reason": "again"}, writer)
    assert again.status_code == 400
    history = client.get(BASE, {"status": "decided"}, **writer).json()["results"]
    assert {r["identity_value"] for r in history} == {"proj_shadow", "rogue-bot"}
    reopened = post(client, f"{BASE}{target.pk}/reopen/", {}, writer)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


def test_read_scope_cannot_decide(queue, client, reader):
    item = item_for("rogue-bot")
    assert post(client, f"{BASE}{item.pk}/dismiss/", {"reason": "no"}, reader).status_code == 403
    assert post(client, f"{BASE}scan/", {}, reader).status_code == 403
    item.refresh_from_db()
    assert item.status == Status.OPEN


def test_scan_on_demand(queue, client, writer):
    latest = client.get(f"{BASE}scan/", **writer).json()
    assert latest["latest"]["found"] == 3 and latest["alert_threshold"] == "100.00"
    response = post(client, f"{BASE}scan/", {}, writer)
    assert response.status_code == 201 and response.json()["created"] == 0 and response.json()["trigger"] == "api"


def test_other_clients_items_are_404(queue, client, beta, api_key_for):
    beta_key = auth_header(api_key_for(beta, ["read", "write"])[1])
    item = item_for("rogue-bot")
    assert client.get(f"/c/beta/api/v1/shadow-ai/{item.pk}/", **beta_key).status_code == 404
    response = post(client, f"/c/beta/api/v1/shadow-ai/{item.pk}/dismiss/", {"reason": "x"}, beta_key)
    assert response.status_code == 404
    assert client.get(f"{BASE}{item.pk}/", **beta_key).status_code in (401, 403, 404)


def test_list_queries_do_not_grow(org, cloud, client, reader, django_assert_max_num_queries):
    book(cloud, lambda day: [bedrock(day, "10.00", resource_id="r-0")], NOV_1, NOV_19)
    shadow_scan()
    client.get(BASE, **reader)
    with django_assert_max_num_queries(20) as one:
        assert len(client.get(BASE, **reader).json()["results"]) == 1
    book(cloud, lambda day: [bedrock(day, "10.00", resource_id=f"r-{i}") for i in range(15)], NOV_1, NOV_19)
    shadow_scan()
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(client.get(BASE, **reader).json()["results"]) == 15


def test_the_openapi_schema_documents_the_routes(client, db):
    import yaml

    document = yaml.safe_load(client.get("/api/schema/").content)
    paths = document["paths"]
    for route in ("", "{id}/", "{id}/register/", "{id}/map/", "{id}/dismiss/", "{id}/reopen/", "scan/"):
        assert f"/c/{{client}}/api/v1/shadow-ai/{route}" in paths, route
    listing = paths["/c/{client}/api/v1/shadow-ai/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "kind", "origin", "search", "cursor"}
    examples = json.dumps(listing["responses"]["200"]["content"]["application/json"].get("examples", {}))
    assert "An unregistered Bedrock model" in examples
    register = paths["/c/{client}/api/v1/shadow-ai/{id}/register/"]["post"]
    assert "Register the Bedrock model" in json.dumps(register["requestBody"])
