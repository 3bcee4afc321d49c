"""The cost-per-unit API (series and drivers, Decimal strings, null without units), business units (create,
change, delete — audited), another client's unit is 404, and the lists cost constant queries."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.unit_economics.models import BusinessUnit, UnitCount
from apps.unit_economics.services import unit_counts_ingest
from tests.conftest import auth_header

from .conftest import book, queries_run, row

API = "/c/alpha/api/v1/"


@pytest.fixture
def claims(org, source, make_unit):
    book(
        source,
        [
            row("2026-10-10", "30.00", agent="claims-bot", x_model="gpt-4o"),
            row("2026-11-02", "10.00", agent="claims-bot", x_model="gpt-4o"),
            row("2026-11-03", "7.50", agent="claims-bot", x_model="gpt-4o-mini"),
            row("2026-11-04", "3.00", agent="claims-bot", x_model="gpt-4o-mini"),
        ],
        start="2026-10-01",
        end="2026-12-01",
    )
    unit = make_unit("claims", scope_kind="asset", asset=org["bot"])
    counts = {"2026-10-10": 20, "2026-11-02": 4, "2026-11-03": 3, "2026-11-04": 0}
    unit_counts_ingest([{"unit": "claims", "day": d, "count": n} for d, n in counts.items()])
    return unit


@pytest.fixture
def reader(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read"])[1])


@pytest.fixture
def writer(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read", "write"])[1])


def test_the_series_comes_as_decimal_strings_with_null_where_no_units(client, claims, reader):
    params = {"unit": "claims", "granularity": "day", "from": "2026-11-02", "to": "2026-11-06"}
    answer = client.get(API + "unit-costs/", params, **reader).json()
    assert answer["currency"] == "USD" and answer["granularity"] == "day" and answer["volume_basis"] == "total"
    assert [(p["period"], p["units"], p["cost"], p["cost_per_unit"]) for p in answer["series"]] == [
        ("2026-11-02", 4, "10.000000000000", "2.50000000"),
        ("2026-11-03", 3, "7.500000000000", "2.50000000"),
        ("2026-11-04", 0, "3.000000000000", None),
        ("2026-11-05", None, "0", None),
    ]
    assert answer["totals"] == {"units": 7, "cost": "20.500000000000", "cost_per_unit": "2.92857143"}
    assert answer["scope"]["asset"] == claims.asset_id and answer["scope"]["label"] == "All spend of claims-bot (agent)"
    monthly = client.get(API + "unit-costs/", {"unit": "claims", "from": "2026-10-01", "to": "2026-12-01"}, **reader)
    assert [p["cost_per_unit"] for p in monthly.json()["series"]] == ["1.50000000", "2.92857143"]
    by_model = client.get(
        API + "unit-costs/",
        {"unit": "claims", "model": "gpt-4o-mini", "from": "2026-11-01", "to": "2026-12-01"},
        **reader,
    ).json()
    assert by_model["totals"]["cost"] == "10.500000000000" and by_model["scope"]["model"] == "gpt-4o-mini"


def test_the_drivers_split_the_change(client, claims, reader):
    answer = client.get(API + "unit-costs/drivers/", {"unit": "claims", "month": "2026-11", "by": "model"}, **reader)
    body = answer.json()
    assert (body["previous"]["cost_per_unit"], body["current"]["cost_per_unit"]) == ("1.50000000", "2.92857143")
    assert body["cost_change"] == "-9.500000000000" and body["volume_change"] == -13
    assert body["volume_effect"] == "-19.500000000000"  # 13 fewer claims × 1.50
    assert body["unit_cost_effect"] == "10.000000000000"  # (2.928571… − 1.50) × 7
    assert [(c["key"], c["per_unit_change"]) for c in body["contributors"]] == [
        ("gpt-4o-mini", "1.50000000"),  # 10.50/7 − 0
        ("gpt-4o", "-0.07142857"),  # 10/7 − 30/20
    ]


def test_bad_parameters_are_problems_and_unknown_units_are_404(client, claims, reader):
    assert client.get(API + "unit-costs/", **reader).status_code == 400
    assert client.get(API + "unit-costs/", {"unit": "claims", "granularity": "week"}, **reader).status_code == 400
    assert (
        client.get(
            API + "unit-costs/", {"unit": "claims", "from": "2026-11-05", "to": "2026-11-01"}, **reader
        ).status_code
        == 400
    )
    assert client.get(API + "unit-costs/", {"unit": "claims", "department": "x"}, **reader).status_code == 400
    assert client.get(API + "unit-costs/drivers/", {"unit": "claims", "by": "colour"}, **reader).status_code == 400
    missing = client.get(API + "unit-costs/", {"unit": "nope"}, **reader)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"


def test_another_clients_unit_is_404_everywhere(client, alpha, claims, beta, api_key_for):
    beta_key = auth_header(api_key_for(beta, ["read", "write", "ingest"])[1])
    assert client.get("/c/beta/api/v1/business-units/claims/", **beta_key).status_code == 404
    assert client.get("/c/beta/api/v1/unit-costs/", {"unit": "claims"}, **beta_key).status_code == 404
    assert client.get("/c/beta/api/v1/unit-costs/drivers/", {"unit": "claims"}, **beta_key).status_code == 404
    pushed = client.post(
        "/c/beta/api/v1/unit-metrics/",
        json.dumps([{"unit": "claims", "day": "2026-11-02", "count": 1}]),
        content_type="application/json",
        **beta_key,
    )
    assert pushed.status_code == 400 and pushed.json()["errors"][0]["field"] == "unit"
    with schema_context(alpha.schema_name):
        assert UnitCount.objects.filter(unit__code="claims").count() == 4  # untouched by beta's push
    # and alpha's key does not open beta's workspace
    alpha_key = auth_header(api_key_for(alpha, ["read"])[1])
    assert client.get("/c/beta/api/v1/business-units/", **alpha_key).status_code in (401, 403, 404)


def test_business_units_are_created_changed_and_deleted_with_an_audit_trail(client, alpha, org, writer):
    created = client.post(
        API + "business-units/",
        json.dumps(
            {
                "code": "Loans",
                "name": "Loan application underwritten",
                "unit_label": "loan application",
                "scope_kind": "department",
                "department": org["claims"].pk,
                "asset": org["bot"].pk,  # not its scope: cleared
            }
        ),
        content_type="application/json",
        **writer,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (
        body["code"] == "loans"
        and body["asset"] is None
        and body["scope_label"] == "All spend of the Claims department"
    )
    renamed = client.patch(
        API + "business-units/loans/",
        json.dumps({"name": "Loan decided", "ai_only": True}),
        content_type="application/json",
        **writer,
    )
    assert renamed.status_code == 200 and renamed.json()["scope_label"] == "AI spend of the Claims department"
    recoded = client.patch(
        API + "business-units/loans/", json.dumps({"code": "credit"}), content_type="application/json", **writer
    )
    assert recoded.status_code == 400 and "cannot change" in json.dumps(recoded.json())
    no_scope = client.post(
        API + "business-units/",
        json.dumps({"code": "x", "name": "X", "unit_label": "x", "scope_kind": "asset"}),
        content_type="application/json",
        **writer,
    )
    assert no_scope.status_code == 400 and "asset" in no_scope.json()["errors"]
    reserved = client.post(
        API + "business-units/",
        json.dumps({"code": "upload", "name": "X", "unit_label": "x"}),
        content_type="application/json",
        **writer,
    )
    assert reserved.status_code == 400
    with schema_context(alpha.schema_name):
        unit_counts_ingest([{"unit": "loans", "day": "2026-11-02", "count": 9}])
    assert client.delete(API + "business-units/loans/", **writer).status_code == 204
    with schema_context(alpha.schema_name):
        assert not BusinessUnit.objects.exists() and not UnitCount.objects.exists()
        actions = list(
            AuditEvent.objects.filter(object_type="unit_economics.businessunit")
            .order_by("seq")
            .values_list("action", flat=True)
        )
        assert actions == ["business_unit.create", "business_unit.update", "business_unit.delete"]
        deleted = AuditEvent.objects.get(action="business_unit.delete")
        assert deleted.before["counts"]["rows"] == 1 and deleted.before["code"] == "loans"


def test_a_read_key_cannot_change_units(client, claims, reader):
    assert client.delete(API + "business-units/claims/", **reader).status_code == 403


def test_the_unit_list_costs_constant_queries(client, org, make_unit, reader):
    make_unit("a0", scope_kind="asset", asset=org["bot"])
    client.get(API + "business-units/", **reader)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(API + "business-units/", **reader)
        assert response.status_code == 200
        return len(response.json()["results"]), len(queries_run(captured))

    one = queries()
    for i in range(1, 12):
        make_unit(f"a{i}", scope_kind="department" if i % 2 else "asset", department=org["claims"], asset=org["bot"])
    many = queries()
    assert (one[0], many[0]) == (1, 12) and one[1] == many[1]
