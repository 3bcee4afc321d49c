"""Budgets over the API: CRUD through the audited services, the month status with forecast and daily series,
scopes and roles that may write, other clients' budgets 404, and list queries that do not grow."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.budgets.models import Budget

from .conftest import make_budget

BASE = "/c/alpha/api/v1/budgets/"


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    """DRF keeps time.time as a class attribute; under freezegun's fake it would be bound as a method."""
    import time

    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: time.time()))


def post(client, body, headers, url=BASE, method="post"):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **headers)


def test_create_read_update_delete(ledger, client, writer):
    created = post(
        client,
        {
            "name": "Claims",
            "scope": "department",
            "department": ledger["claims"].pk,
            "amount": "2000.00",
            "thresholds": [100, 50, 80],
            "overrides": [{"month": "2026-12", "amount": "2500"}],
            "owner_email": "claims@alpha.test",
        },
        writer,
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["currency"] == "EUR" and data["amount"] == "2000.00" and data["thresholds"] == [50, 80, 100]
    assert data["overrides"] == [{"month": "2026-12", "amount": "2500.00"}]
    assert data["last_evaluated_at"] is not None  # evaluated when saved
    pk = data["id"]

    patched = post(client, {"amount": "1200"}, writer, url=f"{BASE}{pk}/", method="patch")
    assert patched.status_code == 200, patched.content
    assert patched.json()["amount"] == "1200.00"
    assert patched.json()["overrides"] == [{"month": "2026-12", "amount": "2500.00"}]  # PATCH keeps them
    assert patched.json()["department"] == ledger["claims"].pk

    put = post(
        client,
        {"name": "OpenAI", "scope": "provider", "provider": "OpenAI", "amount": "900"},
        writer,
        url=f"{BASE}{pk}/",
        method="put",
    )
    assert put.status_code == 200, put.content
    assert put.json()["department"] is None and put.json()["provider"] == "OpenAI"
    assert put.json()["overrides"] == []

    assert client.delete(f"{BASE}{pk}/", **writer).status_code == 204
    assert not Budget.objects.exists()
    actions = list(
        AuditEvent.objects.filter(object_type="budgets.budget").order_by("seq").values_list("action", flat=True)
    )
    assert actions == ["budget.create", "budget.update", "budget.update", "budget.delete"]
    assert AuditEvent.objects.filter(action="budget.create").get().actor_api_key


def test_the_month_status_has_the_forecast_and_the_daily_series(ledger, client, reader):
    budget = make_budget(amount="3000")
    response = client.get(f"{BASE}{budget.pk}/status/?month=2026-11", **reader)
    assert response.status_code == 200
    data = response.json()
    assert data["actual"] == "1885.00" and data["currency"] == "EUR"
    assert data["forecast"] == "2985.00"
    assert Decimal(data["forecast_low"]) <= Decimal("2985") <= Decimal(data["forecast_high"])
    assert data["percent_used"] == "62.8" and data["forecast_percent"] == "99.5"
    assert data["thresholds_crossed"] == [50]
    assert [t["forecast_crosses"] for t in data["thresholds"]] == [False, True, False]
    assert data["confidence"] == "high" and data["confidence_text"].startswith("High confidence")
    assert data["excluded"] == [{"currency": "USD", "amount": "95.00", "rows": 19}]
    assert data["days_left"] == 11 and data["state"] == "watch"
    assert len(data["daily"]) == 30
    assert data["daily"][9] == {
        "day": "2026-11-10",
        "actual": "85.00",
        "actual_to_date": "985.00",
        "expected": None,
        "forecast_to_date": None,
        "low": None,
        "high": None,
    }
    assert data["daily"][29]["forecast_to_date"] == "2985.00" and data["daily"][29]["actual"] is None

    october = client.get(f"{BASE}{budget.pk}/status/?month=2026-10", **reader).json()
    assert october["confidence"] == "final" and october["actual"] == "3100.00" and october["days_left"] == 0
    bad = client.get(f"{BASE}{budget.pk}/status/?month=soon", **reader)
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    assert client.get(f"{BASE}{budget.pk}/status/?month=2027-01", **reader).status_code == 400


def test_validation_errors_name_the_field(ledger, client, writer):
    response = post(client, {"name": "Typo", "scope": "provider", "provider": "openai", "amount": "10"}, writer)
    assert response.status_code == 400
    assert "did you mean 'OpenAI'" in json.dumps(response.json())
    response = post(client, {"name": "Zero", "amount": "0"}, writer)
    assert response.status_code == 400 and "amount" in json.dumps(response.json())
    response = post(
        client, {"name": "Bad month", "amount": "10", "overrides": [{"month": "12/2026", "amount": 1}]}, writer
    )
    assert response.status_code == 400 and "YYYY-MM" in json.dumps(response.json())
    assert not Budget.objects.exists()


def test_read_keys_and_executives_cannot_write(ledger, client, reader, login_as, alpha_executive):
    body = {"name": "Mine", "amount": "10"}
    assert post(client, body, reader).status_code == 403
    session = login_as(alpha_executive)
    assert session.get(BASE).status_code == 200
    assert session.post(BASE, json.dumps(body), content_type="application/json").status_code == 403
    budget = make_budget()
    assert session.delete(f"{BASE}{budget.pk}/").status_code == 403
    assert Budget.objects.count() == 1


def test_another_clients_budget_is_not_found(ledger, beta, client, reader, writer):
    with schema_context(beta.schema_name):
        from apps.budgets.services import budget_save

        theirs = budget_save(name="Beta budget", amount="10")
    assert client.get(f"{BASE}{theirs.pk}/", **reader).status_code == 404
    assert client.get(f"{BASE}{theirs.pk}/status/", **reader).status_code == 404
    assert client.delete(f"{BASE}{theirs.pk}/", **writer).status_code == 404
    assert client.get(BASE, **reader).json()["results"] == []


def test_list_queries_do_not_grow(ledger, client, reader, django_assert_max_num_queries):
    make_budget(name="One", overrides={"2026-12": "5"})
    client.get(BASE, **reader)
    with django_assert_max_num_queries(20) as one:
        client.get(BASE, **reader)
    for index in range(6):
        make_budget(name=f"More {index}", scope="department", department=ledger["risk"], overrides={"2026-12": "5"})
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(BASE, **reader)
    assert len(response.json()["results"]) == 7


def test_the_openapi_document_has_the_budget_routes_and_examples(client, db):
    document = client.get("/api/schema/?format=json").json()
    paths = [p for p in document["paths"] if "/budgets" in p]
    assert any(p.endswith("/budgets/{id}/status/") for p in paths), paths
    text = json.dumps(document)
    assert "OpenAI spend, with a higher December" in text
    assert "November with a runaway loop" in text
