"""Anomalies over the API: list with filters and cursor pages, detail with the series, actions (dismiss needs a
reason, problem+json), settings get/patch, an on-demand scan, scopes and roles that may write, another client's
anomaly 404, list queries that do not grow, and the OpenAPI document's routes and examples."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.anomalies.models import Anomaly
from apps.audit.models import AuditEvent

from .test_pages import _fake_anomalies

BASE = "/c/alpha/api/v1/anomalies/"
SETTINGS = "/c/alpha/api/v1/anomaly-settings/"
pytestmark = pytest.mark.django_db


def post(client, url, body, headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_the_list_has_the_anomalies_newest_first_with_filters(spiked, client, reader):
    response = client.get(BASE, **reader)
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["scope_kind"] for r in results} == {"service", "client"}
    service = next(r for r in results if r["scope_kind"] == "service")
    assert service["day"] == "2026-11-17" and service["currency"] == "USD" and service["direction"] == "spike"
    assert service["impact"].count(".") == 1 and len(service["impact"].split(".")[1]) == 2  # decimal string, cents
    assert service["ledger_rows_url"].startswith("/c/alpha/finops/ledger/?from=2026-11-17&to=2026-11-17")
    assert service["alert"] == Anomaly.objects.get(scope_kind="service").alert_id
    only = client.get(BASE, {"scope_kind": "client", "status": "active", "from": "2026-11-01"}, **reader).json()
    assert [r["scope_kind"] for r in only["results"]] == ["client"]
    assert client.get(BASE, {"to": "2026-11-01"}, **reader).json()["results"] == []
    bad = client.get(BASE, {"direction": "sideways"}, **reader)
    assert bad.status_code == 400 and bad["Content-Type"] == "application/problem+json"
    assert "direction" in bad.json()["errors"]


def test_cursor_pages_walk_the_whole_list(spiked, client, reader):
    _fake_anomalies(7)
    seen, url = [], f"{BASE}?page_size=4"
    while url:
        page = client.get(url, **reader).json()
        seen.extend(r["id"] for r in page["results"])
        url = page["next"]
    assert len(seen) == len(set(seen)) == 9


def test_the_detail_has_the_baseline_and_the_series(spiked, client, reader):
    service = Anomaly.objects.get(scope_kind="service")
    body = client.get(f"{BASE}{service.pk}/", **reader).json()
    assert body["baseline"]["method"] == "weekday" and body["typical"] and body["spread"]
    day = next(d for d in body["series"] if d["day"] == "2026-11-17")
    assert day["flagged"] == "spike" and day["actual"] == str(service.actual.quantize(day_cents()))
    assert len(body["series"]) == 59


def day_cents():
    from decimal import Decimal

    return Decimal("0.01")


def test_actions_need_write_and_dismiss_needs_a_reason(spiked, client, reader, writer):
    service = Anomaly.objects.get(scope_kind="service")
    assert post(client, f"{BASE}{service.pk}/acknowledge/", {}, reader).status_code == 403
    acknowledged = post(client, f"{BASE}{service.pk}/acknowledge/", {}, writer)
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    assert Alert.objects.get(pk=service.alert_id).state == "acknowledged"
    refused = post(client, f"{BASE}{service.pk}/dismiss/", {"note": ""}, writer)
    assert refused.status_code == 400 and refused["Content-Type"] == "application/problem+json"
    assert "note" in refused.json()["errors"]
    twice = post(client, f"{BASE}{service.pk}/acknowledge/", {}, writer)
    assert twice.status_code == 400
    dismissed = post(client, f"{BASE}{service.pk}/dismiss/", {"note": "Planned load test."}, writer)
    assert dismissed.json()["status"] == "dismissed" and dismissed.json()["status_note"] == "Planned load test."
    event = AuditEvent.objects.filter(action="anomaly.dismiss").latest("seq")
    assert event.actor_api_key and event.before["status"] == "acknowledged" and event.after["status"] == "dismissed"
    reopened = post(client, f"{BASE}{service.pk}/reopen/", {}, writer)
    assert reopened.json()["status"] == "open"
    assert post(client, f"{BASE}{service.pk}/resolve/", {"note": "Fixed."}, writer).json()["status"] == "resolved"


def test_settings_get_and_patch(spiked, client, reader, writer):
    current = client.get(SETTINGS, **reader).json()
    assert current["sensitivity"] == "4.00" and current["baseline_weeks"] == 8
    assert current["last_scan"]["series"] >= 2
    patch = client.patch(SETTINGS, json.dumps({"sensitivity": "5"}), content_type="application/json", **reader)
    assert patch.status_code == 403
    bad = client.patch(SETTINGS, json.dumps({"baseline_weeks": 3}), content_type="application/json", **writer)
    assert bad.status_code == 400 and "baseline_weeks" in bad.json()["errors"]
    ok = client.patch(SETTINGS, json.dumps({"min_impact": "3000"}), content_type="application/json", **writer)
    assert ok.status_code == 200 and ok.json()["min_impact"] == "3000.000000"
    assert AuditEvent.objects.filter(action="anomaly_settings.update", actor_api_key__gt="").exists()


def test_an_on_demand_scan(spiked, client, reader, writer):
    assert post(client, f"{BASE}scan/", {}, reader).status_code == 403
    result = post(client, f"{BASE}scan/", {"first_day": "2026-11-01"}, writer).json()
    assert result["first_day"] == "2026-11-01" and result["last_day"] == "2026-11-19"
    assert result["created"] == 0 and result["days_judged"] > 0
    backwards = post(client, f"{BASE}scan/", {"first_day": "2026-11-10", "last_day": "2026-11-01"}, writer)
    assert backwards.status_code == 400


def test_another_clients_anomaly_is_not_found(spiked, beta, client, reader, writer):
    with schema_context(beta.schema_name):
        _fake_anomalies(1)
        Anomaly.objects.update(id=990_002)
    assert client.get(f"{BASE}990002/", **reader).status_code == 404
    assert post(client, f"{BASE}990002/acknowledge/", {}, writer).status_code == 404
    assert all(r["id"] != 990_002 for r in client.get(BASE, **reader).json()["results"])


def test_list_queries_do_not_grow(spiked, client, reader, django_assert_max_num_queries):
    client.get(BASE, **reader)
    with django_assert_max_num_queries(15) as few:
        client.get(BASE, **reader)
    _fake_anomalies(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(BASE, **reader)
    assert len(response.json()["results"]) == 32


def test_the_openapi_document_has_the_anomaly_routes_and_examples(client, db):
    document = client.get("/api/schema/?format=json").json()
    paths = [p for p in document["paths"] if "anomal" in p]
    for suffix in ("/anomalies/", "/anomalies/{id}/", "/anomalies/{id}/dismiss/", "/anomalies/scan/"):
        assert any(p.endswith(suffix) for p in paths), paths
    assert any(p.endswith("/anomaly-settings/") for p in paths)
    text = json.dumps(document)
    assert "Acme's runaway loop, seen in the daily bill" in text
    assert "Planned re-index of the claims archive." in text
