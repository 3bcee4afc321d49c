"""Allocation through the portal and the API: rules in order, allocated vs unallocated, the ledger rows page
every chart drills down to, and query counts that do not grow with the data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.finops.allocation import allocation_rule_save
from apps.finops.models import AllocationRule, BillingSource
from tests.conftest import auth_header
from tests.finops.conftest import openai_day_row
from tests.finops.test_allocation import book


@pytest.fixture
def booked(in_alpha):
    from apps.inventory.models import Department

    claims = Department.objects.create(name="Claims", code="claims")
    risk = Department.objects.create(name="Risk", code="risk")
    source = BillingSource.objects.create(name="OpenAI", kind="openai")
    rule = allocation_rule_save(
        name="Claims team", match_field="tag", match_key="team", match_value="claims", department=claims
    )
    shared = allocation_rule_save(
        name="Shared rest",
        match_field="tag",
        match_key="team",
        match_value="shared",
        split="even",
        targets=[{"department": claims}, {"department": risk}],
    )
    rows = [openai_day_row(f"2026-11-0{d}", "10.00", tags={"team": "claims"}) for d in range(2, 8)]
    rows += [openai_day_row("2026-11-02", "3.00", tags={"team": "shared"}), openai_day_row("2026-11-02", "1.25")]
    book(source, rows, start="2026-11-02", end="2026-11-08")
    return {"claims": claims, "risk": risk, "rule": rule, "shared": shared}


URL = "/c/alpha/finops/"


def test_allocation_page_shows_allocated_and_unallocated(
    booked, login_as, alpha_manager, django_assert_max_num_queries
):
    client = login_as(alpha_manager)
    with django_assert_max_num_queries(36):
        page = client.get(URL + "allocation/?period=last_30_days", HTTP_HOST="testserver")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Claims team" in body and "Shared rest" in body
    assert "1.25" in body  # unallocated
    assert "Unallocated" in body


def test_ledger_rows_for_a_department_include_its_shared_rows(booked, login_as, alpha_manager):
    client = login_as(alpha_manager)
    page = client.get(URL + f"ledger/?from=2026-11-01&to=2026-11-30&department={booked['risk'].pk}")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert len(rows) == 1 and rows[0].allocation_rule_id == booked["shared"].pk
    assert [s.percent for s in rows[0].shares] == [Decimal(50), Decimal(50)]
    unallocated = client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30&allocated=no").context["rows"]
    assert [r.effective_cost for r in unallocated] == [Decimal("1.250000000000")]


def test_ledger_rows_without_a_department_or_an_asset(booked, login_as, alpha_manager):
    """department=none is what "No department" on a chart opens: rows neither booked to one nor shared out."""
    client = login_as(alpha_manager)
    rows = client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30&department=none").context["rows"]
    assert [r.effective_cost for r in rows] == [Decimal("1.250000000000")]
    shared_or_booked = client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30&asset=none").context["rows"]
    assert len(shared_or_booked) == 8  # no row carries an asset
    page = client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30&department=sales")
    assert "is not an id" in page.content.decode()


def test_ledger_rows_by_resource(in_alpha, login_as, alpha_manager):
    source = BillingSource.objects.create(name="OpenAI", kind="openai")
    book(
        source,
        [
            openai_day_row("2026-11-02", "4.00", resource_id="proj_a"),
            openai_day_row("2026-11-02", "6.00", resource_id="proj_b"),
        ],
        start="2026-11-02",
        end="2026-11-03",
    )
    rows = login_as(alpha_manager).get(URL + "ledger/?from=2026-11-01&to=2026-11-30&resource=proj_b").context["rows"]
    assert [r.effective_cost for r in rows] == [Decimal("6.000000000000")]


def test_ledger_rows_csv_and_constant_queries(booked, login_as, alpha_manager, django_assert_max_num_queries):
    client = login_as(alpha_manager)
    with django_assert_max_num_queries(25):
        client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30")
    response = client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30&format=csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("ChargePeriodStart,")
    assert len(lines) == 1 + 8


def test_a_manager_adds_a_rule_in_the_portal_and_history_follows(
    booked, login_as, alpha_manager, django_capture_on_commit_callbacks
):
    client = login_as(alpha_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL + "allocation/rules/new/",
            {
                "name": "Untagged to risk",
                "match_field": "provider",
                "match_value": "OpenAI",
                "split": "none",
                "department": booked["risk"].pk,
                "enabled": "on",
            },
        )
    assert response.status_code == 302
    rows = client.get(URL + "ledger/?from=2026-11-01&to=2026-11-30&allocated=no").context["rows"]
    assert rows == []


def test_fixed_split_form_errors_are_shown(booked, login_as, alpha_manager):
    client = login_as(alpha_manager)
    response = client.post(
        URL + "allocation/rules/new/",
        {
            "name": "Bad split",
            "match_field": "provider",
            "match_value": "*",
            "split": "fixed",
            "target_0_department": booked["claims"].pk,
            "target_0_percent": "70",
            "target_1_department": booked["risk"].pk,
            "target_1_percent": "20",
        },
    )
    assert response.status_code == 200
    assert "add up to 90" in response.content.decode()
    assert not AllocationRule.objects.filter(name="Bad split").exists()


def test_executives_read_but_do_not_change_rules(booked, login_as, alpha_executive):
    client = login_as(alpha_executive)
    assert client.get(URL + "allocation/").status_code == 200
    assert client.get(URL + "allocation/rules/new/").status_code == 403


def test_api_rules_crud_reorder_and_status(booked, api_key_for, alpha, django_assert_max_num_queries):
    from django.test import Client

    _, secret = api_key_for(alpha, scopes=["read", "write"])
    api = Client(**auth_header(secret))
    base = "/c/alpha/api/v1/"
    with django_assert_max_num_queries(12):
        listed = api.get(base + "allocation-rules/")
    assert [r["name"] for r in listed.json()] == ["Claims team", "Shared rest"]
    created = api.post(
        base + "allocation-rules/",
        {"name": "Model rule", "match_field": "model", "match_value": "gpt-4o*", "department": booked["risk"].pk},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    bad = api.post(
        base + "allocation-rules/",
        {"name": "No target", "match_field": "model", "match_value": "x"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "Choose the department" in bad.content.decode()
    new_id = created.json()["id"]
    reordered = api.post(base + "allocation-rules/reorder/", {"ids": [new_id]}, content_type="application/json")
    assert [r["id"] for r in reordered.json()][0] == new_id
    patched = api.patch(base + f"allocation-rules/{new_id}/", {"enabled": False}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert patched.json()["match_value"] == "gpt-4o*"
    assert api.get(base + "allocation-status/").status_code == 200
    assert api.delete(base + f"allocation-rules/{new_id}/").status_code == 204


def test_other_clients_rule_is_a_404(booked, beta, api_key_for):
    from django.test import Client

    _, secret = api_key_for(beta, scopes=["read"])
    api = Client(**auth_header(secret))
    assert api.get(f"/c/beta/api/v1/allocation-rules/{booked['rule'].pk}/").status_code == 404
